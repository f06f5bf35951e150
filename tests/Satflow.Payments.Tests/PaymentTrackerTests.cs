using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Payments.Tests;

public sealed class PaymentTrackerTests
{
    private static readonly PaymentPreimage Preimage = TestEnv.PreimageOf(0x5a);
    private static readonly PaymentHash Hash = Preimage.Hash;
    private static readonly NodeId Destination = TestEnv.NodeIdOf(0x22);
    private static readonly MilliSatoshi Amount = new(42_000);

    [Theory]
    [MemberData(nameof(TestEnv.StoreKinds), MemberType = typeof(TestEnv))]
    public async Task PayingTheSameHashTwice_IsRefusedWhilePendingAndAfterSuccess(string kind)
    {
        using var dir = new TempDir();
        await using var store = await TestEnv.OpenAsync(kind, dir.Path);
        var clock = TestEnv.Clock();
        var tracker = new PaymentTracker(store, clock);

        var pending = await tracker.BeginAsync(Hash, Amount, Destination, "lnbcrt1example");
        Assert.Equal(OutgoingPaymentState.Pending, pending.State);
        Assert.Equal(1U, pending.Attempts);
        Assert.Equal(TestEnv.Start, pending.StartedAt);

        var whilePending = await Assert.ThrowsAsync<DuplicatePaymentException>(() => tracker.BeginAsync(Hash, Amount, Destination));
        Assert.Equal(OutgoingPaymentState.Pending, whilePending.ExistingState);
        Assert.Equal(PaymentsErrorReason.DuplicatePayment, whilePending.Reason);
        Assert.Equal(pending, await tracker.LookupAsync(Hash));

        clock.Advance(TimeSpan.FromSeconds(3));
        var succeeded = await tracker.SucceedAsync(Hash, Preimage, new MilliSatoshi(17));
        Assert.Equal(OutgoingPaymentState.Succeeded, succeeded.State);
        Assert.Equal(Preimage, succeeded.Preimage);
        Assert.Equal(new MilliSatoshi(17), succeeded.Fee);
        Assert.Equal(clock.GetUtcNow(), succeeded.CompletedAt);
        Assert.Equal(succeeded, await tracker.LookupAsync(Hash));

        var afterSuccess = await Assert.ThrowsAsync<DuplicatePaymentException>(() => tracker.BeginAsync(Hash, Amount, Destination));
        Assert.Equal(OutgoingPaymentState.Succeeded, afterSuccess.ExistingState);
        Assert.Equal(succeeded, await tracker.LookupAsync(Hash));
    }

    [Fact]
    public async Task AFailedPayment_MayBeRetried_IncrementingTheAttemptCounter()
    {
        await using var store = new InMemoryKeyValueStore();
        var clock = TestEnv.Clock();
        var tracker = new PaymentTracker(store, clock);
        await tracker.BeginAsync(Hash, Amount, Destination);

        var failed = await tracker.FailAsync(Hash, PaymentFailureReason.NoRoute, "no route to 02..");
        Assert.Equal(OutgoingPaymentState.Failed, failed.State);
        Assert.Equal(PaymentFailureReason.NoRoute, failed.FailureReason);
        Assert.Equal("no route to 02..", failed.FailureMessage);

        clock.Advance(TimeSpan.FromMinutes(1));
        var retry = await tracker.BeginAsync(Hash, new MilliSatoshi(43_000), Destination);
        Assert.Equal(OutgoingPaymentState.Pending, retry.State);
        Assert.Equal(2U, retry.Attempts);
        Assert.Null(retry.FailureReason);
        Assert.Null(retry.FailureMessage);
        Assert.Null(retry.CompletedAt);
        Assert.Equal(clock.GetUtcNow(), retry.StartedAt);

        await tracker.FailAsync(Hash, PaymentFailureReason.RouteFailed, "temporary_channel_failure");
        Assert.Equal(3U, (await tracker.BeginAsync(Hash, Amount, Destination)).Attempts);
        await Assert.ThrowsAsync<DuplicatePaymentException>(() => tracker.BeginAsync(Hash, Amount, Destination));
    }

    [Fact]
    public async Task Succeed_WithAWrongPreimage_IsRefusedAndStaysPending()
    {
        await using var store = new InMemoryKeyValueStore();
        var tracker = new PaymentTracker(store, TestEnv.Clock());
        var pending = await tracker.BeginAsync(Hash, Amount, Destination);

        var error = await Assert.ThrowsAsync<PaymentStateException>(() => tracker.SucceedAsync(Hash, TestEnv.PreimageOf(0x5b), MilliSatoshi.Zero));

        Assert.Equal(PaymentsErrorReason.WrongPreimage, error.Reason);
        Assert.Equal(pending, await tracker.LookupAsync(Hash));
    }

