using System.Diagnostics;
using System.Globalization;
using NBitcoin;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Node;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

const string Usage = """
    usage: Satflow.MultiHopLoad [--payments N] [--concurrency 1,10,100] [--amount-sat 1000] [--store sqlite|memory]
                                [--flush-ms 5] [--capacity-sat 16000000] [--timeout-seconds 120]
      Four nodes in a line (0 → 1 → 2 → 3) over loopback TCP; node 0 pays node 3 (3 hops, 2 forwarders).
      --flush-ms 0 keeps the node's AutoFlush (sign after every update); otherwise the host flushes every N ms.
    """;
var payments = 200;
int[] levels = [1, 10, 100];
ulong amountSat = 1_000;
ulong capacitySat = 16_000_000;
var sqlite = true;
var flushMs = 5;
var timeoutSeconds = 120;
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--payments": payments = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--concurrency": levels = [.. Next().Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))]; break;
            case "--amount-sat": amountSat = ulong.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--capacity-sat": capacitySat = ulong.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--store": sqlite = Next() switch { "sqlite" => true, "memory" => false, var s => throw new ArgumentException($"unknown store '{s}'") }; break;
            case "--flush-ms": flushMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--timeout-seconds": timeoutSeconds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--help" or "-h": Console.WriteLine(Usage); return 0;
            default: throw new ArgumentException($"unknown option '{args[i]}'");
        }
    }
    if (payments < 1 || levels.Any(l => l < 1) || amountSat < 1 || flushMs < 0)
    {
        throw new ArgumentException("counts, levels and the amount must be positive");
    }
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    await Console.Error.WriteLineAsync("error: " + e.Message);
    await Console.Error.WriteLineAsync(Usage);
    return 2;
}

var policy = ForwardingPolicy.Default;
var amount = MilliSatoshi.FromSatoshis(amountSat);
var perPayment = amount + policy.FeeFor(amount) + policy.FeeFor(amount + policy.FeeFor(amount));
if ((ulong)(payments * levels.Length) * perPayment.Value > capacitySat * 1000 * 9 / 10)
{
    await Console.Error.WriteLineAsync($"error: the payments do not fit a {capacitySat} sat channel (keep them under 90% of it).");
    return 2;
}

var watch = Stopwatch.StartNew();
void Progress(string line) => Console.Error.WriteLine($"[{watch.Elapsed.TotalSeconds,7:0.0}s] {line}");
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

string? directory = null;
if (sqlite)
{
    directory = Path.Combine(Path.GetTempPath(), "satflow-multihopload-" + Guid.NewGuid().ToString("N")[..12]);
    Directory.CreateDirectory(directory);
}
var allOk = true;
try
{
    await using var network = await LoopbackNetwork.CreateAsync(4, new LoopbackNetworkOptions
    {
        Node = new NodeOptions { AutoFlush = flushMs == 0, MinimumDepth = 3, DefaultForwardingPolicy = policy },
        SqliteDirectory = directory,
        Progress = Progress,
    }, cancel.Token);
    using var stopFlushing = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
    var flushing = flushMs == 0 ? Task.CompletedTask : network.FlushLoopAsync(TimeSpan.FromMilliseconds(flushMs), stopFlushing.Token);
    var capacity = Money.Satoshis((long)capacitySat);
    var channels = await network.OpenChannelsAsync([new ChannelSpec(0, 1, capacity), new ChannelSpec(1, 2, capacity), new ChannelSpec(2, 3, capacity)], cancel.Token);
    await network.FillGraphsAsync(channels, cancel.Token);

    MilliSatoshi Balance(int node, int peer) => network[node].Node.GetChannel(channels.Single(c => c.Joins(node, peer)).ChannelId)!.LocalBalance;
    Console.WriteLine($"| in flight | ok | failed | payments/s | p50 ms | p99 ms | balances |");
    Console.WriteLine($"|---:|---:|---:|---:|---:|---:|---|");
    foreach (var concurrency in levels)
    {
        var payerBefore = Balance(0, 1);
        var payeeBefore = Balance(3, 2);
        Progress($"concurrency {concurrency}: {payments} payments of {amountSat} sat over 3 hops");
        var results = new LoopbackPayment[payments];
        var level = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, payments), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancel.Token }, async (i, ct) =>
            results[i] = await network.PayAsync(0, 3, amount, TimeSpan.FromSeconds(timeoutSeconds), ct));
        var seconds = level.Elapsed.TotalSeconds;
        await LightningHarness.WaitUntilAsync(() => network.PendingHtlcCount() == 0, "no HTLC is pending", TimeSpan.FromSeconds(timeoutSeconds));
        var ok = results.Count(r => r.Succeeded);
        var latencies = results.Where(r => r.Succeeded).Select(r => r.Latency.TotalMilliseconds).Order().ToArray();
        double Percentile(double p) => latencies.Length == 0 ? double.NaN : latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p * latencies.Length) - 1)];
        var balancesExact = Balance(0, 1) == payerBefore - new MilliSatoshi(perPayment.Value * (ulong)ok)
            && Balance(3, 2) == payeeBefore + new MilliSatoshi(amount.Value * (ulong)ok);
        allOk &= ok == payments && balancesExact;
        Console.WriteLine($"| {concurrency} | {ok} | {payments - ok} | {ok / seconds:0.0} | {Percentile(0.50):0.0} | {Percentile(0.99):0.0} | {(balancesExact ? "exact" : "WRONG")} |");
        foreach (var failure in results.Where(r => !r.Succeeded).Take(5))
        {
            Progress($"  failed: {failure.Reason}");
        }
    }
    await stopFlushing.CancelAsync();
    await flushing;
}
finally
{
    if (directory is not null)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is harmless.
        }
    }
}
return allOk ? 0 : 1;
