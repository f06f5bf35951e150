using System.Data.Common;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace Satflow.Storage.Sqlite;

/// <summary>
/// A durable <see cref="IKeyValueStore"/> in one SQLite file (Microsoft.Data.Sqlite).
/// </summary>
/// <remarks>
/// <para>Durability: the database runs in WAL mode with <c>synchronous=FULL</c>, so every commit fsyncs the WAL before
/// the call returns; a completed write survives a power loss, not only a process crash (<c>NORMAL</c> would only
/// survive a process crash until the next checkpoint). Every write is one SQLite transaction; a batch is one
/// <c>BEGIN IMMEDIATE</c> transaction.</para>
/// <para>Exclusivity: the file is opened with <c>locking_mode=EXCLUSIVE</c> and the lock is taken at open, so a second
/// node process (or a second store in this process) on the same data directory fails with
/// <see cref="KeyValueStoreErrorReason.StoreLocked"/> instead of sharing channel state.</para>
/// <para>Schema: table <c>schema_version</c> holds one row with the version; table <c>kv</c> has the composite
/// primary key (primary_namespace, secondary_namespace, key). Opening applies pending migrations in one
/// transaction and refuses a database written by a newer version.</para>
/// <para>Concurrency: one connection serialises all calls (SQLite has a single writer anyway). No threads are started.</para>
/// </remarks>
public sealed class SqliteKeyValueStore : IKeyValueStore
{
    /// <summary>The schema version this code writes and understands.</summary>
    public const int CurrentSchemaVersion = 1;

