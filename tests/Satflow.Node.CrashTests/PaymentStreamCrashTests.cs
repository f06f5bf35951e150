using System.Diagnostics;
using System.Globalization;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Xunit.Abstractions;

namespace Satflow.Node.CrashTests;

/// <summary>Thrown when a crash run fails; the message carries the seed to replay it and the nodes' last output.</summary>
public sealed class CrashRunException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Issue 4 §7: two real node processes (<c>satflow node start</c>) over an in-process devnet; a payment stream in both
/// directions while a seeded schedule SIGKILLs one node at random points and restarts it from its data directory. At
/// the end no HTLC is lost or stuck, both sides agree on the balances to the millisatoshi, no commitment transaction
/// ever reached the chain or the mempool, and the cooperative close pays out exactly what the channel held.
/// Replay a failure with <c>SATFLOW_CRASH_SEED=N dotnet test tests/Satflow.Node.CrashTests</c>.
/// </summary>
public sealed class PaymentStreamCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long CapacitySat = 1_000_000;
    private const int PaymentCount = 60;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(90);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "satflow-crash-" + Guid.NewGuid().ToString("N"));
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Devnet? _devnet;
    private NodeProcess? _a;
    private NodeProcess? _b;

    private Devnet Chain => _devnet!;

    private NodeProcess A => _a!;

    private NodeProcess B => _b!;

    private enum KillMoment
    {
        /// <summary>Between two payments (nothing in flight from the test's point of view).</summary>
        Idle,

        /// <summary>A random delay after the pay request left, while the HTLC is being added, committed or settled.</summary>
        InFlight,
    }

    /// <param name="Before">The payment the kill belongs to.</param>
    /// <param name="KillPayer">Kill the payer (else the payee).</param>
    /// <param name="Moment">Between payments or during one.</param>
    /// <param name="Point">Where in the payment, as a fraction of the recent payment latency (0-1).</param>
    private sealed record Kill(int Before, bool KillPayer, KillMoment Moment, double Point);

    private sealed class Payment(int index, NodeProcess payer, NodeProcess payee, PaymentHash hash, long amountMsat, string bolt11)
    {
        public string Bolt11 { get; } = bolt11;

        public int Index { get; } = index;

        public NodeProcess Payer { get; } = payer;

        public NodeProcess Payee { get; } = payee;

        public PaymentHash Hash { get; } = hash;

        public long AmountMsat { get; } = amountMsat;

        /// <summary>What the pay call answered, if it answered (a killed payer never does).</summary>
        public PaymentState? Reported { get; set; }

        /// <summary>The pay call was refused before any HTLC (a 4xx problem, e.g. the peer was still reconnecting).</summary>
        public string? Refused { get; set; }

        public bool Interrupted { get; set; }

        /// <summary>More than the payer's balance: it must fail (or be refused).</summary>
        public bool Unaffordable { get; init; }

        public override string ToString() =>
            $"#{Index} {Payer.Name}->{Payee.Name} {AmountMsat} msat {Hash} reported={Reported?.ToString() ?? "none"} refused={Refused ?? "no"} interrupted={Interrupted} unaffordable={Unaffordable}";
    }

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        // Kill the children first, even when the test failed half-way.
        _a?.Dispose();
        _b?.Dispose();
        if (_devnet is not null)
        {
            await _devnet.DisposeAsync();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }

    private static int ResolveSeed() =>
        Environment.GetEnvironmentVariable("SATFLOW_CRASH_SEED") is { Length: > 0 } text
            ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture)
            : Random.Shared.Next(1, int.MaxValue);

    private void Log(string line) => output.WriteLine($"[{_clock.Elapsed.TotalSeconds,7:0.0}s] {line}");

    [Fact]
    public async Task Sigkill_during_a_payment_stream_loses_no_htlc_broadcasts_no_commitment_and_balances_add_up()
    {
        var seed = ResolveSeed();
        Log($"SATFLOW_CRASH_SEED={seed}");
        try
        {
            await RunAsync(seed);
        }
        catch (Exception ex)
        {
            throw new CrashRunException(
                $"crash run failed after {_clock.Elapsed.TotalSeconds:0}s; replay with SATFLOW_CRASH_SEED={seed}: {ex.GetType().Name}: {ex.Message}\n{_a?.Tail()}\n{_b?.Tail()}", ex);
        }
    }

    private async Task RunAsync(int seed)
    {
        var random = new Random(seed);
        _devnet = await Devnet.StartAsync(Path.Combine(_root, "devnet"));
        _a = new NodeProcess("A", Path.Combine(_root, "a"), Chain.RpcUrl);
        _b = new NodeProcess("B", Path.Combine(_root, "b"), Chain.RpcUrl);
        await Task.WhenAll(A.StartAsync(StartTimeout), B.StartAsync(StartTimeout));
        Log($"A {A.NodeId} at {A.ListenAddress}, B {B.NodeId} at {B.ListenAddress}");

        // Fund A: one coinbase to A's wallet, matured by 100 more blocks.
        var address = await A.Api.NewAddressAsync();
        await Chain.MineToAsync(1, BitcoinAddress.Create(address.Address, Network.RegTest).ScriptPubKey);
        await Chain.MineAsync(100);
        await WaitForAsync("A's wallet to see its matured coinbase", TimeSpan.FromSeconds(90), async () =>
            (await A.Api.BalanceAsync()).Confirmed >= Money.Satoshis(CapacitySat * 2));
        var bWalletBefore = (await B.Api.BalanceAsync()).Total;

        // Open the channel and bury the funding transaction.
        await ConnectAsync();
        var opened = await A.Api.OpenChannelAsync(B.NodeId, CapacitySat);
        Log($"channel {opened.ChannelId} opening ({opened.State})");
        await Chain.MineAsync(6);
        var (channelA, channelB) = await WaitForChannelsNormalAsync(TimeSpan.FromSeconds(90));
        var channelId = channelA.ChannelId;
        var funding = channelA.FundingOutpoint ?? throw new InvalidOperationException("the open channel has no funding outpoint");
        Assert.Equal(funding, channelB.FundingOutpoint);
        Assert.Equal(Money.Satoshis(CapacitySat), channelA.Capacity);
        Assert.NotNull(Chain.Chain.GetTxOut(funding, includeMempool: false));
        Chain.Watch(funding);

        var startA = (long)channelA.LocalBalance.Value;
        var startB = (long)channelB.LocalBalance.Value;
        Assert.Equal(startB, (long)channelA.RemoteBalance.Value);
        Assert.Equal(startA, (long)channelB.RemoteBalance.Value);
        // The API reports balances either before the commitment fee (then they add up to the capacity) or after it
        // (then the difference is the fee the initiator pays, in whole satoshis); whichever it is, it must never change.
        var commitFeeMsat = CapacitySat * 1000 - startA - startB;
        Assert.True(commitFeeMsat >= 0 && commitFeeMsat % 1000 == 0, $"capacity minus both balances must be 0 or the commitment fee in whole satoshis, got {commitFeeMsat} msat");
        Log($"channel {channelId} normal at {funding}: A {startA} msat, B {startB} msat, capacity - balances = {commitFeeMsat} msat");
        var aWalletBefore = (await A.Api.BalanceAsync()).Total;

        // The seeded kill schedule: 3-5 kills at distinct payments, mostly while a payment is in flight.
        var killCount = random.Next(3, 6);
        var kills = Enumerable.Range(2, PaymentCount - 3).OrderBy(_ => random.Next()).Take(killCount).Order()
            .Select(i => new Kill(i, random.Next(2) == 0, random.Next(4) == 0 ? KillMoment.Idle : KillMoment.InFlight, random.NextDouble()))
            .ToDictionary(k => k.Before);
        Log("kill plan: " + string.Join(", ", kills.Values.Select(k => $"#{k.Before} {(k.KillPayer ? "payer" : "payee")} {k.Moment} at {k.Point:0.00} of a payment")));

        var payments = new List<Payment>();
        var latency = TimeSpan.FromMilliseconds(300);
        var interruptedCount = 0;
        long expectedA = startA;
        long expectedB = startB;
        for (var i = 0; i < PaymentCount; i++)
        {
            var aPays = random.Next(2) == 0;
            var amount = random.NextInt64(1_000_000, 30_000_000) + random.Next(0, 1000);
            // Keep the payer well above its reserve (and the initiator above the commitment fee); otherwise pay the other way.
            const long margin = 60_000_000;
            if ((aPays ? expectedA : expectedB) < amount + margin)
            {
                aPays = !aPays;
            }
            // About one payment in ten asks for more than the payer can send: it must fail cleanly, crash or not.
            var unaffordable = random.Next(10) == 0;
            if (unaffordable)
            {
                amount = (aPays ? expectedA : expectedB) + random.NextInt64(1_000_000, 50_000_000);
            }
            var (payer, payee) = aPays ? (A, B) : (B, A);
            var invoice = await payee.Api.CreateInvoiceAsync(amount, $"crash seed {seed} payment {i}");
            var payment = new Payment(i, payer, payee, invoice.PaymentHash, amount, invoice.Bolt11) { Unaffordable = unaffordable };
            payments.Add(payment);

            kills.TryGetValue(i, out var kill);
            if (kill is { Moment: KillMoment.Idle })
            {
                await KillAndRestartAsync(kill.KillPayer ? payer : payee, $"before payment #{i}");
            }
            var started = Stopwatch.GetTimestamp();
            var pay = PayAsync(payment);
            if (kill is { Moment: KillMoment.InFlight })
            {
                // A random point inside the payment, scaled to how long payments take on this machine right now.
                var delay = TimeSpan.FromMilliseconds(kill.Point * latency.TotalMilliseconds);
                await Task.WhenAny(pay, Task.Delay(delay));
                var nextFree = Enumerable.Range(i + 1, Math.Max(0, PaymentCount - i - 1)).FirstOrDefault(j => !kills.ContainsKey(j), -1);
                if (pay.IsCompleted && nextFree >= 0)
                {
                    // The payment finished before the kill point: move the kill to the next payment, earlier in it.
                    kills.Remove(i);
                    kills[nextFree] = kill with { Before = nextFree, Point = kill.Point / 2 };
                    Log($"payment #{i} answered before {delay.TotalMilliseconds:0} ms; the kill moves to payment #{nextFree} at {kill.Point / 2:0.00}");
                    kill = null;
                }
                else
                {
                    payment.Interrupted = !pay.IsCompleted;
                    interruptedCount += payment.Interrupted ? 1 : 0;
                    await KillAndRestartAsync(kill.KillPayer ? payer : payee,
                        $"{delay.TotalMilliseconds:0} ms into payment #{i} ({(payment.Interrupted ? "pay call still open" : "pay call already answered")})");
                }
            }
            await pay;
            if (kill is null && payment.Reported is not null)
            {
                // Smoothed latency of an undisturbed payment (pay call to answer).
                var took = Stopwatch.GetElapsedTime(started);
                latency = TimeSpan.FromMilliseconds((latency.TotalMilliseconds * 3 + took.TotalMilliseconds) / 4);
            }
            // A pay call that got no answer (payer killed) or answered "pending" is read back once the payer settles it.
            var outcome = payment.Refused is not null ? null
                : payment.Reported is PaymentState.Succeeded or PaymentState.Failed ? payment.Reported
                : await WaitForFinalAsync(payment);
            if (outcome == PaymentState.Succeeded)
            {
                expectedA += aPays ? -amount : amount;
                expectedB += aPays ? amount : -amount;
            }
        }
        Log($"stream done: {payments.Count(p => p.Reported == PaymentState.Succeeded)} reported succeeded, A {A.Starts - 1} restarts, B {B.Starts - 1} restarts, "
            + $"{interruptedCount} kills while a pay call was open, payment latency ~{latency.TotalMilliseconds:0} ms");
        Assert.True(A.Starts + B.Starts - 2 == killCount, $"planned {killCount} kills, restarted {A.Starts + B.Starts - 2} times");
        Assert.True(interruptedCount > 0 || kills.Values.All(k => k.Moment == KillMoment.Idle),
            "no in-flight kill landed while a pay call was open: the run did not crash a node during a payment");

        // 1. Every payment ended: succeeded on the payer and settled on the payee, or failed/never started and unsettled.
        var succeededAToB = 0L;
        var succeededBToA = 0L;
        var succeededCount = 0;
        var unaffordableCount = 0;
        foreach (var payment in payments)
        {
            var state = await FinalStateAsync(payment);
            var invoice = await payment.Payee.Api.InvoiceAsync(payment.Hash);
            if (payment.Unaffordable)
            {
                Assert.True(state != PaymentState.Succeeded, $"{payment}: more than the payer's balance, yet it succeeded");
                unaffordableCount++;
            }
            if (state == PaymentState.Succeeded)
            {
                Assert.True(invoice.State == InvoiceState.Settled, $"{payment}: succeeded on the payer but the payee's invoice is {invoice.State}");
                Assert.Equal(payment.AmountMsat, (long?)invoice.AmountReceived?.Value);
                succeededCount++;
                if (payment.Payer == A)
                {
                    succeededAToB += payment.AmountMsat;
                }
                else
                {
                    succeededBToA += payment.AmountMsat;
                }
            }
            else
            {
                Assert.True(invoice.State != InvoiceState.Settled, $"{payment}: {state?.ToString() ?? "unknown"} on the payer but the payee settled it (the payer lost the preimage)");
            }
            if (payment.Reported is PaymentState.Succeeded or PaymentState.Failed)
            {
                Assert.True(state == payment.Reported, $"{payment}: the payer answered {payment.Reported} but now says {state?.ToString() ?? "not found"} after restarts");
            }
        }
        Assert.True(succeededCount >= PaymentCount / 2, $"only {succeededCount} of {PaymentCount} payments succeeded; the run proves little");
        Log($"{succeededCount} succeeded, {payments.Count - succeededCount} failed or refused ({unaffordableCount} asked for more than the payer had)");
        Assert.True(succeededAToB > 0 && succeededBToA > 0, $"payments must flow both ways (A->B {succeededAToB} msat, B->A {succeededBToA} msat)");

        // 2. Balances: each side moved by exactly the succeeded payments, both sides agree, and the sum is capacity - commitment fee.
        var finalA = startA - succeededAToB + succeededBToA;
        var finalB = startB + succeededAToB - succeededBToA;
        Assert.Equal(expectedA, finalA);
        Assert.Equal(expectedB, finalB);
        var (endA, endB) = await WaitForBalancesAsync(channelId, finalA, finalB, SettleTimeout);
        Assert.Equal(finalA, (long)endA.LocalBalance.Value);
        Assert.Equal(finalB, (long)endB.LocalBalance.Value);
        Assert.Equal(finalB, (long)endA.RemoteBalance.Value);
        Assert.Equal(finalA, (long)endB.RemoteBalance.Value);
        Assert.Equal(CapacitySat * 1000 - commitFeeMsat, finalA + finalB);
        Log($"balances agree: A {finalA} msat, B {finalB} msat ({succeededCount} payments succeeded)");

        // 3. No commitment transaction (revoked or not) ever reached the chain or the mempool.
        AssertNoSpendOfFunding(funding, "after the stream");

        // 4. Close cooperatively; the closing transaction pays each side its balance to the satoshi, the initiator paying the fee.
        var close = await A.Api.CloseChannelAsync(channelId, force: false);
        Log($"close requested: {close.State} {close.ClosingTxid}");
        var closing = await WaitForAsync("the cooperative closing transaction in the mempool", TimeSpan.FromSeconds(60), () =>
            Task.FromResult(Chain.SpendsOfWatched().Select(s => s.Tx).FirstOrDefault()));
        Assert.Single(Chain.SpendsOfWatched());
        Assert.False(IsCommitment(closing), $"the funding output was spent by a commitment transaction {closing.GetHash()}, not a mutual close");
        if (close.ClosingTxid is { } reported)
        {
            Assert.Equal(reported, closing.GetHash());
        }
        await Chain.MineAsync(6);
        var confirmed = Assert.Single(Chain.SpendsOfWatched());
        Assert.True(confirmed.Height > 0, "the closing transaction must be confirmed");

        // A mutual close pays each side its whole balance rounded down to the satoshi (the commitment fee is not
        // part of it); the dropped millisatoshis (under 2 sat in all) and the negotiated fee go to the miners, and the
        // initiator A pays the negotiated fee.
        var outputs = closing.Outputs.Select(o => o.Value.Satoshi).ToList();
        var closingFee = CapacitySat - outputs.Sum();
        var bSat = finalB / 1000;
        var aSat = (finalA + commitFeeMsat) / 1000;
        var roundingSat = CapacitySat - aSat - bSat;
        Assert.InRange(roundingSat, 0, 1);
        Assert.Equal(2, outputs.Count);
        Assert.Contains(bSat, outputs);
        var aOut = outputs.Count(o => o == bSat) == 2 ? bSat : outputs.Single(o => o != bSat);
        var negotiatedFee = aSat - aOut;
        Assert.True(negotiatedFee > 0 && negotiatedFee < 20_000, $"the negotiated closing fee {negotiatedFee} sat is out of range");
        Assert.Equal(closingFee, negotiatedFee + roundingSat);
        Assert.Equal(CapacitySat, aOut + bSat + negotiatedFee + roundingSat);
        Log($"closed by {closing.GetHash()}: A {aOut} sat + B {bSat} sat + fee {negotiatedFee} sat + msat rounding {roundingSat} sat = {CapacitySat} sat");

        // The closing outputs land in the nodes' wallets.
        await WaitForAsync("both wallets to see their closing outputs", TimeSpan.FromSeconds(90), async () =>
            (await B.Api.BalanceAsync()).Total - bWalletBefore == Money.Satoshis(bSat)
            && (await A.Api.BalanceAsync()).Total - aWalletBefore == Money.Satoshis(aOut));
        Log($"done in {_clock.Elapsed.TotalSeconds:0}s");
    }

    /// <summary>A commitment transaction (BOLT 3) has locktime 0x20xxxxxx and its input sequence 0x80xxxxxx.</summary>
    private static bool IsCommitment(Transaction tx) =>
        tx.Inputs.Count == 1 && (tx.LockTime.Value >> 24) == 0x20 && (tx.Inputs[0].Sequence.Value >> 24) == 0x80;

    private void AssertNoSpendOfFunding(OutPoint funding, string when)
    {
        var spends = Chain.SpendsOfWatched();
        Assert.True(spends.Count == 0,
            $"{when}: the funding output was spent by {string.Join(", ", spends.Select(s => $"{s.Tx.GetHash()} (height {s.Height}, commitment={IsCommitment(s.Tx)})"))}");
        Assert.NotNull(Chain.Chain.GetTxOut(funding, includeMempool: true));
    }

    private async Task PayAsync(Payment payment)
    {
        try
        {
            var result = await payment.Payer.Api.PayAsync(payment.Bolt11, TimeSpan.FromSeconds(150));
            Assert.Equal(payment.Hash, result.PaymentHash);
            payment.Reported = result.State;
        }
        catch (NodeApiException ex) when (ex.Status == 0)
        {
            // The payer was killed while the call was open: the outcome is read back after its restart.
            Log($"payment #{payment.Index}: the pay call got no answer ({ex.Code})");
        }
        catch (NodeApiException ex) when (ex.Status is >= 400 and < 500 && ex.Status != 404)
        {
            payment.Refused = ex.Code;
            Log($"payment #{payment.Index}: refused: {ex.Message}");
        }
    }

    /// <summary>The payer's view once nothing is in flight; null when the payer never recorded the payment.</summary>
    private async Task<PaymentState?> FinalStateAsync(Payment payment)
    {
        try
        {
            var info = await payment.Payer.Api.PaymentAsync(payment.Hash);
            Assert.True(info.State != PaymentState.Pending, $"{payment}: still pending on the payer at the end (a stuck HTLC)");
            if (info.State == PaymentState.Succeeded)
            {
                Assert.Equal(payment.AmountMsat, (long)info.Amount.Value);
                Assert.NotNull(info.Preimage);
                Assert.Equal(payment.Hash, info.Preimage!.Value.Hash);
            }
            return info.State;
        }
        catch (NodeApiException ex) when (ex.Code == "not_found")
        {
            Assert.True(payment.Refused is not null || payment.Reported is null,
                $"{payment}: the payer answered {payment.Reported} but has no record of it after restarts");
            return null;
        }
    }

    private async Task<PaymentState?> WaitForFinalAsync(Payment payment)
    {
        var deadline = DateTime.UtcNow + SettleTimeout;
        while (true)
        {
            try
            {
                var info = await payment.Payer.Api.PaymentAsync(payment.Hash);
                if (info.State != PaymentState.Pending)
                {
                    Log($"payment #{payment.Index} settled as {info.State} after the restart");
                    return info.State;
                }
            }
            catch (NodeApiException ex) when (ex.Code == "not_found")
            {
                // The payer died before it recorded the payment: no HTLC can exist for it.
                Log($"payment #{payment.Index}: the restarted payer has no record of it");
                return null;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{payment}: still pending on the payer {SettleTimeout.TotalSeconds:0}s after the restart (a stuck HTLC)");
            }
            await Task.Delay(200);
        }
    }

    private async Task KillAndRestartAsync(NodeProcess victim, string when)
    {
        await victim.KillAsync(when);
        Log($"SIGKILL {victim.Name} {when}");
        AssertNoSpendOfFunding(WatchedFunding(), $"after killing {victim.Name} {when}");
        await victim.StartAsync(StartTimeout);
        await ConnectAsync();
        await WaitForChannelsNormalAsync(TimeSpan.FromSeconds(60));
        AssertNoSpendOfFunding(WatchedFunding(), $"after {victim.Name} restarted and reconnected");
        Log($"{victim.Name} restarted (start #{victim.Starts}), peers reconnected");
    }

    private OutPoint WatchedFunding() => _fundingForChecks ?? throw new InvalidOperationException("no channel yet");

    private OutPoint? _fundingForChecks;

    /// <summary>Connects A to B (B's port changes with each restart) until both list each other.</summary>
    private async Task ConnectAsync()
    {
        await WaitForAsync("A and B to be connected", TimeSpan.FromSeconds(60), async () =>
        {
            var aPeers = await A.Api.PeersAsync();
            var bPeers = await B.Api.PeersAsync();
            if (aPeers.Any(p => p.NodeId == B.NodeId) && bPeers.Any(p => p.NodeId == A.NodeId))
            {
                return true;
            }
            if (!aPeers.Any(p => p.NodeId == B.NodeId))
            {
                try
                {
                    await A.Api.ConnectAsync(B.NodeId, B.ListenAddress);
                }
                catch (NodeApiException ex) when (ex.Status is >= 400 and < 600)
                {
                    Log($"connect A->B: {ex.Message}");
                }
            }
            return false;
        });
    }

    private async Task<(ChannelInfo A, ChannelInfo B)> WaitForChannelsNormalAsync(TimeSpan timeout)
    {
        var pair = await WaitForAsync("the channel to be normal on both nodes", timeout, async () =>
        {
            var a = (await A.Api.ChannelsAsync()).SingleOrDefault();
            var b = (await B.Api.ChannelsAsync()).SingleOrDefault();
            return a is { State: ChannelState.Normal } && b is { State: ChannelState.Normal } ? new ChannelPair(a, b) : null;
        });
        _fundingForChecks ??= pair.A.FundingOutpoint;
        return (pair.A, pair.B);
    }

    private sealed record ChannelPair(ChannelInfo A, ChannelInfo B);

    private async Task<(ChannelInfo A, ChannelInfo B)> WaitForBalancesAsync(ChannelId channelId, long a, long b, TimeSpan timeout)
    {
        ChannelPair? last = null;
        try
        {
            var pair = await WaitForAsync("both nodes to agree on the final balances", timeout, async () =>
            {
                var ca = (await A.Api.ChannelsAsync()).Single(c => c.ChannelId == channelId);
                var cb = (await B.Api.ChannelsAsync()).Single(c => c.ChannelId == channelId);
                last = new ChannelPair(ca, cb);
                return (long)ca.LocalBalance.Value == a && (long)cb.LocalBalance.Value == b
                    && (long)ca.RemoteBalance.Value == b && (long)cb.RemoteBalance.Value == a ? last : null;
            });
            return (pair.A, pair.B);
        }
        catch (TimeoutException) when (last is not null)
        {
            // Let the assertions show the exact difference.
            return (last.A, last.B);
        }
    }

    private static async Task WaitForAsync(string what, TimeSpan timeout, Func<Task<bool>> condition) =>
        await WaitForAsync(what, timeout, async () => await condition() ? (object?)true : null);

    private static async Task<T> WaitForAsync<T>(string what, TimeSpan timeout, Func<Task<T?>> probe) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? lastError = null;
        while (true)
        {
            try
            {
                if (await probe() is { } value)
                {
                    return value;
                }
            }
            catch (NodeApiException ex)
            {
                lastError = ex;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0}s waiting for {what}" + (lastError is null ? "" : $" (last error: {lastError.Message})"));
            }
            await Task.Delay(200);
        }
    }
}
