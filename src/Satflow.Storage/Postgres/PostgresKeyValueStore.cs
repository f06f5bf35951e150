using System.Data.Common;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Satflow.Storage.Postgres;

/// <summary>
/// A durable <see cref="IKeyValueStore"/> in one PostgreSQL table, through an <see cref="NpgsqlDataSource"/> (Npgsql 10).
/// </summary>
/// <remarks>
/// <para>Durability: every write, remove and batch is one transaction that runs <c>SET LOCAL synchronous_commit = on</c>,
/// so the call returns only after the server has flushed the commit to its WAL (given a server with <c>fsync=on</c>, the
/// default; the server's administrator owns that setting). A batch is sent in one round trip and committed once.</para>
/// <para>Schema: table <c>&lt;table&gt;</c> with the composite primary key (primary_namespace, secondary_namespace, key),
/// text columns in the <c>"C"</c> collation so listing order is ordinal, a <c>bytea</c> value column; and
/// <c>&lt;table&gt;_schema_version</c> holding one row with the version. Opening migrates under a transaction-scoped
/// advisory lock, so several processes may open concurrently; a newer schema version is refused.</para>
/// <para>Writes use <c>INSERT ... ON CONFLICT DO UPDATE</c>. No threads are started; connections come from the data source's pool.</para>
/// </remarks>
public sealed class PostgresKeyValueStore : IKeyValueStore
{
    /// <summary>The schema version this code writes and understands.</summary>
    public const int CurrentSchemaVersion = 1;

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly string _qualifiedTable;
    private readonly string _readSql;
    private readonly string _writeSql;
    private readonly string _removeSql;
    private readonly string _listSql;
    private int _disposed;

    private PostgresKeyValueStore(NpgsqlDataSource dataSource, bool ownsDataSource, PostgresKeyValueStoreOptions options)
    {
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        Options = options;
        _qualifiedTable = $"\"{options.Schema}\".\"{options.Table}\"";
        _readSql = $"SELECT value FROM {_qualifiedTable} WHERE primary_namespace = $1 AND secondary_namespace = $2 AND key = $3";
        _writeSql = $"""
            INSERT INTO {_qualifiedTable} (primary_namespace, secondary_namespace, key, value) VALUES ($1, $2, $3, $4)
            ON CONFLICT (primary_namespace, secondary_namespace, key) DO UPDATE SET value = EXCLUDED.value
            """;
        _removeSql = $"DELETE FROM {_qualifiedTable} WHERE primary_namespace = $1 AND secondary_namespace = $2 AND key = $3";
        _listSql = $"SELECT key FROM {_qualifiedTable} WHERE primary_namespace = $1 AND secondary_namespace = $2 ORDER BY key";
    }

    /// <summary>The schema and table this store uses.</summary>
    public PostgresKeyValueStoreOptions Options { get; }

