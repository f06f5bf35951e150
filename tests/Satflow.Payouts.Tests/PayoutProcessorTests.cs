using Microsoft.Extensions.Time.Testing;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Tests;

public sealed class PayoutProcessorTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(Kit.Start);
    private readonly PayoutStore _store = PayoutStore.CreateInMemory();
    private readonly PayoutService _service;
    private readonly FakeLightningNode _node = new();
    private readonly FakeWallet _wallet = new();
    private PullPayment _pull = null!;

    public PayoutProcessorTests() => _service = new PayoutService(_store, _time, new PayoutServiceOptions { Network = Kit.Network });

    public async Task InitializeAsync() =>
        _pull = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "store1", Name = "p", Amount = 1m, Currency = "BTC", AutoApproveClaims = true });

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private PayoutProcessor Processor(PayoutProcessorOptions? options = null, IPayoutStore? store = null) =>
        new("store1", store ?? _store, (options ?? new PayoutProcessorOptions { Network = Kit.Network, OnChainBatchDelay = TimeSpan.Zero }) with { InstanceId = "test" }, _node, _wallet);

    private static PayoutProcessorOptions Options(TimeSpan? delay = null) => new() { Network = Kit.Network, OnChainBatchDelay = delay ?? TimeSpan.Zero, InstanceId = "test" };

    private static async Task RunUntilCrash(PayoutProcessor processor, DateTimeOffset now, CrashPlan plan)
    {
        try
        {
            await processor.RunOnceAsync(now);
        }
        catch (SimulatedCrashException)
        {
            // The process died; what matters is what was stored.
        }

        Assert.Single(plan.Crashes);
    }

    private async Task<Payout> LightningPayoutAsync(MilliSatoshi? amount = null, ulong expiry = 86_400)
    {
        var invoice = Kit.Invoice(amount ?? new MilliSatoshi(10_000_000), _time.GetUtcNow(), expiry);
        return await _service.ClaimAsync(_pull.Id, invoice, null);
    }

    private async Task<Payout> OnChainPayoutAsync(decimal btc = 0.001m) => await _service.ClaimAsync(_pull.Id, Kit.Address(), btc);

    private Task<Payout> Get(Payout p) => _service.GetPayoutAsync(p.Id);

    [Fact]
    public async Task Lightning_payouts_are_paid_once_and_completed_with_the_preimage()
    {
        var payout = await LightningPayoutAsync();
        var events = new List<PayoutChangedEventArgs>();
        var processor = Processor();
        processor.PayoutChanged += (_, e) => events.Add(e);

        var report = await processor.RunOnceAsync(_time.GetUtcNow());

        var done = await Get(payout);
        Assert.Equal(PayoutState.Completed, done.State);
        var hash = payout.Destination.PaymentHash!.Value;
        Assert.Equal(Kit.Preimages[hash].Value.ToHex(), done.Proof);
        Assert.Equal(hash.Value.ToHex(), done.Attempt!.Reference);
        Assert.Equal(1, done.Attempt.Number);
        Assert.Equal(1, _node.TimesPaid[hash]);
        Assert.Equal(1, report.LightningSent);
        Assert.Equal(1, report.Completed);
        Assert.Equal([PayoutState.InProgress, PayoutState.Completed], events.Select(e => e.Payout.State));

        await processor.RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(1, _node.PayCalls);
    }

    [Fact]
    public async Task A_failed_lightning_payment_fails_the_payout_and_releases_the_claim()
    {
        var payout = await LightningPayoutAsync();
        _node.FailingHashes.Add(payout.Destination.PaymentHash!.Value);
        var report = await Processor().RunOnceAsync(_time.GetUtcNow());
        var failed = await Get(payout);
        Assert.Equal(PayoutState.Failed, failed.State);
        Assert.Equal("no route", failed.FailureReason);
        Assert.Equal(1, report.Failed);
        Assert.Equal(0m, (await _service.GetPullPaymentAsync(_pull.Id)).Claimed);
        Assert.False(_node.TimesPaid.ContainsKey(payout.Destination.PaymentHash!.Value));
    }

    [Fact]
    public async Task A_pending_payment_stays_in_progress_until_the_node_settles_it()
    {
        var payout = await LightningPayoutAsync();
        var hash = payout.Destination.PaymentHash!.Value;
        _node.PendingHashes.Add(hash);
        await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.InProgress, (await Get(payout)).State);
        await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.InProgress, (await Get(payout)).State);
        _node.Settle(hash);
        var report = await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.Completed, (await Get(payout)).State);
        Assert.Equal(1, report.Reconciled);
        Assert.Equal(1, _node.PayCalls);
    }

    [Fact]
    public async Task After_a_crash_before_sending_the_payment_is_sent_once_with_a_new_attempt_number()
    {
        var payout = await LightningPayoutAsync();
        // The node is unreachable right after the attempt is recorded: it never sees the hash.
        var crashing = new PayoutProcessor("store1", _store, Options(), new ThrowingLightning(), null);
        var first = await crashing.RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(1, first.SenderErrors);
        Assert.Equal(PayoutState.InProgress, (await Get(payout)).State);

        await Processor().RunOnceAsync(_time.GetUtcNow());

        var done = await Get(payout);
        Assert.Equal(PayoutState.Completed, done.State);
        Assert.Equal(2, done.Attempt!.Number);
        Assert.Equal(1, _node.TimesPaid[payout.Destination.PaymentHash!.Value]);
    }

    [Fact]
    public async Task After_a_crash_following_the_payment_it_is_completed_without_paying_again()
    {
        var payout = await LightningPayoutAsync();
        var crashAt = CrashPlan.AtFirst("after pay");
        var processor = new PayoutProcessor("store1", new CrashingStore(_store, crashAt), Options(), new CrashingLightning(_node, crashAt), null);
        await RunUntilCrash(processor, _time.GetUtcNow(), crashAt);
        Assert.Equal(PayoutState.InProgress, (await Get(payout)).State);

        await Processor().RunOnceAsync(_time.GetUtcNow());

        Assert.Equal(PayoutState.Completed, (await Get(payout)).State);
        Assert.Equal(1, _node.TimesPaid[payout.Destination.PaymentHash!.Value]);
        Assert.Equal(1, _node.PayCalls);
    }

    [Fact]
    public async Task An_invoice_that_expired_before_payment_fails_without_a_send()
    {
        var payout = await LightningPayoutAsync(expiry: 60);
        _time.Advance(TimeSpan.FromMinutes(5));
        await Processor().RunOnceAsync(_time.GetUtcNow());
        var failed = await Get(payout);
        Assert.Equal(PayoutState.Failed, failed.State);
        Assert.Contains("expired", failed.FailureReason, StringComparison.Ordinal);
        Assert.Equal(0, _node.PayCalls);
    }

    [Fact]
    public async Task On_chain_payouts_wait_for_the_batch_delay_then_go_out_in_one_transaction()
    {
        var payouts = new[] { await OnChainPayoutAsync(0.001m), await OnChainPayoutAsync(0.002m), await OnChainPayoutAsync(0.003m) };
        var options = Options(TimeSpan.FromMinutes(30));
        var early = await Processor(options).RunOnceAsync(_time.GetUtcNow().AddMinutes(29));
        Assert.Equal(0, early.BatchesCreated);
        Assert.Equal(0, _wallet.CreateCalls);

        var report = await Processor(options).RunOnceAsync(_time.GetUtcNow().AddMinutes(30));
        Assert.Equal(1, report.BatchesCreated);
        var tx = Assert.Single(_wallet.Created);
        var stored = await Task.WhenAll(payouts.Select(Get));
        Assert.All(stored, p =>
        {
            Assert.Equal(PayoutState.InProgress, p.State);
            Assert.Equal(tx.GetHash().ToString(), p.Attempt!.Reference);
            Assert.Equal(1, _wallet.TimesPaid(p.Destination.Value));
        });
        var batch = (await _store.GetBatchAsync(stored[0].Attempt!.BatchId!.Value))!;
        Assert.Equal(OnChainBatchState.Broadcast, batch.State);
        Assert.Equal(tx.ToHex(), batch.RawTransaction);
        Assert.Equal(3, batch.PayoutIds.Count);
        Assert.Contains(tx.Outputs, o => o.Value == Money.Coins(0.002m));

        var confirm = await Processor(options).RunOnceAsync(_time.GetUtcNow().AddMinutes(31));
        Assert.Equal(3, confirm.Completed);
        Assert.All(await Task.WhenAll(payouts.Select(Get)), p =>
        {
            Assert.Equal(PayoutState.Completed, p.State);
            Assert.Equal(tx.GetHash().ToString(), p.Proof);
        });
        Assert.Equal(OnChainBatchState.Confirmed, (await _store.GetBatchAsync(batch.Id))!.State);
    }

    [Fact]
    public async Task A_full_batch_goes_out_at_once_and_the_rest_waits()
    {
        for (var i = 0; i < 5; i++)
        {
            await OnChainPayoutAsync();
        }

        var options = new PayoutProcessorOptions { Network = Kit.Network, OnChainBatchDelay = TimeSpan.FromDays(1), MaxOnChainBatchSize = 2 };
        var report = await Processor(options).RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(1, report.BatchesCreated);
        Assert.Equal(2, _wallet.Created[0].Outputs.Count - 1);
        await Processor(options).RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(2, _wallet.CreateCalls);
        await Processor(options).RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(2, _wallet.CreateCalls); // one payout left: waits for the delay
        await Processor(options).RunOnceAsync(_time.GetUtcNow().AddDays(1));
        Assert.Equal(3, _wallet.CreateCalls);
    }

    [Fact]
    public async Task On_chain_payouts_complete_only_after_the_required_confirmations()
    {
        var payout = await OnChainPayoutAsync();
        _wallet.Confirmations = 0;
        var options = new PayoutProcessorOptions { Network = Kit.Network, OnChainBatchDelay = TimeSpan.Zero, RequiredConfirmations = 3 };
        await Processor(options).RunOnceAsync(_time.GetUtcNow());
        _wallet.Confirmations = 2;
        await Processor(options).RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.InProgress, (await Get(payout)).State);
        _wallet.Confirmations = 3;
        await Processor(options).RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.Completed, (await Get(payout)).State);
        Assert.Equal(1, _wallet.CreateCalls);
    }

    [Fact]
    public async Task A_conflicted_batch_fails_its_payouts()
    {
        var payout = await OnChainPayoutAsync();
        _wallet.Confirmations = 0;
        await Processor().RunOnceAsync(_time.GetUtcNow());
        _wallet.Conflicted.Add(_wallet.Created[0].GetHash());
        var report = await Processor().RunOnceAsync(_time.GetUtcNow());
        var failed = await Get(payout);
        Assert.Equal(PayoutState.Failed, failed.State);
        Assert.Equal(1, report.Failed);
        Assert.Equal(OnChainBatchState.Conflicted, (await _store.GetBatchAsync(failed.Attempt!.BatchId!.Value))!.State);
        Assert.Equal(1, _wallet.CreateCalls);
    }

    [Fact]
    public async Task A_transaction_that_does_not_pay_the_batch_is_refused_before_anything_is_recorded()
    {
        var payout = await OnChainPayoutAsync(0.002m);
        _wallet.Builder = outputs => FakeWallet.Build([outputs[0] with { Amount = outputs[0].Amount - Money.Satoshis(1) }]);
        var e = await Assert.ThrowsAsync<PayoutsException>(() => Processor().RunOnceAsync(_time.GetUtcNow()));
        Assert.Equal(PayoutsErrorReason.SenderContractViolation, e.Reason);
        Assert.Equal(PayoutState.AwaitingPayment, (await Get(payout)).State);
        Assert.Equal(0, _wallet.BroadcastCalls);
    }

    [Fact]
    public async Task A_crash_between_recording_and_broadcast_rebroadcasts_the_same_transaction()
    {
        var payout = await OnChainPayoutAsync();
        var crashAt = CrashPlan.AtFirst("after commit InProgress+batch");
        var processor = new PayoutProcessor("store1", new CrashingStore(_store, crashAt), Options(), null, new CrashingWallet(_wallet, crashAt));
        await RunUntilCrash(processor, _time.GetUtcNow(), crashAt);
        Assert.Equal(0, _wallet.BroadcastCalls);

        await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(1, _wallet.CreateCalls);
        Assert.Equal(1, _wallet.BroadcastCalls);
        await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.Completed, (await Get(payout)).State);
        Assert.Equal(1, _wallet.TimesPaid(payout.Destination.Value));
    }

    [Fact]
    public async Task A_crash_after_creating_but_before_recording_builds_a_new_transaction_and_never_broadcasts_the_first()
    {
        var payout = await OnChainPayoutAsync();
        var crashAt = CrashPlan.AtFirst("after create");
        var processor = new PayoutProcessor("store1", new CrashingStore(_store, crashAt), Options(), null, new CrashingWallet(_wallet, crashAt));
        await RunUntilCrash(processor, _time.GetUtcNow(), crashAt);
        Assert.Equal(PayoutState.AwaitingPayment, (await Get(payout)).State);

        await Processor().RunOnceAsync(_time.GetUtcNow());
        await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(2, _wallet.CreateCalls);
        Assert.Equal(PayoutState.Completed, (await Get(payout)).State);
        Assert.Equal(1, _wallet.TimesPaid(payout.Destination.Value));
        Assert.Equal(_wallet.Created[1].GetHash().ToString(), (await Get(payout)).Proof);
    }

    [Fact]
    public async Task Two_processors_cannot_both_take_a_payout()
    {
        var payouts = new List<Payout>();
        for (var i = 0; i < 5; i++)
        {
            payouts.Add(await LightningPayoutAsync());
        }

        var reports = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() =>
            new PayoutProcessor("store1", _store, Options() with { InstanceId = "instance" + i }, _node, _wallet).RunOnceAsync(_time.GetUtcNow()))));
        Assert.Single(reports, r => !r.LeaseHeldElsewhere);
        Assert.Equal(5, reports.Sum(r => r.Completed));
        foreach (var p in payouts)
        {
            Assert.Equal(PayoutState.Completed, (await Get(p)).State);
            Assert.Equal(1, _node.TimesPaid[p.Destination.PaymentHash!.Value]);
        }
    }

    [Fact]
    public async Task Other_stores_payouts_are_left_alone()
    {
        var payout = await LightningPayoutAsync();
        await new PayoutProcessor("store2", _store, Options(), _node, _wallet).RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.AwaitingPayment, (await Get(payout)).State);
    }

    [Fact]
    public async Task A_lease_held_by_another_instance_blocks_until_it_lapses_or_is_released()
    {
        var payout = await LightningPayoutAsync(expiry: 7 * 86_400);
        _node.PendingHashes.Add(payout.Destination.PaymentHash!.Value);
        var first = new PayoutProcessor("store1", _store, Options() with { InstanceId = "a", LeaseDuration = TimeSpan.FromMinutes(10) }, _node, _wallet);
        var second = new PayoutProcessor("store1", _store, Options() with { InstanceId = "b", LeaseDuration = TimeSpan.FromMinutes(10) }, _node, _wallet);
        var now = _time.GetUtcNow();
        Assert.False((await first.RunOnceAsync(now)).LeaseHeldElsewhere);
        Assert.True((await second.RunOnceAsync(now.AddMinutes(9))).LeaseHeldElsewhere);
        Assert.Equal(0, _node.StatusCalls);
        var takeover = await second.RunOnceAsync(now.AddMinutes(11));
        Assert.False(takeover.LeaseHeldElsewhere);
        Assert.Equal(1, takeover.Reconciled);
        Assert.Equal(1, _node.PayCalls);
        Assert.True((await first.RunOnceAsync(now.AddMinutes(12))).LeaseHeldElsewhere);
        await second.ReleaseLeaseAsync();
        Assert.False((await first.RunOnceAsync(now.AddMinutes(12))).LeaseHeldElsewhere);
    }

    [Fact]
    public async Task In_progress_and_final_payouts_cannot_be_cancelled_or_approved()
    {
        var pending = await LightningPayoutAsync();
        _node.PendingHashes.Add(pending.Destination.PaymentHash!.Value);
        var completed = await LightningPayoutAsync();
        await Processor().RunOnceAsync(_time.GetUtcNow());
        Assert.Equal(PayoutState.InProgress, (await Get(pending)).State);
        Assert.Equal(PayoutState.Completed, (await Get(completed)).State);
        foreach (var p in new[] { pending, completed })
        {
            Assert.Equal(PayoutsErrorReason.InvalidState, (await Assert.ThrowsAsync<PayoutsException>(() => _service.CancelAsync(p.Id))).Reason);
            Assert.Equal(PayoutsErrorReason.InvalidState, (await Assert.ThrowsAsync<PayoutsException>(() => _service.ApproveAsync(p.Id))).Reason);
        }

        // Archiving leaves in-progress payouts alone (they may be paid already).
        Assert.Empty(await _service.ArchivePullPaymentAsync(_pull.Id));
        Assert.Equal(PayoutState.InProgress, (await Get(pending)).State);
    }

    [Fact]
    public async Task One_invoice_backs_at_most_one_payout()
    {
        var invoice = Kit.Invoice(new MilliSatoshi(10_000_000), _time.GetUtcNow());
        var first = await _service.ClaimAsync(_pull.Id, invoice, null);
        var otherPull = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "store1", Name = "q", Amount = 1m, Currency = "BTC", AutoApproveClaims = true });
        Assert.Equal(PayoutsErrorReason.InvalidDestination, (await Assert.ThrowsAsync<PayoutsException>(() => _service.ClaimAsync(otherPull.Id, invoice, null))).Reason);
        Assert.Equal(PayoutsErrorReason.InvalidDestination, (await Assert.ThrowsAsync<PayoutsException>(() => _service.CreatePayoutAsync("store1", invoice, 0.0001m, "BTC"))).Reason);

        // Two payouts for one invoice slipped in (e.g. concurrent claims on two pull payments): the processor pays one.
        var twin = first with { Id = PayoutId.New(), PullPaymentId = otherPull.Id, Version = 0, CreatedAt = first.CreatedAt.AddSeconds(1) };
        var changes = new PayoutChangeSet();
        changes.Payouts.Add(twin);
        changes.PullPayments.Add(otherPull with { Claimed = twin.Amount });
        await _store.CommitAsync(changes);

        await Processor().RunOnceAsync(_time.GetUtcNow());

        Assert.Equal(PayoutState.Completed, (await Get(first)).State);
        var failed = await Get(twin);
        Assert.Equal(PayoutState.Failed, failed.State);
        Assert.Equal("another payout already pays this invoice", failed.FailureReason);
        Assert.Equal(1, _node.TimesPaid[first.Destination.PaymentHash!.Value]);
        Assert.Equal(0m, (await _service.GetPullPaymentAsync(otherPull.Id)).Claimed);
    }

    [Fact]
    public void Bad_options_are_refused()
    {
        Assert.Equal(PayoutsErrorReason.InvalidConfiguration, Assert.Throws<PayoutsException>(() =>
            Processor(new PayoutProcessorOptions { Network = Kit.Network, MaxOnChainBatchSize = 0 })).Reason);
    }

    private sealed class ThrowingLightning : ILightningPayoutSender
    {
        public Task<LightningPaymentStatus> PayAsync(LightningPayoutRequest request, CancellationToken cancellationToken) =>
            throw new HttpRequestException("node unreachable");

        public Task<LightningPaymentStatus> GetStatusAsync(PaymentHash paymentHash, CancellationToken cancellationToken) =>
            throw new HttpRequestException("node unreachable");
    }
}

