using Microsoft.Extensions.Time.Testing;
using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Rates;

namespace Satflow.Merchant.Tests;

/// <summary>Deterministic payment method providers standing in for the node's wallet and Lightning node.</summary>
internal sealed class FakeOnChainProvider : IPaymentMethodProvider
{
    private int _next;

    public PaymentMethodId Method => PaymentMethodId.OnChain;

    public List<PaymentPromptRequest> Requests { get; } = [];

    public Task<PaymentPrompt> CreatePromptAsync(PaymentPromptRequest request, CancellationToken cancellationToken = default)
    {
        Requests.Add(request);
        return Task.FromResult(new PaymentPrompt(PaymentMethodId.OnChain, $"bcrt1qfakeaddress{_next++:D4}xyz", null));
    }
}

internal sealed class FakeLightningProvider : IPaymentMethodProvider
{
    private int _next;

    public PaymentMethodId Method => PaymentMethodId.Lightning;

    public Task<PaymentPrompt> CreatePromptAsync(PaymentPromptRequest request, CancellationToken cancellationToken = default)
    {
        var hash = new byte[32];
        hash[0] = (byte)++_next;
        hash[31] = (byte)(request.Amount.Value % 251);
        return Task.FromResult(new PaymentPrompt(PaymentMethodId.Lightning, $"lnbcrt{request.Amount.Value}n1fake{_next}", PaymentHash.FromBytes(hash)));
    }
}

