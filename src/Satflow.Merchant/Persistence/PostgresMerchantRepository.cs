using System.Data;
using System.Data.Common;
using Npgsql;

namespace Satflow.Merchant.Persistence;

/// <summary>
/// The PostgreSQL repository, selected by a connection string. All tables live in one schema (default <c>satflow</c>,
/// created if missing); migrations run under a transaction-scoped advisory lock so several servers may start at once.
/// </summary>
public sealed class PostgresMerchantRepository : SqlMerchantRepository
{
    /// <summary>The default schema.</summary>
    public const string DefaultSchema = "satflow";

    private readonly NpgsqlDataSource _dataSource;

    private PostgresMerchantRepository(NpgsqlDataSource dataSource, string schema)
    {
        _dataSource = dataSource;
        Schema = schema;
    }

    /// <summary>The schema holding the tables.</summary>
    public string Schema { get; }

    /// <inheritdoc/>
    private protected override string Provider => "Postgres";

    /// <summary>Opens and migrates the database.</summary>
    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=127.0.0.1;Username=satflow;Database=satflow</c>.</param>
    /// <param name="schema">Schema name: lowercase letters, digits and '_' (at most 63), starting with a letter or '_'.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The repository (it owns its connection pool).</returns>
    public static async Task<PostgresMerchantRepository> OpenAsync(string connectionString, string schema = DefaultSchema, CancellationToken cancellationToken = default)
    {
        if (schema is not { Length: >= 1 and <= 63 } || !(char.IsAsciiLetterLower(schema[0]) || schema[0] == '_')
            || !schema.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration, "A schema name is 1 to 63 lowercase letters, digits or '_', starting with a letter or '_'.");
        }

        NpgsqlDataSource dataSource;
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema };
            dataSource = NpgsqlDataSource.Create(builder);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration, "Invalid PostgreSQL connection string: " + e.Message, e);
        }

        var repository = new PostgresMerchantRepository(dataSource, schema);
        try
        {
            await repository.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return repository;
    }

    /// <inheritdoc/>
    private protected override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
        => await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    private protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
        => await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    private protected override async Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockForMigrationAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"CREATE SCHEMA IF NOT EXISTS \"{Schema}\"";
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    private protected override async Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "SELECT pg_advisory_xact_lock(hashtext(@s))";
        var p = cmd.CreateParameter();
        p.ParameterName = "@s";
        p.Value = "satflow-merchant-migrations:" + Schema;
        cmd.Parameters.Add(p);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    private protected override bool IsUniqueViolation(DbException exception)
        => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <inheritdoc/>
    private protected override bool IsForeignKeyViolation(DbException exception)
        => exception is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation };

    /// <inheritdoc/>
    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
