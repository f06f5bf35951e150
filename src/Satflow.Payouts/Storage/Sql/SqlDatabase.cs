using System.Data;
using System.Data.Common;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Satflow.SqlStorage;

/// <summary>Which SQL engine a <see cref="SqlDatabase"/> talks to.</summary>
internal enum SqlDialect
{
    Sqlite,
    Postgres,
}

/// <summary>What kind of failure a <see cref="SqlDatabase"/> reports through its error factory.</summary>
internal enum SqlErrorKind
{
    InvalidConfiguration,
    UnsupportedSchemaVersion,
    BackendFailure,
}

/// <summary>
/// The small ADO.NET layer the webhook and payout stores share (this file is compiled into both libraries): one
/// SQLite connection serialised by a gate, or a PostgreSQL data source whose connections use one schema; every unit
/// of work runs in one transaction; numbered migrations per component are applied once, in order, and a database
/// written by newer code is refused. Statements use <c>@name</c> parameters and SQL both engines accept.
/// </summary>
internal sealed partial class SqlDatabase : IAsyncDisposable
{
    private readonly SqliteConnection? _sqlite;
    private readonly NpgsqlDataSource? _postgres;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Func<SqlErrorKind, string, Exception?, Exception> _error;
    private bool _disposed;

    private SqlDatabase(SqliteConnection? sqlite, NpgsqlDataSource? postgres, Func<SqlErrorKind, string, Exception?, Exception> error)
    {
        _sqlite = sqlite;
        _postgres = postgres;
        _error = error;
    }

    public SqlDialect Dialect => _sqlite is not null ? SqlDialect.Sqlite : SqlDialect.Postgres;

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();

    /// <summary>Opens (creating) a SQLite file in WAL mode with synchronous=FULL.</summary>
    public static async Task<SqlDatabase> OpenSqliteAsync(string path, Func<SqlErrorKind, string, Exception?, Exception> error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw error(SqlErrorKind.InvalidConfiguration, "A SQLite database path is required.", null);
        }

        SqliteConnection? connection = null;
        try
        {
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = full,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                DefaultTimeout = 30,
            }.ToString());
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;";
                await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return new SqlDatabase(connection, null, error);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            throw error(SqlErrorKind.BackendFailure, $"Could not open the SQLite database '{path}': {e.Message}", e);
        }
    }

    /// <summary>Opens a PostgreSQL data source whose connections use <paramref name="schema"/> (created if missing).</summary>
    public static async Task<SqlDatabase> OpenPostgresAsync(string connectionString, string schema, Func<SqlErrorKind, string, Exception?, Exception> error, CancellationToken cancellationToken)
    {
        if (schema is null || !SchemaName().IsMatch(schema))
        {
            throw error(SqlErrorKind.InvalidConfiguration, $"'{schema}' is not a usable PostgreSQL schema name (lower-case letters, digits and '_', at most 63).", null);
        }

        NpgsqlDataSource? dataSource = null;
        try
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            builder.ConnectionStringBuilder.SearchPath = schema;
            dataSource = builder.Build();
            await using (var create = dataSource.CreateCommand($"CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            {
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return new SqlDatabase(null, dataSource, error);
        }
        catch (Exception e) when (e is NpgsqlException or ArgumentException or InvalidOperationException)
        {
            if (dataSource is not null)
            {
                await dataSource.DisposeAsync().ConfigureAwait(false);
            }

            throw error(e is ArgumentException ? SqlErrorKind.InvalidConfiguration : SqlErrorKind.BackendFailure, $"Could not open the PostgreSQL database: {e.Message}", e);
        }
    }

    /// <summary>Runs <paramref name="work"/> in one transaction (committed when it returns normally).</summary>
    public async Task<T> RunAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_sqlite is not null)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await InTransactionAsync(_sqlite, work, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }

        DbConnection? connection = null;
        try
        {
            connection = await _postgres!.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e)
        {
            throw _error(SqlErrorKind.BackendFailure, $"Could not reach PostgreSQL: {e.Message}", e);
        }

        await using (connection.ConfigureAwait(false))
        {
            return await InTransactionAsync(connection, work, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<T> InTransactionAsync<T>(DbConnection connection, Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        DbTransaction transaction;
        try
        {
            transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw _error(SqlErrorKind.BackendFailure, $"Could not start a transaction: {e.Message}", e);
        }

        await using (transaction.ConfigureAwait(false))
        {
            try
            {
                var result = await work(connection, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (DbException e)
            {
                await TryRollbackAsync(transaction).ConfigureAwait(false);
                throw _error(SqlErrorKind.BackendFailure, $"The database failed: {e.Message}", e);
            }
            catch
            {
                await TryRollbackAsync(transaction).ConfigureAwait(false);
                throw;
            }
        }
    }

    private static async Task TryRollbackAsync(DbTransaction transaction)
    {
        try
        {
            await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // The connection is gone; the server rolls back on its own.
        }
        catch (InvalidOperationException)
        {
            // Already completed.
        }
    }

    /// <summary>Creates a command in <paramref name="transaction"/> with <c>@name</c> parameters.</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }

        return command;
    }

    /// <summary>Runs a statement and returns the affected row count.</summary>
    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Applies <paramref name="migrations"/> (index n brings the component from version n to n + 1) that are not yet
    /// recorded, in one transaction; refuses a database whose recorded version is newer than this code knows.
    /// </summary>
    /// <returns>The schema version after migrating.</returns>
    public Task<int> MigrateAsync(string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken) =>
        RunAsync(async (c, t) =>
        {
            if (Dialect == SqlDialect.Postgres)
            {
                await ExecuteAsync(c, t, "SELECT pg_advisory_xact_lock(74657)").ConfigureAwait(false);
            }

            await ExecuteAsync(c, t,
                "CREATE TABLE IF NOT EXISTS satflow_schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))")
                .ConfigureAwait(false);
            await using var read = Command(c, t, "SELECT COALESCE(MAX(version), 0) FROM satflow_schema_migrations WHERE component = @c", ("@c", component));
            var current = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            if (current > migrations.Count)
            {
                throw _error(SqlErrorKind.UnsupportedSchemaVersion, $"The {component} schema is at version {current}, newer than this code's {migrations.Count}; upgrade Satflow.", null);
            }

            for (var v = current; v < migrations.Count; v++)
            {
                await ExecuteAsync(c, t, migrations[v]).ConfigureAwait(false);
                await ExecuteAsync(c, t, "INSERT INTO satflow_schema_migrations (component, version) VALUES (@c, @v)", ("@c", component), ("@v", v + 1)).ConfigureAwait(false);
            }

            return migrations.Count;
        }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_sqlite is not null)
        {
            await _sqlite.DisposeAsync().ConfigureAwait(false);
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync().ConfigureAwait(false);
        }

        _gate.Dispose();
    }
}