public sealed class PayoutProcessorRunnerTests
{
    [Fact]
    public async Task The_runner_pays_on_its_schedule_and_releases_the_lease_when_stopped()
    {
        var time = new FakeTimeProvider(Kit.Start);
        await using var store = PayoutStore.CreateInMemory();
        var service = new PayoutService(store, time, new PayoutServiceOptions { Network = Kit.Network });
        var pull = await service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "s", Name = "n", Amount = 1m, Currency = "BTC", AutoApproveClaims = true });
        var node = new FakeLightningNode();
        var processor = new PayoutProcessor("s", store, new PayoutProcessorOptions { Network = Kit.Network, InstanceId = "a" }, node, null);
        var runner = new PayoutProcessorRunner(processor, time, TimeSpan.FromMinutes(1));
        var runs = 0;
        runner.RunCompleted += (_, _) => Interlocked.Increment(ref runs);
        using var cts = new CancellationTokenSource();
        var loop = runner.RunAsync(cts.Token);
        await WaitUntil(() => runs == 1);

        var payout = await service.ClaimAsync(pull.Id, Kit.Invoice(new MilliSatoshi(5000)), null);
        await Task.Delay(100);
        Assert.Equal(PayoutState.AwaitingPayment, (await store.GetPayoutAsync(payout.Id))!.State);
        time.Advance(TimeSpan.FromMinutes(1));
        await WaitUntil(() => runs == 2);
        Assert.Equal(PayoutState.Completed, (await store.GetPayoutAsync(payout.Id))!.State);

        await cts.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True((await store.GetLeaseAsync("payout-processor:s"))!.ExpiresAt < time.GetUtcNow());
        var other = new PayoutProcessor("s", store, new PayoutProcessorOptions { Network = Kit.Network, InstanceId = "b" }, node, null);
        Assert.False((await other.RunOnceAsync(time.GetUtcNow())).LeaseHeldElsewhere);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }
}
