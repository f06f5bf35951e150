using System.Globalization;
using BenchmarkDotNet.Attributes;
using Npgsql;
using Satflow.Storage;
using Satflow.Storage.Postgres;
using Satflow.Storage.Sqlite;

namespace Satflow.Benchmarks.Storage;

/// <summary>
/// Shared shape of the key-value store benchmarks: a durable single-key write of a 512-byte value (about a channel
/// state record), and a 10-operation batch (channel state plus related records persisted in one step).
/// One invocation = one durable commit, so ops/s = 1 s / mean.
/// </summary>
public abstract class KeyValueStoreBenchmarks
{
    private readonly string[] _keys = Enumerable.Range(0, 1000).Select(i => "chan" + i.ToString("D4", CultureInfo.InvariantCulture)).ToArray();
    private readonly byte[] _value = new byte[512];
    private IKeyValueStore _store = null!;
    private int _next;

    [GlobalSetup]
    public async Task Setup()
    {
        new Random(7).NextBytes(_value);
        _store = await OpenAsync();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _store.DisposeAsync();
        await CleanupAsync();
    }

    [Benchmark]
    public ValueTask DurableSingleWrite() => _store.WriteAsync("channels", "state", _keys[_next++ % _keys.Length], _value);

    [Benchmark]
    public ValueTask DurableBatchOf10()
    {
        var ops = new KvOperation[10];
        for (var i = 0; i < ops.Length; i++)
        {
            ops[i] = KvOperation.Write("channels", "batch", _keys[_next++ % _keys.Length], _value);
        }

        return _store.WriteBatchAsync(ops);
    }

    protected abstract Task<IKeyValueStore> OpenAsync();

    protected virtual Task CleanupAsync() => Task.CompletedTask;
}

/// <summary>SQLite, WAL + synchronous=FULL: every commit fsyncs.</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class SqliteStorageBenchmarks : KeyValueStoreBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "satflow-kvbench-" + Guid.NewGuid().ToString("N"));

    protected override async Task<IKeyValueStore> OpenAsync() =>
        await SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = _directory });

    protected override Task CleanupAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>PostgreSQL named by SATFLOW_TEST_POSTGRES (a commit waits for the server's WAL flush).</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class PostgresStorageBenchmarks : KeyValueStoreBenchmarks
{
    private readonly string _schema = "kvbench_" + Guid.NewGuid().ToString("N")[..12];
    private string _connectionString = "";

    protected override async Task<IKeyValueStore> OpenAsync()
    {
        _connectionString = Environment.GetEnvironmentVariable("SATFLOW_TEST_POSTGRES")
            ?? throw new InvalidOperationException("Set SATFLOW_TEST_POSTGRES to a PostgreSQL connection string to run the PostgreSQL storage benchmarks.");
        return await PostgresKeyValueStore.OpenAsync(_connectionString, new PostgresKeyValueStoreOptions { Schema = _schema });
    }

    protected override async Task CleanupAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var drop = dataSource.CreateCommand($"DROP SCHEMA \"{_schema}\" CASCADE");
        await drop.ExecuteNonQueryAsync();
    }
}