    [Fact]
    public async Task SucceedOrFail_OnAnUnknownOrFinishedPayment_IsATypedError()
    {
        await using var store = new InMemoryKeyValueStore();
        var tracker = new PaymentTracker(store, TestEnv.Clock());

        var notFound = await Assert.ThrowsAsync<PaymentStateException>(() => tracker.SucceedAsync(Hash, Preimage, MilliSatoshi.Zero));
        Assert.Equal(PaymentsErrorReason.PaymentNotFound, notFound.Reason);
        var failNotFound = await Assert.ThrowsAsync<PaymentStateException>(() => tracker.FailAsync(Hash, PaymentFailureReason.Other, "x"));
        Assert.Equal(PaymentsErrorReason.PaymentNotFound, failNotFound.Reason);

        await tracker.BeginAsync(Hash, Amount, Destination);
        await tracker.FailAsync(Hash, PaymentFailureReason.Timeout, "timed out");
        var succeedFailed = await Assert.ThrowsAsync<PaymentStateException>(() => tracker.SucceedAsync(Hash, Preimage, MilliSatoshi.Zero));
        Assert.Equal(PaymentsErrorReason.PaymentNotPending, succeedFailed.Reason);
        var failFailed = await Assert.ThrowsAsync<PaymentStateException>(() => tracker.FailAsync(Hash, PaymentFailureReason.Other, "again"));
        Assert.Equal(PaymentsErrorReason.PaymentNotPending, failFailed.Reason);
        Assert.Equal(OutgoingPaymentState.Failed, (await tracker.LookupAsync(Hash))!.State);
    }

    [Fact]
    public async Task InvalidArguments_AreRefusedWithoutWriting()
    {
        await using var store = new InMemoryKeyValueStore();
        var tracker = new PaymentTracker(store, TestEnv.Clock());
        var zero = await Assert.ThrowsAsync<PaymentsException>(() => tracker.BeginAsync(Hash, MilliSatoshi.Zero, Destination));
        Assert.Equal(PaymentsErrorReason.InvalidArgument, zero.Reason);
        var tooMuch = await Assert.ThrowsAsync<PaymentsException>(() => tracker.BeginAsync(Hash, new MilliSatoshi(MilliSatoshi.MaxMoney.Value + 1), Destination));
        Assert.Equal(PaymentsErrorReason.InvalidArgument, tooMuch.Reason);
        Assert.Equal(0, store.Count);

        await tracker.BeginAsync(Hash, Amount, Destination);
        var badReason = await Assert.ThrowsAsync<PaymentsException>(() => tracker.FailAsync(Hash, (PaymentFailureReason)99, "x"));
        Assert.Equal(PaymentsErrorReason.InvalidArgument, badReason.Reason);
        Assert.Equal(OutgoingPaymentState.Pending, (await tracker.LookupAsync(Hash))!.State);
    }

    [Fact]
    public async Task Fail_TruncatesAVeryLongMessage()
    {
        await using var store = new InMemoryKeyValueStore();
        var tracker = new PaymentTracker(store, TestEnv.Clock());
        await tracker.BeginAsync(Hash, Amount, Destination);
        var failed = await tracker.FailAsync(Hash, PaymentFailureReason.Other, new string('x', 5000));
        Assert.Equal(PaymentTracker.MaxFailureMessageLength, failed.FailureMessage!.Length);
        Assert.Equal(failed, await tracker.LookupAsync(Hash));
    }

    [Fact]
    public async Task Restart_ReopeningTheSqliteStore_KeepsPaymentsAndTheDuplicateRule()
    {
        using var dir = new TempDir();
        var clock = TestEnv.Clock();
        var other = TestEnv.PreimageOf(0x77);
        await using (var store = await TestEnv.OpenAsync("sqlite", dir.Path))
        {
            var tracker = new PaymentTracker(store, clock);
            await tracker.BeginAsync(Hash, Amount, Destination);
            await tracker.BeginAsync(other.Hash, Amount, Destination);
            await tracker.SucceedAsync(other.Hash, other, new MilliSatoshi(3));
        }

        await using (var store = await TestEnv.OpenAsync("sqlite", dir.Path))
        {
            var tracker = new PaymentTracker(store, clock);
            var all = await tracker.ListAsync();
            Assert.Equal(2, all.Count);
            Assert.Equal(OutgoingPaymentState.Pending, all.Single(p => p.PaymentHash == Hash).State);
            Assert.Equal(other, all.Single(p => p.PaymentHash == other.Hash).Preimage);
            await Assert.ThrowsAsync<DuplicatePaymentException>(() => tracker.BeginAsync(Hash, Amount, Destination));
            await Assert.ThrowsAsync<DuplicatePaymentException>(() => tracker.BeginAsync(other.Hash, Amount, Destination));
            Assert.Equal(Preimage, (await tracker.SucceedAsync(Hash, Preimage, MilliSatoshi.Zero)).Preimage);
        }
    }

    [Fact]
    public async Task ConcurrentBegins_ForOneHash_OnlyOneWins()
    {
        await using var store = new InMemoryKeyValueStore();
        var tracker = new PaymentTracker(store, TestEnv.Clock());
        var attempts = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            try
            {
                await tracker.BeginAsync(Hash, Amount, Destination);
                return true;
            }
            catch (DuplicatePaymentException)
            {
                return false;
            }
        })).ToArray();
        var results = await Task.WhenAll(attempts);
        Assert.Single(results, won => won);
        Assert.Equal(1U, (await tracker.LookupAsync(Hash))!.Attempts);
    }
}
