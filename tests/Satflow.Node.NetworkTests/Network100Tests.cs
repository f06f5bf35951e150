using System.Diagnostics;
using System.Globalization;
using NBitcoin;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Xunit.Abstractions;

namespace Satflow.Node.NetworkTests;

/// <summary>
/// 100 real nodes on loopback TCP and one devnet, a seeded random topology with a heavy-tailed degree distribution,
/// 1,000 random payments. Run alone with <c>dotnet test tests/Satflow.Node.NetworkTests --filter Category=Network100</c>;
/// replay a run with <c>SATFLOW_NET_SEED=&lt;seed&gt;</c>.
/// </summary>
public sealed class Network100Tests(ITestOutputHelper output)
{
    private const int NodeCount = 100;
    private const int PaymentCount = 1_000;
    private const int Concurrency = 10;

    [Fact]
    [Trait("Category", "Network100")]
    public async Task A_hundred_node_network_completes_a_thousand_random_payments()
    {
        var seed = Environment.GetEnvironmentVariable("SATFLOW_NET_SEED") is { Length: > 0 } text
            ? int.Parse(text, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        void Log(string line)
        {
            output.WriteLine(line);
            Console.WriteLine("[network100] " + line);
        }
        Log($"seed {seed} (replay: SATFLOW_NET_SEED={seed})");
        var random = new Random(seed);
        var total = Stopwatch.StartNew();

        // Two channels per new node (preferential attachment): ~200 channels, a few hubs, most nodes with 2-4.
        var specs = RandomTopology.PreferentialAttachment(NodeCount, 2, Money.Satoshis(1_000_000), Money.Satoshis(5_000_000), random);
        var degrees = Enumerable.Range(0, NodeCount).Select(i => specs.Count(s => s.Funder == i || s.Fundee == i)).ToArray();
        Log($"{specs.Count} channels; degree min {degrees.Min()}, median {degrees.Order().ElementAt(NodeCount / 2)}, max {degrees.Max()}");

        // The host signs (AutoFlush off, every node flushed every 10 ms): concurrent payments crossing the same channel
        // share commitments, as a node host is meant to run it.
        await using var network = await LoopbackNetwork.CreateAsync(NodeCount, new LoopbackNetworkOptions
        {
            Node = new NodeOptions { AutoFlush = false, MinimumDepth = 3 },
            Progress = Log,
        });
        using var stopFlushing = new CancellationTokenSource();
        var flushing = network.FlushLoopAsync(TimeSpan.FromMilliseconds(10), stopFlushing.Token);
        var channels = await network.OpenChannelsAsync(specs);
        // Routing data comes straight from the known topology (what gossip teaches a node once the channels are announced).
        await network.FillGraphsAsync(channels);
        var setup = total.Elapsed;
        Log($"network ready in {setup.TotalSeconds:0.0} s");

        var plan = Enumerable.Range(0, PaymentCount).Select(_ =>
        {
            var payer = random.Next(NodeCount);
            var payee = random.Next(NodeCount - 1);
            payee = payee >= payer ? payee + 1 : payee;
            // 1,000 to 30,000 sat: far below every channel's half (the push), so liquidity allows nearly everywhere.
            return (Payer: payer, Payee: payee, Amount: new MilliSatoshi((ulong)random.NextInt64(1_000_000, 30_000_001)));
        }).ToList();
        var results = new LoopbackPayment[PaymentCount];
        var paying = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, PaymentCount), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, ct) =>
            results[i] = await network.PayAsync(plan[i].Payer, plan[i].Payee, plan[i].Amount, TimeSpan.FromSeconds(60), ct));
        paying.Stop();

        var succeeded = results.Count(r => r.Succeeded);
        var latencies = results.Where(r => r.Succeeded).Select(r => r.Latency.TotalMilliseconds).Order().ToArray();
        var hops = plan.Select(p => RandomTopology.HopDistance(specs, p.Payer, p.Payee)).ToArray();
        Log($"{succeeded}/{PaymentCount} succeeded ({100.0 * succeeded / PaymentCount:0.0} %) in {paying.Elapsed.TotalSeconds:0.0} s ({PaymentCount / paying.Elapsed.TotalSeconds:0.0} payments/s at concurrency {Concurrency})");
        if (latencies.Length > 0)
        {
            Log($"latency p50 {Percentile(latencies, 0.50):0} ms, p99 {Percentile(latencies, 0.99):0} ms, max {latencies[^1]:0} ms");
        }
        Log($"shortest-path hops: mean {hops.Average():0.00}, max {hops.Max()}; " + string.Join(", ", hops.GroupBy(h => h).OrderBy(g => g.Key).Select(g => $"{g.Key} hops × {g.Count()}")));
        foreach (var failure in results.Where(r => !r.Succeeded).Take(20))
        {
            Log($"failed node{failure.Payer} → node{failure.Payee} {failure.Amount.Value} msat: {failure.Reason}");
        }
        await LightningHarness.WaitUntilAsync(() => network.PendingHtlcCount() == 0, "no HTLC is left pending", TimeSpan.FromSeconds(60));
        Log($"total {total.Elapsed.TotalSeconds:0.0} s");
        await stopFlushing.CancelAsync();
        await flushing;

        Assert.All(results.Where(r => !r.Succeeded), r => Assert.False(string.IsNullOrWhiteSpace(r.Reason)));
        Assert.True(succeeded >= PaymentCount * 99 / 100, $"only {succeeded} of {PaymentCount} payments succeeded (seed {seed})");
        Assert.Empty(network.Chain.Rejected);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