    // Migrations[n] brings the schema from version n to n + 1.
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE kv (
            primary_namespace   TEXT NOT NULL,
            secondary_namespace TEXT NOT NULL,
            key                 TEXT NOT NULL,
            value               BLOB NOT NULL,
            PRIMARY KEY (primary_namespace, secondary_namespace, key)
        ) WITHOUT ROWID;
        """,
    ];

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SqliteCommand _read;
    private readonly SqliteCommand _write;
    private readonly SqliteCommand _remove;
    private readonly SqliteCommand _list;
    private bool _disposed;

    private SqliteKeyValueStore(SqliteConnection connection, string databasePath)
    {
        _connection = connection;
        DatabasePath = databasePath;
        _read = Prepare("SELECT value FROM kv WHERE primary_namespace = $p AND secondary_namespace = $s AND key = $k", withKey: true, withValue: false);
        _write = Prepare(
            """
            INSERT INTO kv (primary_namespace, secondary_namespace, key, value) VALUES ($p, $s, $k, $v)
            ON CONFLICT (primary_namespace, secondary_namespace, key) DO UPDATE SET value = excluded.value
            """,
            withKey: true,
            withValue: true);
        _remove = Prepare("DELETE FROM kv WHERE primary_namespace = $p AND secondary_namespace = $s AND key = $k", withKey: true, withValue: false);
        _list = Prepare("SELECT key FROM kv WHERE primary_namespace = $p AND secondary_namespace = $s ORDER BY key", withKey: false, withValue: false);
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Opens (creating if needed) the store in <see cref="SqliteKeyValueStoreOptions.DataDirectory"/>, migrating its schema.</summary>
    /// <param name="options">Where the file lives.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The open store; dispose it to release the file.</returns>
    /// <exception cref="KeyValueStoreException">Bad options, the file is held by another store, the schema is newer than
    /// <see cref="CurrentSchemaVersion"/>, or SQLite/the file system failed.</exception>
    public static Task<SqliteKeyValueStore> OpenAsync(SqliteKeyValueStoreOptions options, CancellationToken cancellationToken = default)
    {
        if (options is null || string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.InvalidConfiguration, "SQLite store options need a data directory.");
        }

        if (string.IsNullOrWhiteSpace(options.FileName) || options.FileName.IndexOfAny(['/', '\\']) >= 0 || options.FileName is "." or "..")
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.InvalidConfiguration, $"SQLite file name \"{options.FileName}\" must be a plain file name.");
        }

        if (options.LockTimeoutSeconds < 1)
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.InvalidConfiguration, "SQLite lock timeout must be at least 1 second.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        string path;
        try
        {
            Directory.CreateDirectory(options.DataDirectory);
            path = Path.GetFullPath(Path.Combine(options.DataDirectory, options.FileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.BackendFailure, $"Cannot use data directory \"{options.DataDirectory}\": {e.Message}", e);
        }

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // A pooled connection would keep the file (and its exclusive lock) open after Dispose.
            Pooling = false,
            DefaultTimeout = options.LockTimeoutSeconds,
        }.ToString();

        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            ExecutePragma(connection, "locking_mode", "EXCLUSIVE");
            var mode = ExecutePragma(connection, "journal_mode", "WAL");
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new KeyValueStoreException(KeyValueStoreErrorReason.BackendFailure, $"SQLite refused WAL journal mode for \"{path}\" (got \"{mode}\").");
            }

            ExecutePragma(connection, "synchronous", "FULL");
            ExecutePragma(connection, "foreign_keys", "ON");
            Migrate(connection, path);
            return Task.FromResult(new SqliteKeyValueStore(connection, path));
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6)
        {
            connection.Dispose();
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.StoreLocked,
                $"The SQLite store \"{path}\" is open in another process or store; only one may use a data directory at a time.",
                e);
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new KeyValueStoreException(KeyValueStoreErrorReason.BackendFailure, $"Cannot open SQLite store \"{path}\": {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        return RunAsync<ReadOnlyMemory<byte>?>(
            () =>
            {
                SetKey(_read, primaryNamespace, secondaryNamespace, key);
                using var reader = _read.ExecuteReader();
                return reader.Read() ? reader.GetFieldValue<byte[]>(0) : (ReadOnlyMemory<byte>?)null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        var bytes = AsArray(value);
        await RunAsync(
            () =>
            {
                SetKey(_write, primaryNamespace, secondaryNamespace, key);
                _write.Parameters[3].Value = bytes;
                return _write.ExecuteNonQuery();
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        return RunAsync(
            () =>
            {
                SetKey(_remove, primaryNamespace, secondaryNamespace, key);
                return _remove.ExecuteNonQuery() > 0;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> ListAsync(string primaryNamespace, string secondaryNamespace, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.ValidateNamespaces(primaryNamespace, secondaryNamespace);
        return RunAsync<IReadOnlyList<string>>(
            () =>
            {
                _list.Parameters[0].Value = primaryNamespace;
                _list.Parameters[1].Value = secondaryNamespace;
                var keys = new List<string>();
                using var reader = _list.ExecuteReader();
                while (reader.Read())
                {
                    keys.Add(reader.GetString(0));
                }

                // The column's BINARY collation is byte order, which is ordinal for the allowed ASCII alphabet; sort anyway
                // so the contract does not hinge on it.
                keys.Sort(StringComparer.Ordinal);
                return keys;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask WriteBatchAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.ValidateBatch(operations);
        if (operations.Count == 0)
        {
            return;
        }

        var values = new byte[operations.Count][];
        for (var i = 0; i < operations.Count; i++)
        {
            values[i] = operations[i].Kind == KvOperationKind.Write ? AsArray(operations[i].Value) : [];
        }

        await RunAsync(
            () =>
            {
                using var transaction = _connection.BeginTransaction(deferred: false);
                _write.Transaction = transaction;
                _remove.Transaction = transaction;
                try
                {
                    for (var i = 0; i < operations.Count; i++)
                    {
                        var op = operations[i];
                        if (op.Kind == KvOperationKind.Write)
                        {
                            SetKey(_write, op.PrimaryNamespace, op.SecondaryNamespace, op.Key);
                            _write.Parameters[3].Value = values[i];
                            _write.ExecuteNonQuery();
                        }
                        else
                        {
                            SetKey(_remove, op.PrimaryNamespace, op.SecondaryNamespace, op.Key);
                            _remove.ExecuteNonQuery();
                        }
                    }

                    transaction.Commit();
                }
                finally
                {
                    _write.Transaction = null;
                    _remove.Transaction = null;
                }

                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the database file and releases its lock. Safe to call twice.</summary>
    /// <returns>A task that completes when the file is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _read.Dispose();
            _write.Dispose();
            _remove.Dispose();
            _list.Dispose();
            _connection.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reads a PRAGMA of the live connection (tests check durability settings with it).</summary>
    internal async ValueTask<string?> ReadPragmaAsync(string name) =>
        await RunAsync(() => ExecutePragma(_connection, name, null), CancellationToken.None).ConfigureAwait(false);

    private static string? ExecutePragma(SqliteConnection connection, string name, string? value)
    {
        using var command = connection.CreateCommand();
        command.CommandText = value is null ? $"PRAGMA {name};" : $"PRAGMA {name} = {value};";
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static void Migrate(SqliteConnection connection, string path)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);";
        command.ExecuteNonQuery();
        command.CommandText = "SELECT version FROM schema_version WHERE id = 1;";
        var found = command.ExecuteScalar();
        var version = found is null or DBNull ? 0 : Convert.ToInt32(found, CultureInfo.InvariantCulture);
        if (version > CurrentSchemaVersion || version < 0)
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.UnsupportedSchemaVersion,
                $"SQLite store \"{path}\" has schema version {version}; this build understands up to {CurrentSchemaVersion}. Upgrade Satflow.");
        }

        for (var v = version; v < CurrentSchemaVersion; v++)
        {
            command.CommandText = Migrations[v];
            command.ExecuteNonQuery();
        }

        if (version != CurrentSchemaVersion)
        {
            command.CommandText = "INSERT INTO schema_version (id, version) VALUES (1, $v) ON CONFLICT (id) DO UPDATE SET version = excluded.version;";
            command.Parameters.AddWithValue("$v", CurrentSchemaVersion);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private static void SetKey(SqliteCommand command, string primary, string secondary, string key)
    {
        command.Parameters[0].Value = primary;
        command.Parameters[1].Value = secondary;
        command.Parameters[2].Value = key;
    }

    private static byte[] AsArray(ReadOnlyMemory<byte> value) =>
        MemoryMarshal.TryGetArray(value, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : value.ToArray();

    private SqliteCommand Prepare(string sql, bool withKey, bool withValue)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.Add("$p", SqliteType.Text);
        command.Parameters.Add("$s", SqliteType.Text);
        if (withKey)
        {
            command.Parameters.Add("$k", SqliteType.Text);
        }

        if (withValue)
        {
            command.Parameters.Add("$v", SqliteType.Blob);
        }

        return command;
    }

    private async ValueTask<T> RunAsync<T>(Func<T> action, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            return action();
        }
        catch (DbException e)
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.BackendFailure, $"SQLite store \"{DatabasePath}\" failed: {e.Message}", e);
        }
        finally
        {
            _gate.Release();
        }
    }
}
