using Microsoft.Extensions.Time.Testing;
using Satflow.Lightning.Types;
using Satflow.Payouts.Lnurl;

namespace Satflow.Payouts.Tests;

public sealed class PaymentRequestTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(Kit.Start);
    private readonly PayoutStore _store = PayoutStore.CreateInMemory();
    private readonly PaymentRequestService _service;

    public PaymentRequestTests() => _service = new PaymentRequestService(_store, _time);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private Task<PaymentRequest> Create(bool partial = false, DateTimeOffset? expires = null) =>
        _service.CreateAsync(new CreatePaymentRequest { StoreId = "s1", Title = "Invoice #7", Amount = 100m, Currency = "EUR", AllowPartialPayments = partial, ExpiresAt = expires });

    [Fact]
    public async Task Full_payment_completes_the_request()
    {
        var request = await Create();
        Assert.Equal(PaymentRequestStatus.Pending, request.StatusAt(_time.GetUtcNow()));
        Assert.Equal(100m, await _service.NextInvoiceAmountAsync(request.Id, null));
        Assert.Equal(100m, await _service.NextInvoiceAmountAsync(request.Id, 100m));
        var e = await Assert.ThrowsAsync<PayoutsException>(() => _service.NextInvoiceAmountAsync(request.Id, 40m));
        Assert.Equal(PayoutsErrorReason.LimitExceeded, e.Reason);

        var paid = await _service.RecordPaymentAsync(request.Id, "inv1", 100m);
        Assert.Equal(PaymentRequestStatus.Completed, paid.StatusAt(_time.GetUtcNow()));
        Assert.Equal(0m, paid.AmountDue);
        Assert.Equal(PayoutsErrorReason.NotActive, (await Assert.ThrowsAsync<PayoutsException>(() => _service.NextInvoiceAmountAsync(request.Id, null))).Reason);
    }

    [Fact]
    public async Task Partial_payments_add_up_and_are_idempotent_per_invoice()
    {
        var request = await Create(partial: true);
        Assert.Equal(30m, await _service.NextInvoiceAmountAsync(request.Id, 30m));
        await _service.RecordPaymentAsync(request.Id, "inv1", 30m);
        await _service.RecordPaymentAsync(request.Id, "inv1", 30m);
        var after = await _service.GetAsync(request.Id);
        Assert.Single(after.Payments);
        Assert.Equal(70m, after.AmountDue);
        Assert.Equal(70m, await _service.NextInvoiceAmountAsync(request.Id, null));
        Assert.Equal(PayoutsErrorReason.LimitExceeded, (await Assert.ThrowsAsync<PayoutsException>(() => _service.NextInvoiceAmountAsync(request.Id, 71m))).Reason);
        Assert.Equal(PayoutsErrorReason.LimitExceeded, (await Assert.ThrowsAsync<PayoutsException>(() => _service.NextInvoiceAmountAsync(request.Id, 0m))).Reason);
        await _service.RecordPaymentAsync(request.Id, "inv2", 70m);
        Assert.Equal(PaymentRequestStatus.Completed, (await _service.GetAsync(request.Id)).StatusAt(_time.GetUtcNow()));
    }

    [Fact]
    public async Task Expiry_and_archiving_stop_new_invoices_but_late_payments_still_count()
    {
        var request = await Create(expires: Kit.Start.AddDays(1));
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(PaymentRequestStatus.Expired, (await _service.GetAsync(request.Id)).StatusAt(_time.GetUtcNow()));
        Assert.Equal(PayoutsErrorReason.NotActive, (await Assert.ThrowsAsync<PayoutsException>(() => _service.NextInvoiceAmountAsync(request.Id, null))).Reason);
        Assert.Equal(100m, (await _service.RecordPaymentAsync(request.Id, "late", 100m)).AmountPaid);

        var other = await Create();
        var archived = await _service.ArchiveAsync(other.Id);
        Assert.Equal(PaymentRequestStatus.Archived, archived.StatusAt(_time.GetUtcNow()));
        Assert.Equal(archived.Version, (await _service.ArchiveAsync(other.Id)).Version);
        Assert.Equal(PayoutsErrorReason.NotActive, (await Assert.ThrowsAsync<PayoutsException>(() => _service.NextInvoiceAmountAsync(other.Id, null))).Reason);
        Assert.Equal([request.Id, other.Id], (await _service.ListAsync("s1")).Select(r => r.Id));
    }

    [Fact]
    public async Task Invalid_requests_are_typed_errors()
    {
        async Task Bad(CreatePaymentRequest r) =>
            Assert.Equal(PayoutsErrorReason.InvalidArgument, (await Assert.ThrowsAsync<PayoutsException>(() => _service.CreateAsync(r))).Reason);
        await Bad(new CreatePaymentRequest { StoreId = "s", Title = "t", Amount = 0m, Currency = "EUR" });
        await Bad(new CreatePaymentRequest { StoreId = "s", Title = " ", Amount = 1m, Currency = "EUR" });
        await Bad(new CreatePaymentRequest { StoreId = "s", Title = "t", Amount = 1m, Currency = "euro" });
        await Bad(new CreatePaymentRequest { StoreId = "s", Title = "t", Amount = 1m, Currency = "EUR", ExpiresAt = Kit.Start });
        var request = await Create();
        await Assert.ThrowsAsync<PayoutsException>(() => _service.RecordPaymentAsync(request.Id, "", 1m));
        await Assert.ThrowsAsync<PayoutsException>(() => _service.RecordPaymentAsync(request.Id, "i", -1m));
        Assert.Equal(PayoutsErrorReason.NotFound, (await Assert.ThrowsAsync<PayoutsException>(() => _service.GetAsync(PaymentRequestId.New()))).Reason);
    }
}

public sealed class LnurlWithdrawClaimTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(Kit.Start);
    private readonly PayoutStore _store = PayoutStore.CreateInMemory();
    private readonly PayoutService _service;
    private static readonly Uri Callback = new("https://shop.example/pull/withdraw");

    public LnurlWithdrawClaimTests() => _service = new PayoutService(_store, _time, new PayoutServiceOptions { Network = Kit.Network });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_wallet_claims_through_lnurl_withdraw()
    {
        var pull = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest
        {
            StoreId = "s1", Name = "Refund", Description = "Refund for order 9", Amount = 0.0005m, Currency = "BTC", MaximumClaim = 0.0003m, AutoApproveClaims = true,
        });

        // What the wallet sees after decoding the pull payment's LNURL and GETting it.
        var request = LnurlWithdrawRequest.Parse((await _service.GetWithdrawRequestAsync(pull.Id, Callback)).ToJson());
        Assert.Equal(pull.Id.Value, request.K1);
        Assert.Equal("Refund for order 9", request.DefaultDescription);
        Assert.Equal(new MilliSatoshi(1000), request.MinWithdrawable);
        Assert.Equal(new MilliSatoshi(30_000_000), request.MaxWithdrawable);

        var invoice = Kit.Invoice(new MilliSatoshi(25_000_000), Kit.Start);
        var payout = await _service.ClaimByLnurlWithdrawAsync(pull.Id, request.K1, invoice);
        Assert.Equal(PayoutDestinationKind.LnurlWithdraw, payout.Destination.Kind);
        Assert.Equal(PayoutState.AwaitingPayment, payout.State);
        Assert.Equal(0.00025m, payout.Amount);

        // What remains shrinks the range.
        Assert.Equal(new MilliSatoshi(25_000_000), (await _service.GetWithdrawRequestAsync(pull.Id, Callback)).MaxWithdrawable);
        Assert.Equal(PayoutsErrorReason.InvalidArgument, (await Assert.ThrowsAsync<PayoutsException>(() => _service.ClaimByLnurlWithdrawAsync(pull.Id, "wrong", invoice))).Reason);
        Assert.Equal(PayoutsErrorReason.InvalidDestination, (await Assert.ThrowsAsync<PayoutsException>(() => _service.ClaimByLnurlWithdrawAsync(pull.Id, request.K1, Kit.Invoice(null, Kit.Start)))).Reason);
        Assert.Equal(PayoutsErrorReason.LimitExceeded, (await Assert.ThrowsAsync<PayoutsException>(() => _service.ClaimByLnurlWithdrawAsync(pull.Id, request.K1, Kit.Invoice(new MilliSatoshi(26_000_000), Kit.Start)))).Reason);
        await _service.ClaimByLnurlWithdrawAsync(pull.Id, request.K1, Kit.Invoice(new MilliSatoshi(25_000_000), Kit.Start));
        Assert.Equal(PayoutsErrorReason.LimitExceeded, (await Assert.ThrowsAsync<PayoutsException>(() => _service.GetWithdrawRequestAsync(pull.Id, Callback))).Reason);
    }

    [Fact]
    public async Task Only_active_btc_lightning_pull_payments_offer_lnurl_withdraw()
    {
        var usd = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "s1", Name = "n", Amount = 10m, Currency = "USD" });
        Assert.Equal(PayoutsErrorReason.InvalidDestination, (await Assert.ThrowsAsync<PayoutsException>(() => _service.GetWithdrawRequestAsync(usd.Id, Callback))).Reason);
        var chainOnly = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "s1", Name = "n", Amount = 1m, Currency = "BTC", Methods = [PayoutMethod.OnChain] });
        Assert.Equal(PayoutsErrorReason.InvalidDestination, (await Assert.ThrowsAsync<PayoutsException>(() => _service.GetWithdrawRequestAsync(chainOnly.Id, Callback))).Reason);
        var expiring = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "s1", Name = "n", Amount = 1m, Currency = "BTC", ExpiresAt = Kit.Start.AddHours(1) });
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(PayoutsErrorReason.NotActive, (await Assert.ThrowsAsync<PayoutsException>(() => _service.GetWithdrawRequestAsync(expiring.Id, Callback))).Reason);
        var ok = await _service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "s1", Name = "n", Amount = 1m, Currency = "BTC" });
        Assert.Equal(LnurlError.InvalidUrl, (await Assert.ThrowsAsync<LnurlException>(() => _service.GetWithdrawRequestAsync(ok.Id, new Uri("http://shop.example/cb")))).Error);
        Assert.Equal("http://127.0.0.1:5000/cb", (await _service.GetWithdrawRequestAsync(ok.Id, new Uri("http://127.0.0.1:5000/cb"), allowInsecureLoopback: true)).Callback.OriginalString);
    }
}