public sealed class InvoiceServiceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private static Store Shop(string rules = "", string currency = "USD") =>
        new(new StoreId("shop"), "Shop", currency, rules, InvoicePolicy.Default, T0);

    private static (InvoiceService Service, FakeTimeProvider Time, FakeOnChainProvider Chain) Service()
    {
        var time = new FakeTimeProvider(T0);
        var chain = new FakeOnChainProvider();
        var rates = new RateRuleEvaluator([RateTableSource.Parse("BTC_USD = 50000/50100; USD_EUR = 0.9")]);
        return (new InvoiceService(time, rates, [chain, new FakeLightningProvider()]), time, chain);
    }

    [Theory]
    [InlineData("1", "BTC", 100_000_000_000UL)]
    [InlineData("0.00000000001", "BTC", 1UL)]
    [InlineData("2500", "SATS", 2_500_000UL)]
    [InlineData("0.001", "sats", 1UL)]
    [InlineData("50", "USD", 100_000_000UL)]
    [InlineData("1", "USD", 2_000_000UL)]
    [InlineData("0.01", "USD", 20_000UL)]
    [InlineData("0.013", "USD", 26_000UL)]
    public async Task Amounts_convert_exactly_or_via_the_bid_rounded_up_to_a_satoshi(string amount, string currency, ulong msat)
    {
        var (service, _, _) = Service();
        var (due, rate) = await service.ConvertAsync(Shop(), decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), currency);
        Assert.Equal(new MilliSatoshi(msat), due);
        Assert.Equal(currency.ToUpperInvariant() is "BTC" or "SATS", rate is null);
    }

    [Fact]
    public async Task Fiat_conversion_uses_the_store_rules_and_records_the_rate()
    {
        var (service, _, _) = Service();
        var (due, rate) = await service.ConvertAsync(Shop("BTC_EUR = BTC_USD * USD_EUR;"), 45m, "EUR");
        Assert.Equal(MilliSatoshi.FromSatoshis(100_000), due);
        Assert.Equal(new InvoiceRate("BTC_EUR", 45000m, "(BTC_USD * USD_EUR)"), rate);
    }

    [Theory]
    [InlineData("0", "BTC")]
    [InlineData("-1", "SATS")]
    [InlineData("0.000000000001", "BTC")]
    [InlineData("0.0001", "SATS")]
    [InlineData("22000000", "BTC")]
    [InlineData("1", "us dollars")]
    public async Task Bad_amounts_are_refused(string amount, string currency)
    {
        var (service, _, _) = Service();
        var e = await Assert.ThrowsAsync<MerchantException>(() => service.ConvertAsync(Shop(), decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), currency));
        Assert.Equal(MerchantErrorReason.InvalidArgument, e.Reason);
    }

    [Fact]
    public async Task A_currency_without_rate_is_a_typed_rate_error()
    {
        var (service, _, _) = Service();
        Assert.Equal(RateEvaluationError.PairUnavailable, (await Assert.ThrowsAsync<RateEvaluationException>(() => service.ConvertAsync(Shop(), 5m, "JPY"))).Error);
    }

    [Fact]
    public async Task Create_offers_both_methods_with_the_store_defaults()
    {
        var (service, _, chain) = Service();
        var invoice = await service.CreateAsync(Shop(), new CreateInvoiceRequest(50m) { OrderId = "A-1", MetadataJson = "{\"sku\":7}", RedirectUrl = new Uri("https://shop.example/done") });
        Assert.Equal(InvoiceStatus.New, invoice.Status);
        Assert.Equal(new InvoiceAmount(50m, "USD"), invoice.Requested);
        Assert.Equal(MilliSatoshi.FromSatoshis(100_000), invoice.AmountDue);
        Assert.Equal(T0 + InvoicePolicy.Default.InvoiceExpiry, invoice.ExpiresAt);
        Assert.Equal(invoice.ExpiresAt + InvoicePolicy.Default.MonitoringWindow, invoice.MonitoringExpiresAt);
        Assert.Equal([PaymentMethodId.OnChain, PaymentMethodId.Lightning], invoice.Prompts.Select(p => p.Method));
        Assert.Equal("A-1", chain.Requests.Single().Description);
        Assert.Equal(invoice.Id, chain.Requests.Single().InvoiceId);
        Assert.Matches("^bitcoin:bcrt1qfakeaddress0000xyz\\?amount=0\\.001&lightning=lnbcrt", invoice.PaymentUri);
        Assert.Equal(InvoiceEventType.Created, invoice.Events.Single().Type);
    }

    [Fact]
    public async Task Create_applies_overrides_and_method_selection()
    {
        var (service, _, _) = Service();
        var invoice = await service.CreateAsync(Shop(currency: "SATS"), new CreateInvoiceRequest(1000m)
        {
            Expiry = TimeSpan.FromMinutes(5),
            MonitoringWindow = TimeSpan.Zero,
            PaymentTolerancePercent = 1m,
            RequiredConfirmations = 0,
            Methods = [PaymentMethodId.Lightning],
        });
        Assert.Equal(T0.AddMinutes(5), invoice.MonitoringExpiresAt);
        Assert.Equal(1m, invoice.PaymentTolerancePercent);
        Assert.Equal(0, invoice.RequiredConfirmations);
        Assert.Equal(PaymentMethodId.Lightning, invoice.Prompts.Single().Method);
        Assert.Throws<MerchantException>(() => new InvoicePolicy(TimeSpan.Zero, TimeSpan.Zero, 0m, 0).Validate());
        await Assert.ThrowsAsync<MerchantException>(() => service.CreateAsync(Shop(), new CreateInvoiceRequest(1m) { PaymentTolerancePercent = 101m }));
    }

    [Fact]
    public async Task Missing_or_misbehaving_providers_are_typed_errors()
    {
        var time = new FakeTimeProvider(T0);
        var rates = new RateRuleEvaluator([RateTableSource.Parse("BTC_USD = 1")]);
        var onlyLn = new InvoiceService(time, rates, [new FakeLightningProvider()]);
        Assert.Equal(MerchantErrorReason.PaymentMethodUnavailable, (await Assert.ThrowsAsync<MerchantException>(() =>
            onlyLn.CreateAsync(Shop(currency: "SATS"), new CreateInvoiceRequest(5m) { Methods = [PaymentMethodId.OnChain] }))).Reason);
        Assert.Equal(MerchantErrorReason.PaymentMethodUnavailable, (await Assert.ThrowsAsync<MerchantException>(() =>
            new InvoiceService(time, rates, []).CreateAsync(Shop(currency: "SATS"), new CreateInvoiceRequest(5m)))).Reason);
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, Assert.Throws<MerchantException>(() => new InvoiceService(time, rates, [new FakeLightningProvider(), new FakeLightningProvider()])).Reason);
    }

    [Fact]
    public async Task Settled_payments_produce_one_balanced_ledger_entry_and_time_comes_from_the_provider()
    {
        var (service, time, _) = Service();
        var invoice = await service.CreateAsync(Shop(currency: "SATS"), new CreateInvoiceRequest(100_000m));
        time.Advance(TimeSpan.FromMinutes(1));
        var unconfirmed = service.RecordPayment(invoice, new PaymentObservation(PaymentMethodId.OnChain, "tx1:0", MilliSatoshi.FromSatoshis(100_000), 0, false, time.GetUtcNow()));
        Assert.Empty(unconfirmed.JournalEntries);
        Assert.Equal(InvoiceStatus.Processing, invoice.Status);

        time.Advance(TimeSpan.FromMinutes(10));
        var confirmed = service.RecordPayment(invoice, new PaymentObservation(PaymentMethodId.OnChain, "tx1:0", MilliSatoshi.FromSatoshis(100_000), 1, false, T0.AddMinutes(1)));
        var entry = Assert.Single(confirmed.JournalEntries);
        Assert.Equal($"payment:{invoice.Id}:OnChain:tx1:0", entry.Id);
        Assert.Equal(time.GetUtcNow(), entry.At);
        Assert.Equal(
            [(LedgerAccountKind.OnChainWallet, PostingSide.Debit, 100_000_000L), (LedgerAccountKind.Revenue, PostingSide.Credit, 100_000_000L)],
            entry.Postings.Select(p => (p.Account.Kind, p.Side, p.Amount)));
        Assert.Equal(InvoiceStatus.Settled, invoice.Status);

        Assert.Empty(service.RecordPayment(invoice, new PaymentObservation(PaymentMethodId.OnChain, "tx1:0", MilliSatoshi.FromSatoshis(100_000), 2, false, T0)).JournalEntries);
    }

    [Fact]
    public async Task Tick_uses_the_time_provider()
    {
        var (service, time, _) = Service();
        var invoice = await service.CreateAsync(Shop(currency: "SATS"), new CreateInvoiceRequest(1m));
        Assert.Empty(service.Tick(invoice));
        time.Advance(InvoicePolicy.Default.InvoiceExpiry);
        Assert.Equal(InvoiceEventType.Expired, Assert.Single(service.Tick(invoice)).Type);
    }
}
