using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Satflow.Merchant.Persistence;

/// <summary>
/// The default repository: one SQLite file (WAL journal, foreign keys on). Writes use <c>BEGIN IMMEDIATE</c>
/// transactions, so concurrent writers serialise instead of failing mid-way.
/// </summary>
public sealed class SqliteMerchantRepository : SqlMerchantRepository
{
    /// <summary>The file name used inside a data directory.</summary>
    public const string DefaultFileName = "merchant.db";

    private readonly string _connectionString;

    private SqliteMerchantRepository(string connectionString)
    {
        _connectionString = connectionString;
    }

    /// <summary>The database file path.</summary>
    public string Path { get; private init; } = "";

    /// <inheritdoc/>
    private protected override string Provider => "Sqlite";

    /// <summary>Opens (creating and migrating) <c>merchant.db</c> in a data directory.</summary>
    /// <param name="dataDirectory">The directory (created if missing).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The repository.</returns>
    public static Task<SqliteMerchantRepository> OpenInDataDirectoryAsync(string dataDirectory, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(dataDirectory))
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration, "A data directory is required.");
        }

        try
        {
            Directory.CreateDirectory(dataDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration, $"Cannot create the data directory {dataDirectory}: {e.Message}", e);
        }

        return OpenFileAsync(System.IO.Path.Combine(dataDirectory, DefaultFileName), cancellationToken);
    }

    /// <summary>Opens (creating and migrating) a database file.</summary>
    /// <param name="path">The file path.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The repository.</returns>
    public static async Task<SqliteMerchantRepository> OpenFileAsync(string path, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration, "A database path is required.");
        }

        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = 30,
        };
        var repository = new SqliteMerchantRepository(builder.ToString()) { Path = path };
        try
        {
            await using (var c = await repository.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
            {
                await using var wal = c.CreateCommand();
                wal.CommandText = "PRAGMA journal_mode = WAL";
                await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await repository.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e)
        {
            throw new MerchantException(MerchantErrorReason.StorageFailure, $"Cannot open {path}: {e.Message}", e);
        }

        return repository;
    }

    /// <inheritdoc/>
    private protected override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    private protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
        => Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    /// <inheritdoc/>
    private protected override bool IsUniqueViolation(DbException exception)
        => exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };

    /// <inheritdoc/>
    private protected override bool IsForeignKeyViolation(DbException exception)
        => exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 787 };

    /// <inheritdoc/>
    private protected override bool GroupCommit => true;

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await StopWriterAsync().ConfigureAwait(false);
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }
}