    /// <summary>Opens the store on a data source the caller owns (it is not disposed with the store), migrating the schema.</summary>
    /// <param name="dataSource">The Npgsql data source.</param>
    /// <param name="options">Schema and table names; defaults when null.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="KeyValueStoreException">Bad names, a newer schema version, or the server failed.</exception>
    public static Task<PostgresKeyValueStore> OpenAsync(NpgsqlDataSource dataSource, PostgresKeyValueStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (dataSource is null)
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.InvalidConfiguration, "A PostgreSQL data source is required.");
        }

        return OpenCoreAsync(dataSource, ownsDataSource: false, options ?? new PostgresKeyValueStoreOptions(), cancellationToken);
    }

    /// <summary>Opens the store on a new data source built from a connection string; the store owns and disposes it.</summary>
    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=127.0.0.1;Port=5432;Username=satflow;Database=satflow</c>.</param>
    /// <param name="options">Schema and table names; defaults when null.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="KeyValueStoreException">A bad connection string or names, a newer schema version, or the server failed.</exception>
    public static async Task<PostgresKeyValueStore> OpenAsync(string connectionString, PostgresKeyValueStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        NpgsqlDataSource dataSource;
        try
        {
            dataSource = NpgsqlDataSource.Create(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.InvalidConfiguration, $"Invalid PostgreSQL connection string: {e.Message}", e);
        }

        try
        {
            return await OpenCoreAsync(dataSource, ownsDataSource: true, options ?? new PostgresKeyValueStoreOptions(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        ThrowIfDisposed();
        try
        {
            await using var command = _dataSource.CreateCommand(_readSql);
            AddKey(command.Parameters, primaryNamespace, secondaryNamespace, key);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            return await reader.GetFieldValueAsync<byte[]>(0, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw Failure(e);
        }
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        return new ValueTask(ExecuteInTransactionAsync(batch => batch.BatchCommands.Add(WriteCommand(primaryNamespace, secondaryNamespace, key, value)), cancellationToken));
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        NpgsqlBatchCommand? remove = null;
        await ExecuteInTransactionAsync(
            batch =>
            {
                remove = RemoveCommand(primaryNamespace, secondaryNamespace, key);
                batch.BatchCommands.Add(remove);
            },
            cancellationToken).ConfigureAwait(false);
        return remove!.RecordsAffected > 0;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> ListAsync(string primaryNamespace, string secondaryNamespace, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.ValidateNamespaces(primaryNamespace, secondaryNamespace);
        ThrowIfDisposed();
        try
        {
            await using var command = _dataSource.CreateCommand(_listSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = primaryNamespace, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = secondaryNamespace, NpgsqlDbType = NpgsqlDbType.Text });
            var keys = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(reader.GetString(0));
            }

            // The "C" collation already orders by bytes; sorting here keeps the contract independent of the server.
            keys.Sort(StringComparer.Ordinal);
            return keys;
        }
        catch (DbException e)
        {
            throw Failure(e);
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteBatchAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.ValidateBatch(operations);
        if (operations.Count == 0)
        {
            return;
        }

        await ExecuteInTransactionAsync(
            batch =>
            {
                foreach (var op in operations)
                {
                    batch.BatchCommands.Add(op.Kind == KvOperationKind.Write
                        ? WriteCommand(op.PrimaryNamespace, op.SecondaryNamespace, op.Key, op.Value)
                        : RemoveCommand(op.PrimaryNamespace, op.SecondaryNamespace, op.Key));
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks the store disposed and disposes the data source if the store created it. Safe to call twice.</summary>
    /// <returns>A task that completes when the owned data source is disposed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<PostgresKeyValueStore> OpenCoreAsync(NpgsqlDataSource dataSource, bool ownsDataSource, PostgresKeyValueStoreOptions options, CancellationToken cancellationToken)
    {
        ValidateIdentifier(options.Schema, 63, "schema");
        ValidateIdentifier(options.Table, 48, "table");
        var store = new PostgresKeyValueStore(dataSource, ownsDataSource, options);
        try
        {
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw store.Failure(e);
        }

        return store;
    }

    private static void ValidateIdentifier(string? name, int maxLength, string what)
    {
        var ok = !string.IsNullOrEmpty(name) && name.Length <= maxLength && name[0] is (>= 'a' and <= 'z') or '_';
        if (ok)
        {
            foreach (var c in name!)
            {
                ok &= c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_';
            }
        }

        if (!ok)
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.InvalidConfiguration,
                $"Invalid PostgreSQL {what} name \"{name}\": use [a-z_][a-z0-9_]*, at most {maxLength} characters.");
        }
    }

    private static void AddKey(NpgsqlParameterCollection parameters, string primary, string secondary, string key)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = primary, NpgsqlDbType = NpgsqlDbType.Text });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = secondary, NpgsqlDbType = NpgsqlDbType.Text });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = key, NpgsqlDbType = NpgsqlDbType.Text });
    }

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var schema = $"\"{Options.Schema}\"";
        var versionTable = $"\"{Options.Schema}\".\"{Options.Table}_schema_version\"";
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock(hashtext('satflow.kv:' || $1));
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"{Options.Schema}.{Options.Table}", NpgsqlDbType = NpgsqlDbType.Text });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var command = new NpgsqlCommand(
            $"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {versionTable} (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);
            """,
            connection,
            transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int version;
        await using (var command = new NpgsqlCommand($"SELECT version FROM {versionTable} WHERE id = 1", connection, transaction))
        {
            var found = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            version = found is null or DBNull ? 0 : Convert.ToInt32(found, CultureInfo.InvariantCulture);
        }

        if (version > CurrentSchemaVersion || version < 0)
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.UnsupportedSchemaVersion,
                $"PostgreSQL table {_qualifiedTable} has schema version {version}; this build understands up to {CurrentSchemaVersion}. Upgrade Satflow.");
        }

        // Migrations[n] brings the schema from version n to n + 1.
        string[] migrations =
        [
            $"""
            CREATE TABLE {_qualifiedTable} (
                primary_namespace   text COLLATE "C" NOT NULL,
                secondary_namespace text COLLATE "C" NOT NULL,
                key                 text COLLATE "C" NOT NULL,
                value               bytea NOT NULL,
                PRIMARY KEY (primary_namespace, secondary_namespace, key)
            );
            """,
        ];

        for (var v = version; v < CurrentSchemaVersion; v++)
        {
            await using var command = new NpgsqlCommand(migrations[v], connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (version != CurrentSchemaVersion)
        {
            await using var command = new NpgsqlCommand(
                $"INSERT INTO {versionTable} (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
                connection,
                transaction);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = CurrentSchemaVersion });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private NpgsqlBatchCommand WriteCommand(string primary, string secondary, string key, ReadOnlyMemory<byte> value)
    {
        var command = new NpgsqlBatchCommand(_writeSql);
        AddKey(command.Parameters, primary, secondary, key);
        command.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Bytea });
        return command;
    }

    private NpgsqlBatchCommand RemoveCommand(string primary, string secondary, string key)
    {
        var command = new NpgsqlBatchCommand(_removeSql);
        AddKey(command.Parameters, primary, secondary, key);
        return command;
    }

    private async Task ExecuteInTransactionAsync(Action<NpgsqlBatch> fill, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var batch = new NpgsqlBatch(connection, transaction);
            // Whatever the session or database default, this transaction's commit waits for the WAL flush.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL synchronous_commit = on"));
            fill(batch);
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw Failure(e);
        }
    }

    private KeyValueStoreException Failure(DbException e) =>
        new(KeyValueStoreErrorReason.BackendFailure, $"PostgreSQL store {_qualifiedTable} failed: {e.Message}", e);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
}
