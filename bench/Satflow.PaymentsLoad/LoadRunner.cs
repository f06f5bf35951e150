using System.Collections.Concurrent;
using System.Diagnostics;
using Satflow.Lightning.Types;
using Satflow.Node;
using Satflow.Payments;

namespace Satflow.PaymentsLoad;

/// <summary>Latency percentiles of one series, in milliseconds.</summary>
public sealed record LatencySummary(double P50, double P90, double P99, double Max, double Mean)
{
    public static LatencySummary Of(IReadOnlyList<double> milliseconds)
    {
        if (milliseconds.Count == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0);
        }
        var sorted = milliseconds.Order().ToArray();
        return new LatencySummary(Rank(sorted, 0.50), Rank(sorted, 0.90), Rank(sorted, 0.99), sorted[^1], sorted.Average());
    }

    // Nearest-rank percentile.
    private static double Rank(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>What one concurrency level measured.</summary>
public sealed record LevelResult
{
    public required int Concurrency { get; init; }

    public required int Payments { get; init; }

    public required int Succeeded { get; init; }

    public required int Failed { get; init; }

    public required double Seconds { get; init; }

    public double PaymentsPerSecond => Succeeded / Seconds;

    /// <summary>From <c>PayInvoiceAsync</c> to the payer's record turning succeeded (fulfill received and persisted).</summary>
    public required LatencySummary PayLatencyMs { get; init; }

    /// <summary><c>CreateInvoiceAsync</c> on the payee (signature + one store write).</summary>
    public required LatencySummary InvoiceLatencyMs { get; init; }

    /// <summary>Process CPU time (all threads, both nodes) per succeeded payment.</summary>
    public required double CpuMsPerPayment { get; init; }

    /// <summary>Managed bytes allocated per succeeded payment.</summary>
    public required double AllocatedKbPerPayment { get; init; }

    /// <summary>Gen-2 collections during the level.</summary>
    public required int Gen2Collections { get; init; }

    /// <summary>The payer's channel balance went down, and the payee's up, by exactly the succeeded amounts.</summary>
    public required bool BalancesVerified { get; init; }

    public required NodeProbeSnapshot Payer { get; init; }

    public required NodeProbeSnapshot Payee { get; init; }

    public IReadOnlyList<string> FirstErrors { get; init; } = [];

    /// <summary>Set when no payment completed for the stall timeout: what the nodes reported then.</summary>
    public string? Stall { get; init; }
}

/// <summary>Runs N payments at a given concurrency (the number of payments in flight) and measures them.</summary>
public sealed class LoadRunner(LoadNetwork network, MilliSatoshi amount, TimeSpan stallTimeout, Action<string> progress)
{
    /// <summary>What the nodes say when payments stopped completing (the channel calls are bounded: the node lock may be stuck).</summary>
    private string Diagnose(int done, int payments)
    {
        static string Side(LoadNode side, ChannelId channelId)
        {
            var peers = side.Node.ListPeers().Count;
            var channel = Task.Run(() => side.Node.GetChannel(channelId));
            var described = channel.Wait(TimeSpan.FromSeconds(5))
                ? channel.Result is { } c ? $"{c.State}{(c.IsOffline ? " offline" : string.Empty)}, {c.PendingHtlcs} HTLCs, unsigned changes: {side.Node.HasChangesToSign}" : "no channel"
                : "GetChannel did not return in 5 s (node lock held)";
            return $"{side.Name}: {peers} peer(s), channel {described}";
        }
        return $"{done}/{payments} done; {Side(network.Payer, network.ChannelId)}; {Side(network.Payee, network.ChannelId)}";
    }

    public async Task<LevelResult> RunAsync(int concurrency, int payments, CancellationToken cancellationToken)
    {
        await network.WaitQuietAsync(cancellationToken).ConfigureAwait(false);
        var payerBefore = network.Payer.Node.GetChannel(network.ChannelId)!;
        var payeeBefore = network.Payee.Node.GetChannel(network.ChannelId)!;
        var probesBefore = (network.Payer.Probe.Snapshot(), network.Payee.Probe.Snapshot());
        var payLatencies = new ConcurrentBag<double>();
        var invoiceLatencies = new ConcurrentBag<double>();
        var errors = new ConcurrentQueue<string>();
        var succeeded = 0;
        var failed = 0;
        var next = -1;
        var done = 0;
        var gen2 = GC.CollectionCount(2);
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var start = Stopwatch.GetTimestamp();
        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = stalled.Token;
        var lastDone = 0;
        var lastProgress = Stopwatch.GetTimestamp();
        string? stall = null;
        var diagnosing = 0;
        using var reporter = new Timer(
            _ =>
            {
                var now = Volatile.Read(ref done);
                progress($"  c={concurrency}: {now}/{payments} done, {Volatile.Read(ref failed)} failed, {now / Stopwatch.GetElapsedTime(start).TotalSeconds:0.0}/s");
                if (now != lastDone)
                {
                    lastDone = now;
                    lastProgress = Stopwatch.GetTimestamp();
                }
                else if (Stopwatch.GetElapsedTime(lastProgress) > stallTimeout && Interlocked.Exchange(ref diagnosing, 1) == 0)
                {
                    stall = Diagnose(now, payments);
                    progress("  STALLED: " + stall);
                    stalled.Cancel();
                }
            },
            null,
            2000,
            2000);

        async Task Worker()
        {
            while (Interlocked.Increment(ref next) < payments)
            {
                try
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var invoice = await network.Payee.Node.CreateInvoiceAsync(amount, "paymentsload", cancellationToken: token).ConfigureAwait(false);
                    var t1 = Stopwatch.GetTimestamp();
                    var pending = await network.Payer.Node.PayInvoiceAsync(invoice.Bolt11, cancellationToken: token).ConfigureAwait(false);
                    var record = await network.Payer.Node.WaitForPaymentAsync(pending.PaymentHash, token).ConfigureAwait(false);
                    var t2 = Stopwatch.GetTimestamp();
                    invoiceLatencies.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                    if (record.State == OutgoingPaymentState.Succeeded)
                    {
                        payLatencies.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
                        Interlocked.Increment(ref succeeded);
                    }
                    else
                    {
                        Interlocked.Increment(ref failed);
                        errors.Enqueue($"{record.FailureReason}: {record.FailureMessage}");
                    }
                }
                catch (NodeOperationRefusedException e)
                {
                    Interlocked.Increment(ref failed);
                    errors.Enqueue($"{e.Reason}: {e.Message}");
                }
                catch (OperationCanceledException) when (stalled.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failed);
                    errors.Enqueue("abandoned: no payment completed for " + stallTimeout.TotalSeconds + " s");
                }
                Interlocked.Increment(ref done);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker, CancellationToken.None))).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        var allocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - allocated;
        gen2 = GC.CollectionCount(2) - gen2;

        if (stall is not null)
        {
            return new LevelResult
            {
                Concurrency = concurrency,
                Payments = payments,
                Succeeded = succeeded,
                Failed = failed,
                Seconds = seconds,
                PayLatencyMs = LatencySummary.Of([.. payLatencies]),
                InvoiceLatencyMs = LatencySummary.Of([.. invoiceLatencies]),
                CpuMsPerPayment = cpuMs / Math.Max(1, succeeded),
                AllocatedKbPerPayment = allocatedBytes / 1024.0 / Math.Max(1, succeeded),
                Gen2Collections = gen2,
                BalancesVerified = false,
                Payer = network.Payer.Probe.Snapshot() - probesBefore.Item1,
                Payee = network.Payee.Probe.Snapshot() - probesBefore.Item2,
                FirstErrors = [.. errors.Take(5)],
                Stall = stall,
            };
        }
        await network.WaitQuietAsync(cancellationToken).ConfigureAwait(false);
        var payerAfter = network.Payer.Node.GetChannel(network.ChannelId)!;
        var payeeAfter = network.Payee.Node.GetChannel(network.ChannelId)!;
        var moved = amount.Value * (ulong)succeeded;
        var verified = payerBefore.LocalBalance.Value - payerAfter.LocalBalance.Value == moved
            && payeeAfter.LocalBalance.Value - payeeBefore.LocalBalance.Value == moved;
        var perPayment = Math.Max(1, succeeded);
        return new LevelResult
        {
            Concurrency = concurrency,
            Payments = payments,
            Succeeded = succeeded,
            Failed = failed,
            Seconds = seconds,
            PayLatencyMs = LatencySummary.Of([.. payLatencies]),
            InvoiceLatencyMs = LatencySummary.Of([.. invoiceLatencies]),
            CpuMsPerPayment = cpuMs / perPayment,
            AllocatedKbPerPayment = allocatedBytes / 1024.0 / perPayment,
            Gen2Collections = gen2,
            BalancesVerified = verified,
            Payer = network.Payer.Probe.Snapshot() - probesBefore.Item1,
            Payee = network.Payee.Probe.Snapshot() - probesBefore.Item2,
            FirstErrors = [.. errors.Take(5)],
        };
    }
}
