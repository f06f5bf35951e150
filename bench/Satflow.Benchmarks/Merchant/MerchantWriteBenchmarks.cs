using BenchmarkDotNet.Attributes;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Persistence;

namespace Satflow.Benchmarks.Merchant;

/// <summary>
/// The merchant repository's write path on a SQLite file (WAL, synchronous FULL): 64 idempotency-key reservations —
/// the first write of every API POST — issued one after another (each its own durable commit, as every write was before
/// group commit) and issued concurrently (group commit: one transaction and one sync for the whole batch).
/// One invocation = 64 durable writes.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
[MemoryDiagnoser]
public class MerchantWriteBenchmarks
{
    private const int Writes = 64;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "satflow-bench-merchant-" + Guid.NewGuid().ToString("N")[..8]);
    private SqliteMerchantRepository _repo = null!;
    private long _next;

    [GlobalSetup]
    public async Task Setup() => _repo = await SqliteMerchantRepository.OpenInDataDirectoryAsync(_dir);

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _repo.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private IdempotencyRecord NextRecord() => new("bench", "k" + Interlocked.Increment(ref _next), "hash", null, DateTimeOffset.UnixEpoch);

    [Benchmark(Baseline = true, OperationsPerInvoke = Writes)]
    public async Task OneAfterAnother()
    {
        for (var i = 0; i < Writes; i++)
        {
            await _repo.TryReserveIdempotencyKeyAsync(NextRecord());
        }
    }

    [Benchmark(OperationsPerInvoke = Writes)]
    public Task Concurrent() => Task.WhenAll(Enumerable.Range(0, Writes).Select(_ => _repo.TryReserveIdempotencyKeyAsync(NextRecord())));
}
