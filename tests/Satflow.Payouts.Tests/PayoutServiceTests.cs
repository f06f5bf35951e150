using Microsoft.Extensions.Time.Testing;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Tests;

public sealed class PayoutServiceTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(Kit.Start);
    private readonly PayoutStore _store = PayoutStore.CreateInMemory();
    private readonly PayoutService _service;
    private readonly List<PayoutChangedEventArgs> _events = [];

    public PayoutServiceTests()
    {
        _service = new PayoutService(_store, _time, new PayoutServiceOptions { Network = Kit.Network });
        _service.PayoutChanged += (_, e) => _events.Add(e);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private Task<PullPayment> PullAsync(decimal amount = 0.01m, string currency = "BTC", decimal? min = null, decimal? max = null, bool autoApprove = false,
        IReadOnlyList<PayoutMethod>? methods = null, DateTimeOffset? expires = null, DateTimeOffset? starts = null) =>
        _service.CreatePullPaymentAsync(new CreatePullPaymentRequest
        {
            StoreId = "store1",
            Name = "Refund #42",
            Amount = amount,
            Currency = currency,
            MinimumClaim = min,
            MaximumClaim = max,
            AutoApproveClaims = autoApprove,
            Methods = methods,
            ExpiresAt = expires,
            StartsAt = starts,
        });

    private static async Task<PayoutsException> Fails(PayoutsErrorReason reason, Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<PayoutsException>(action);
        Assert.Equal(reason, e.Reason);
        return e;
    }

    [Fact]
    public async Task Claim_approve_and_states_of_an_on_chain_payout()
    {
        var pull = await PullAsync();
        Assert.Equal(1, pull.Version);
        var address = Kit.Address();

        var payout = await _service.ClaimAsync(pull.Id, address, 0.004m);
        Assert.Equal(PayoutState.AwaitingApproval, payout.State);
        Assert.Equal(PayoutMethod.OnChain, payout.Method);
        Assert.Equal(PayoutDestinationKind.OnChainAddress, payout.Destination.Kind);
        Assert.Equal(0.004m, (await _service.GetPullPaymentAsync(pull.Id)).Claimed);
        Assert.Null(payout.PayAmount);

        var approved = await _service.ApproveAsync(payout.Id);
        Assert.Equal(PayoutState.AwaitingPayment, approved.State);
        Assert.Equal(MilliSatoshi.FromSatoshis(400_000), approved.PayAmount);
        Assert.Equal(1m, approved.Rate);
        Assert.Equal(approved, await _service.GetPayoutAsync(payout.Id));
        Assert.Equal([null, PayoutState.AwaitingApproval], _events.Select(e => e.PreviousState));

        await Fails(PayoutsErrorReason.InvalidState, () => _service.ApproveAsync(payout.Id));
    }

    [Fact]
    public async Task Fiat_payouts_are_converted_at_the_approval_rate()
    {
        var pull = await PullAsync(100m, "USD");
        var payout = await _service.ClaimAsync(pull.Id, Kit.Invoice(), 25m);
        await Fails(PayoutsErrorReason.InvalidArgument, () => _service.ApproveAsync(payout.Id));
        await Fails(PayoutsErrorReason.InvalidArgument, () => _service.ApproveAsync(payout.Id, 0m));
        // 1 USD = 0.00001 BTC: 25 USD = 0.00025 BTC = 25,000,000 msat.
        var approved = await _service.ApproveAsync(payout.Id, 0.00001m);
        Assert.Equal(new MilliSatoshi(25_000_000), approved.PayAmount);
        Assert.Equal(PayoutMethod.Lightning, approved.Method);
    }

    [Fact]
    public async Task A_btc_payout_is_approved_only_at_rate_one()
    {
        var pull = await PullAsync();
        var payout = await _service.ClaimAsync(pull.Id, Kit.Address(), 0.001m);
        await Fails(PayoutsErrorReason.InvalidArgument, () => _service.ApproveAsync(payout.Id, 2m));
        Assert.Equal(PayoutState.AwaitingPayment, (await _service.ApproveAsync(payout.Id, 1m)).State);
    }

    [Fact]
    public async Task On_chain_payouts_below_dust_are_refused_at_approval()
    {
        var pull = await PullAsync();
        var payout = await _service.ClaimAsync(pull.Id, Kit.Address(), 0.000005m);
        await Fails(PayoutsErrorReason.LimitExceeded, () => _service.ApproveAsync(payout.Id));
        Assert.Equal(PayoutState.AwaitingApproval, (await _service.GetPayoutAsync(payout.Id)).State);
    }

    [Fact]
    public async Task Cancelling_from_either_awaiting_state_gives_the_claim_back()
    {
        var pull = await PullAsync(0.01m);
        var a = await _service.ClaimAsync(pull.Id, Kit.Address(), 0.004m);
        var b = await _service.ClaimAsync(pull.Id, Kit.Address(), 0.006m);
        await Fails(PayoutsErrorReason.LimitExceeded, () => _service.ClaimAsync(pull.Id, Kit.Address(), 0.0001m));
        await _service.ApproveAsync(b.Id);

        var ca = await _service.CancelAsync(a.Id);
        var cb = await _service.CancelAsync(b.Id, "customer asked");
        Assert.Equal(PayoutState.Cancelled, ca.State);
        Assert.Equal("customer asked", cb.FailureReason);
        Assert.Equal(0m, (await _service.GetPullPaymentAsync(pull.Id)).Claimed);
        await Fails(PayoutsErrorReason.InvalidState, () => _service.CancelAsync(a.Id));
        await Fails(PayoutsErrorReason.InvalidState, () => _service.ApproveAsync(a.Id));
        Assert.Equal(PayoutState.AwaitingApproval, (await _service.ClaimAsync(pull.Id, Kit.Address(), 0.01m)).State);
    }

    [Fact]
    public async Task Per_claim_limits_and_remaining_amount_are_enforced()
    {
        var pull = await PullAsync(0.01m, min: 0.001m, max: 0.005m);
        await Fails(PayoutsErrorReason.LimitExceeded, () => _service.ClaimAsync(pull.Id, Kit.Address(), 0.0009m));
        await Fails(PayoutsErrorReason.LimitExceeded, () => _service.ClaimAsync(pull.Id, Kit.Address(), 0.0051m));
        await _service.ClaimAsync(pull.Id, Kit.Address(), 0.005m);
        await _service.ClaimAsync(pull.Id, Kit.Address(), 0.004m);
        var e = await Fails(PayoutsErrorReason.LimitExceeded, () => _service.ClaimAsync(pull.Id, Kit.Address(), 0.002m));
        Assert.Contains("0.001", e.Message, StringComparison.Ordinal);
        await Fails(PayoutsErrorReason.InvalidArgument, () => _service.ClaimAsync(pull.Id, Kit.Address(), null));
        await Fails(PayoutsErrorReason.InvalidArgument, () => _service.ClaimAsync(pull.Id, Kit.Address(), -1m));
    }

    [Fact]
    public async Task Inactive_pull_payments_take_no_claims()
    {
        var expiring = await PullAsync(expires: Kit.Start.AddDays(1));
        var future = await PullAsync(starts: Kit.Start.AddDays(1));
        await Fails(PayoutsErrorReason.NotActive, () => _service.ClaimAsync(future.Id, Kit.Address(), 0.001m));
        _time.Advance(TimeSpan.FromDays(1));
        await Fails(PayoutsErrorReason.NotActive, () => _service.ClaimAsync(expiring.Id, Kit.Address(), 0.001m));
        Assert.Equal(PayoutState.AwaitingApproval, (await _service.ClaimAsync(future.Id, Kit.Address(), 0.001m)).State);
    }

    [Fact]
    public async Task Archiving_cancels_unpaid_payouts_and_blocks_claims()
    {
        var pull = await PullAsync();
        var a = await _service.ClaimAsync(pull.Id, Kit.Address(), 0.001m);
        var b = await _service.ClaimAsync(pull.Id, Kit.Address(), 0.002m);
        await _service.ApproveAsync(b.Id);
        var cancelled = await _service.ArchivePullPaymentAsync(pull.Id);
        Assert.Equal(new[] { a.Id, b.Id }.OrderBy(i => i.Value), cancelled.Select(p => p.Id).OrderBy(i => i.Value));
        Assert.All(cancelled, p => Assert.Equal(PayoutState.Cancelled, p.State));
        var archived = await _service.GetPullPaymentAsync(pull.Id);
        Assert.True(archived.Archived);
        Assert.Equal(0m, archived.Claimed);
        await Fails(PayoutsErrorReason.NotActive, () => _service.ClaimAsync(pull.Id, Kit.Address(), 0.001m));
    }

    [Fact]
    public async Task Invoices_with_an_amount_claim_that_amount()
    {
        var pull = await PullAsync(0.01m, autoApprove: true);
        var invoice = Kit.Invoice(new MilliSatoshi(150_000_000));
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, invoice, 0.002m));
        var payout = await _service.ClaimAsync(pull.Id, "lightning:" + invoice.ToUpperInvariant(), null);
        Assert.Equal(0.0015m, payout.Amount);
        Assert.Equal(PayoutState.AwaitingPayment, payout.State);
        Assert.Equal(new MilliSatoshi(150_000_000), payout.PayAmount);
        Assert.Equal(invoice, payout.Destination.Value);
        Assert.Equal(Bolt11Invoice.Decode(invoice).PaymentHash, payout.Destination.PaymentHash);

        // The same invoice cannot be claimed twice while the first claim is active.
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, invoice, null));

        var usd = await PullAsync(100m, "USD");
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(usd.Id, Kit.Invoice(new MilliSatoshi(1000)), null));
    }

    [Fact]
    public async Task Auto_approval_applies_to_btc_only()
    {
        var usd = await PullAsync(100m, "USD", autoApprove: true);
        Assert.Equal(PayoutState.AwaitingApproval, (await _service.ClaimAsync(usd.Id, Kit.Address(), 10m)).State);
        var btc = await PullAsync(autoApprove: true);
        Assert.Equal(PayoutState.AwaitingPayment, (await _service.ClaimAsync(btc.Id, Kit.Address(), 0.001m)).State);
    }

    [Fact]
    public async Task Bad_destinations_are_typed_errors()
    {
        var pull = await PullAsync(methods: [PayoutMethod.Lightning]);
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, Kit.Address(), 0.001m));
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, "lnbcrt1garbage", 0.001m));
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, Kit.Invoice(network: Bolt11Network.Bitcoin), 0.001m));
        // An invoice is accepted until it expires.
        await _service.ClaimAsync(pull.Id, Kit.Invoice(expirySeconds: 60), 0.001m);
        _time.Advance(TimeSpan.FromMinutes(2));
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, Kit.Invoice(expirySeconds: 60), 0.001m));
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, "", 0.001m));
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, "bcrt1qnotanaddress", 0.001m));
        await Fails(PayoutsErrorReason.NotFound, () => _service.ClaimAsync(PullPaymentId.New(), Kit.Address(), 0.001m));
    }

    [Fact]
    public async Task Mainnet_addresses_are_refused_on_regtest_and_taproot_is_accepted()
    {
        var pull = await PullAsync();
        var mainnet = new NBitcoin.Key().PubKey.GetAddress(NBitcoin.ScriptPubKeyType.Segwit, NBitcoin.Network.Main).ToString();
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.ClaimAsync(pull.Id, mainnet, 0.001m));
        Assert.Equal(PayoutMethod.OnChain, (await _service.ClaimAsync(pull.Id, "bitcoin:" + Kit.TaprootAddress(), 0.001m)).Method);
    }

    [Fact]
    public async Task Invalid_pull_payments_are_refused()
    {
        await Fails(PayoutsErrorReason.InvalidArgument, () => PullAsync(0m));
        await Fails(PayoutsErrorReason.InvalidArgument, () => PullAsync(1m, "btc"));
        await Fails(PayoutsErrorReason.InvalidArgument, () => PullAsync(1m, min: 2m, max: 1m));
        await Fails(PayoutsErrorReason.InvalidArgument, () => PullAsync(1m, expires: Kit.Start.AddSeconds(-1)));
        await Fails(PayoutsErrorReason.InvalidArgument, () => PullAsync(1m, methods: []));
    }

    [Fact]
    public async Task Direct_payouts_await_approval_and_check_invoice_amounts()
    {
        var payout = await _service.CreatePayoutAsync("store1", Kit.Address(), 0.002m, "BTC");
        Assert.Null(payout.PullPaymentId);
        Assert.Equal(PayoutState.AwaitingApproval, payout.State);
        Assert.Equal(PayoutState.Cancelled, (await _service.CancelAsync(payout.Id)).State);
        await Fails(PayoutsErrorReason.InvalidDestination, () => _service.CreatePayoutAsync("store1", Kit.Invoice(new MilliSatoshi(1000)), 0.002m, "BTC"));
        Assert.Equal(0.00000001m, (await _service.CreatePayoutAsync("store1", Kit.Invoice(new MilliSatoshi(1000)), 0.00000001m, "BTC")).Amount);
    }

    [Fact]
    public async Task Concurrent_claims_never_exceed_the_pull_payment()
    {
        var pull = await PullAsync(0.01m);
        var claims = Enumerable.Range(0, 30).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await _service.ClaimAsync(pull.Id, Kit.Address(), 0.001m);
            }
            catch (PayoutsException e) when (e.Reason is PayoutsErrorReason.LimitExceeded or PayoutsErrorReason.Conflict)
            {
                return null;
            }
        })).ToArray();
        var made = (await Task.WhenAll(claims)).Where(p => p is not null).ToArray();
        Assert.True(made.Length <= 10);
        var stored = await _service.ListPayoutsAsync(new PayoutQuery { PullPaymentId = pull.Id });
        Assert.Equal([pull.Id], (await _service.ListPullPaymentsAsync("store1")).Select(p => p.Id));
        Assert.Equal(made.Length, stored.Count);
        Assert.Equal(stored.Sum(p => p.Amount), (await _service.GetPullPaymentAsync(pull.Id)).Claimed);
        Assert.True(stored.Sum(p => p.Amount) <= 0.01m);
    }

    [Fact]
    public void Ids_are_validated()
    {
        Assert.Equal(PayoutsErrorReason.InvalidArgument, Assert.Throws<PayoutsException>(() => new PayoutId("")).Reason);
        Assert.Equal(PayoutsErrorReason.InvalidArgument, Assert.Throws<PayoutsException>(() => new PullPaymentId("a b")).Reason);
        Assert.Equal(PayoutsErrorReason.InvalidArgument, Assert.Throws<PayoutsException>(() => new PayoutBatchId(new string('a', 65))).Reason);
        Assert.Equal("abc-_1", new PaymentRequestId("abc-_1").ToString());
        Assert.Equal(32, PayoutId.New().Value.Length);
    }
}
