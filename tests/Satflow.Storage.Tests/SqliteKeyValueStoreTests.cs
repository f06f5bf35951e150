using Microsoft.Data.Sqlite;
using Satflow.Storage.Sqlite;

namespace Satflow.Storage.Tests;

public sealed class SqliteKeyValueStoreTests : DurableKeyValueStoreConformanceTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "satflow-kv-" + Guid.NewGuid().ToString("N"));

    private SqliteKeyValueStoreOptions Options => new() { DataDirectory = _directory, LockTimeoutSeconds = 1 };

    private string DatabasePath => Path.Combine(_directory, "kv.sqlite3");

    [Fact]
    public async Task Store_runs_in_wal_mode_with_full_sync_and_an_exclusive_lock()
    {
        var store = (SqliteKeyValueStore)Store;
        Assert.Equal(DatabasePath, store.DatabasePath);
        Assert.Equal("wal", await store.ReadPragmaAsync("journal_mode"));
        Assert.Equal("2", await store.ReadPragmaAsync("synchronous"));
        Assert.Equal("exclusive", await store.ReadPragmaAsync("locking_mode"));
    }

    [Fact]
    public async Task Schema_is_versioned_with_a_composite_primary_key()
    {
        await Store.WriteAsync("p", "s", "k", new byte[] { 1 });
        await Store.DisposeAsync();

        using var raw = OpenRaw();
        Assert.Equal(1L, Scalar(raw, "SELECT version FROM schema_version WHERE id = 1"));
        Assert.Equal(1L, Scalar(raw, "SELECT count(*) FROM schema_version"));
        Assert.Equal(3L, Scalar(raw, "SELECT count(*) FROM pragma_table_info('kv') WHERE pk > 0"));
        Assert.Equal(1L, Scalar(raw, "SELECT count(*) FROM kv"));
        Assert.Equal("wal", Scalar(raw, "PRAGMA journal_mode"));
    }

    [Fact]
    public async Task A_newer_schema_version_is_refused_and_left_untouched()
    {
        await Store.WriteAsync("p", "", "k", new byte[] { 1 });
        await Store.DisposeAsync();
        using (var raw = OpenRaw())
        {
            Scalar(raw, "UPDATE schema_version SET version = 2");
        }

        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => SqliteKeyValueStore.OpenAsync(Options));
        Assert.Equal(KeyValueStoreErrorReason.UnsupportedSchemaVersion, error.Reason);
        Assert.Contains("schema version 2", error.Message, StringComparison.Ordinal);

        using var again = OpenRaw();
        Assert.Equal(2L, Scalar(again, "SELECT version FROM schema_version"));
        Assert.Equal(1L, Scalar(again, "SELECT count(*) FROM kv"));
    }

    [Fact]
    public async Task A_second_store_on_the_same_directory_is_refused_while_the_first_is_open()
    {
        await Store.WriteAsync("p", "", "k", new byte[] { 1 });
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => SqliteKeyValueStore.OpenAsync(Options));
        Assert.Equal(KeyValueStoreErrorReason.StoreLocked, error.Reason);

        // The first store is unaffected, and once it closes the directory can be opened again.
        Assert.Equal(new byte[] { 1 }, (await Store.ReadAsync("p", "", "k"))!.Value.ToArray());
        await Store.DisposeAsync();
        Store = await SqliteKeyValueStore.OpenAsync(Options);
        Assert.Equal(["k"], await Store.ListAsync("p", ""));
    }

    [Fact]
    public async Task A_batch_that_fails_inside_the_database_is_rolled_back()
    {
        await Store.WriteAsync("chan", "", "state", new byte[] { 1 });
        await Store.DisposeAsync();
        using (var raw = OpenRaw())
        {
            Scalar(raw, "CREATE TRIGGER inject_failure BEFORE INSERT ON kv WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
        }

        Store = await SqliteKeyValueStore.OpenAsync(Options);
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => Store.WriteBatchAsync(
        [
            KvOperation.Write("chan", "", "state", new byte[] { 2 }),
            KvOperation.Write("chan", "", "fresh", new byte[] { 3 }),
            KvOperation.Write("chan", "", "boom", new byte[] { 4 }),
        ]).AsTask());
        Assert.Equal(KeyValueStoreErrorReason.BackendFailure, error.Reason);
        Assert.IsType<SqliteException>(error.InnerException);

        Assert.Equal(["state"], await Store.ListAsync("chan", ""));
        Assert.Equal(new byte[] { 1 }, (await Store.ReadAsync("chan", "", "state"))!.Value.ToArray());
        await Store.WriteBatchAsync([KvOperation.Write("chan", "", "fresh", new byte[] { 5 })]);
        Assert.Equal(["fresh", "state"], await Store.ListAsync("chan", ""));
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_gives_a_backend_failure()
    {
        var dir = _directory + "-garbage";
        Directory.CreateDirectory(dir);
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(dir, "kv.sqlite3"), RandomBytes(8192, 5));
            var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = dir }));
            Assert.Equal(KeyValueStoreErrorReason.BackendFailure, error.Reason);
            Assert.IsType<SqliteException>(error.InnerException);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("", "kv.sqlite3", 2)]
    [InlineData("   ", "kv.sqlite3", 2)]
    [InlineData("DIR", "", 2)]
    [InlineData("DIR", "../escape.sqlite3", 2)]
    [InlineData("DIR", "..", 2)]
    [InlineData("DIR", "kv.sqlite3", 0)]
    public async Task Unusable_options_are_rejected(string directory, string fileName, int lockTimeout)
    {
        var options = new SqliteKeyValueStoreOptions
        {
            DataDirectory = directory.Replace("DIR", _directory + "-opts", StringComparison.Ordinal),
            FileName = fileName,
            LockTimeoutSeconds = lockTimeout,
        };
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => SqliteKeyValueStore.OpenAsync(options));
        Assert.Equal(KeyValueStoreErrorReason.InvalidConfiguration, error.Reason);
        Assert.False(Directory.Exists(_directory + "-opts"));
    }

    protected override async Task<IKeyValueStore> CreateStoreAsync() => await SqliteKeyValueStore.OpenAsync(Options);

    protected override async Task<IKeyValueStore> ReopenAsync() => await SqliteKeyValueStore.OpenAsync(Options);

    protected override Task CleanupAsync()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        return Task.CompletedTask;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private SqliteConnection OpenRaw()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
