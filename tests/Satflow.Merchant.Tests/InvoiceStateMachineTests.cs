using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Invoices;
using A = Satflow.Merchant.Invoices.InvoiceAdditionalStatus;
using E = Satflow.Merchant.Invoices.InvoiceEventType;
using S = Satflow.Merchant.Invoices.InvoiceStatus;

namespace Satflow.Merchant.Tests;

internal static class InvoiceFixtures
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    public const string Address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    public const string Bolt11 = "lnbcrt1m1pjexample0payment0request0string0xyz";
    public static readonly PaymentHash Hash = PaymentHash.Parse("0001020304050607080900010203040506070809000102030405060708090102");

    public static IReadOnlyList<PaymentPrompt> Prompts() =>
        [new PaymentPrompt(PaymentMethodId.OnChain, Address, null), new PaymentPrompt(PaymentMethodId.Lightning, Bolt11, Hash)];

    /// <summary>100,000 sat due; expires at +15 min; monitoring until +75 min; 1 confirmation.</summary>
    public static Invoice New(decimal tolerance = 0m, int confirmations = 1, string id = "inv1", string store = "shop") => Invoice.Create(
        new InvoiceId(id), new StoreId(store), new InvoiceAmount(100_000m, "SATS"), MilliSatoshi.FromSatoshis(100_000), null,
        new InvoicePolicy(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(60), tolerance, confirmations),
        "order-1", "{\"buyer\":\"bob\"}", new Uri("https://shop.example/thanks"), Prompts(), T0);
}

public sealed class InvoiceStateMachineTests
{
    private static DateTimeOffset At(int minutes) => InvoiceFixtures.T0.AddMinutes(minutes);

    /// <summary>One step of a scenario, e.g. "chain tx1 60000 0 @5" (method ref sats confirmations @minute), "tick @20",
    /// "replace tx1 60000 @6", "ln h1 100000 @3" (settled Lightning payment), "mark settled @30".</summary>
    private static void Apply(Invoice invoice, string step)
    {
        var parts = step.Split(' ');
        var at = At(int.Parse(parts[^1].TrimStart('@'), System.Globalization.CultureInfo.InvariantCulture));
        switch (parts[0])
        {
            case "chain":
                invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, parts[1], MilliSatoshi.FromSatoshis(ulong.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture)),
                    int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture), false, at), at);
                break;
            case "ln":
                invoice.RecordPayment(new PaymentObservation(PaymentMethodId.Lightning, parts[1], MilliSatoshi.FromSatoshis(ulong.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture)), 0, true, at), at);
                break;
            case "replace":
                invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, parts[1], MilliSatoshi.FromSatoshis(ulong.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture)), 0, false, at, Replaced: true), at);
                break;
            case "tick":
                invoice.Tick(at);
                break;
            case "mark":
                if (parts[1] == "settled")
                {
                    invoice.MarkSettled(at);
                }
                else
                {
                    invoice.MarkInvalid(at);
                }

                break;
            default:
                throw new InvalidOperationException("bad step " + step);
        }
    }

    public static TheoryData<string, string, decimal, InvoiceStatus, InvoiceAdditionalStatus, string> Scenarios() => new()
    {
        // name, steps (';'-separated), tolerance %, final status, final additional status, events
        { "untouched", "tick @1", 0m, S.New, A.None, "Created" },
        { "expires unpaid", "tick @15", 0m, S.Expired, A.None, "Created Expired" },
        { "partial payment stays New", "chain tx1 40000 0 @2", 0m, S.New, A.PaidPartial, "Created ReceivedPayment" },
        { "partial then expiry", "chain tx1 40000 1 @2; tick @16", 0m, S.Expired, A.PaidPartial, "Created ReceivedPayment PaymentSettled Expired" },
        { "exact unconfirmed → Processing", "chain tx1 100000 0 @2", 0m, S.Processing, A.None, "Created ReceivedPayment Processing" },
        { "confirmation settles", "chain tx1 100000 0 @2; chain tx1 100000 1 @12", 0m, S.Settled, A.None, "Created ReceivedPayment Processing PaymentSettled Settled" },
        { "confirmed on arrival settles at once", "chain tx1 100000 3 @2", 0m, S.Settled, A.None, "Created ReceivedPayment PaymentSettled Processing Settled" },
        { "lightning settles at once", "ln h1 100000 @1", 0m, S.Settled, A.None, "Created ReceivedPayment PaymentSettled Processing Settled" },
        { "overpaid", "chain tx1 150000 1 @2", 0m, S.Settled, A.PaidOver, "Created ReceivedPayment PaymentSettled Processing Settled" },
        { "two partials make full", "chain tx1 60000 1 @2; ln h1 40000 @3", 0m, S.Settled, A.None, "Created ReceivedPayment PaymentSettled ReceivedPayment PaymentSettled Processing Settled" },
        { "processing then overpaid", "chain tx1 100000 0 @2; chain tx2 1000 0 @3", 0m, S.Processing, A.PaidOver, "Created ReceivedPayment Processing ReceivedPayment" },
        { "within tolerance counts as paid", "chain tx1 95000 1 @2", 10m, S.Settled, A.None, "Created ReceivedPayment PaymentSettled Processing Settled" },
        { "exactly at tolerance", "chain tx1 90000 1 @2", 10m, S.Settled, A.None, "Created ReceivedPayment PaymentSettled Processing Settled" },
        { "below tolerance is partial", "chain tx1 89999 1 @2", 10m, S.New, A.PaidPartial, "Created ReceivedPayment PaymentSettled" },
        { "paid late within monitoring", "tick @16; chain tx1 100000 1 @20", 0m, S.Expired, A.PaidLate, "Created Expired ReceivedPayment PaymentSettled" },
        { "paid late without tick", "chain tx1 100000 0 @20", 0m, S.Expired, A.PaidLate, "Created ReceivedPayment Expired" },
        { "partial then late completion", "chain tx1 50000 1 @5; chain tx2 50000 1 @30", 0m, S.Expired, A.PaidLate, "Created ReceivedPayment PaymentSettled ReceivedPayment PaymentSettled Expired" },
        { "payment after monitoring window is ignored", "chain tx1 100000 1 @80", 0m, S.Expired, A.None, "Created ReceivedPayment PaymentSettled Expired" },
        { "unconfirmed past monitoring → Invalid", "chain tx1 100000 0 @2; tick @76", 0m, S.Invalid, A.None, "Created ReceivedPayment Processing Invalid" },
        { "confirmed just before monitoring end", "chain tx1 100000 0 @2; chain tx1 100000 1 @75", 0m, S.Settled, A.None, "Created ReceivedPayment Processing PaymentSettled Settled" },
        { "replaced payment drops back to New", "chain tx1 100000 0 @2; replace tx1 100000 @3", 0m, S.New, A.None, "Created ReceivedPayment Processing" },
        { "replaced partial keeps the rest partial", "chain tx1 50000 0 @2; chain tx2 50000 0 @2; replace tx2 50000 @3", 0m, S.New, A.PaidPartial, "Created ReceivedPayment ReceivedPayment Processing" },
        { "replaced after expiry → Expired", "chain tx1 100000 0 @2; replace tx1 100000 @20", 0m, S.Expired, A.None, "Created ReceivedPayment Processing Expired" },
        { "mark settled", "tick @16; mark settled @20", 0m, S.Settled, A.Marked, "Created Expired Settled" },
        { "mark invalid", "chain tx1 100000 1 @2; mark invalid @20", 0m, S.Invalid, A.Marked, "Created ReceivedPayment PaymentSettled Processing Settled Invalid" },
        { "marked invoices stop changing", "mark invalid @1; chain tx1 100000 1 @2; tick @100", 0m, S.Invalid, A.Marked, "Created Invalid ReceivedPayment PaymentSettled" },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Scenario(string name, string steps, decimal tolerance, InvoiceStatus status, InvoiceAdditionalStatus additional, string events)
    {
        var invoice = InvoiceFixtures.New(tolerance);
        foreach (var step in steps.Split(';', StringSplitOptions.TrimEntries))
        {
            Apply(invoice, step);
        }

        Assert.True((status, additional) == (invoice.Status, invoice.AdditionalStatus), $"{name}: got {invoice.Status}/{invoice.AdditionalStatus}");
        Assert.Equal(events, string.Join(' ', invoice.Events.Select(e => e.Type)));
        Assert.Equal(Enumerable.Range(1, invoice.Events.Count).Select(i => (long)i), invoice.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void Event_flags_describe_the_transition()
    {
        var partial = InvoiceFixtures.New();
        Apply(partial, "chain tx1 10 1 @1");
        Apply(partial, "tick @15");
        Assert.True(partial.Events.Single(e => e.Type == E.Expired).PartiallyPaid);

        var late = InvoiceFixtures.New();
        Apply(late, "tick @15");
        Apply(late, "chain tx1 100000 0 @20");
        var received = late.Events.Single(e => e.Type == E.ReceivedPayment);
        Assert.True(received.AfterExpiration);
        Assert.Equal(new PaymentReference(PaymentMethodId.OnChain, "tx1"), received.Payment);

        var over = InvoiceFixtures.New();
        Apply(over, "ln h1 200000 @1");
        Assert.True(over.Events.Single(e => e.Type == E.Settled).OverPaid);

        var marked = InvoiceFixtures.New();
        Assert.True(marked.MarkSettled(At(1)).ManuallyMarked);
    }

    [Fact]
    public void Amounts_paid_settled_and_remaining()
    {
        var invoice = InvoiceFixtures.New(tolerance: 5m);
        Assert.Equal(MilliSatoshi.FromSatoshis(95_000), invoice.MinimumDue);
        Apply(invoice, "chain tx1 30000 0 @1");
        Apply(invoice, "ln h1 20000 @2");
        Assert.Equal(MilliSatoshi.FromSatoshis(50_000), invoice.AmountPaid);
        Assert.Equal(MilliSatoshi.FromSatoshis(20_000), invoice.AmountSettled);
        Assert.Equal(MilliSatoshi.FromSatoshis(50_000), invoice.AmountRemaining);
        Assert.Contains("amount=0.0005", invoice.PaymentUri, StringComparison.Ordinal);
    }

    [Fact]
    public void Repeated_observations_update_confirmations_without_duplicating()
    {
        var invoice = InvoiceFixtures.New(confirmations: 3);
        var first = invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx1", MilliSatoshi.FromSatoshis(100_000), 1, false, At(1)), At(1));
        Assert.True(first.IsNew);
        Assert.False(first.BecameSettled);
        var second = invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx1", MilliSatoshi.FromSatoshis(100_000), 3, false, At(1)), At(30));
        Assert.False(second.IsNew);
        Assert.True(second.BecameSettled);
        Assert.Equal([E.PaymentSettled, E.Settled], second.Events.Select(e => e.Type));
        var third = invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx1", MilliSatoshi.FromSatoshis(100_000), 2, false, At(1)), At(31));
        Assert.False(third.BecameSettled);
        Assert.Equal(3, third.Payment.Confirmations);
        Assert.Single(invoice.Payments);
    }

    [Fact]
    public void Invalid_payment_records_are_refused_without_changing_state()
    {
        var invoice = InvoiceFixtures.New();
        Apply(invoice, "chain tx1 100000 1 @1");
        var events = invoice.Events.Count;

        Assert.Equal(MerchantErrorReason.InvalidArgument, Assert.Throws<MerchantException>(() =>
            invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx1", MilliSatoshi.FromSatoshis(5), 1, false, At(2)), At(2))).Reason);
        Assert.Equal(MerchantErrorReason.InvalidState, Assert.Throws<MerchantException>(() =>
            invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx1", MilliSatoshi.FromSatoshis(100_000), 1, false, At(2), Replaced: true), At(2))).Reason);
        Assert.Throws<MerchantException>(() => invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "", MilliSatoshi.FromSatoshis(5), 1, false, At(2)), At(2)));
        Assert.Throws<MerchantException>(() => invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx9", MilliSatoshi.Zero, 1, false, At(2)), At(2)));
        Assert.Throws<MerchantException>(() => invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx9", MilliSatoshi.FromSatoshis(1), -1, false, At(2)), At(2)));
        Assert.Equal(MerchantErrorReason.InvalidState, Assert.Throws<MerchantException>(() => invoice.MarkSettled(At(3))).Reason);
        Assert.Equal(events, invoice.Events.Count);
        Assert.Equal(S.Settled, invoice.Status);
    }

    [Fact]
    public void A_method_the_invoice_does_not_offer_is_refused()
    {
        var invoice = Invoice.Create(new InvoiceId("x"), new StoreId("s"), new InvoiceAmount(1m, "SATS"), MilliSatoshi.FromSatoshis(1), null, InvoicePolicy.Default,
            null, null, null, [new PaymentPrompt(PaymentMethodId.Lightning, InvoiceFixtures.Bolt11, InvoiceFixtures.Hash)], InvoiceFixtures.T0);
        Assert.Throws<MerchantException>(() => invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx", MilliSatoshi.FromSatoshis(1), 1, false, InvoiceFixtures.T0), InvoiceFixtures.T0));
        Assert.StartsWith("lightning:", invoice.PaymentUri, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("order", "[1,2]", "https://x.io/")]
    [InlineData("order", "{bad json", "https://x.io/")]
    [InlineData("order", null, "ftp://x.io/")]
    [InlineData("", null, null)]
    public void Bad_creation_arguments_are_refused(string orderId, string? metadata, string? redirect)
    {
        Assert.Equal(MerchantErrorReason.InvalidArgument, Assert.Throws<MerchantException>(() => Invoice.Create(new InvoiceId("x"), new StoreId("s"),
            new InvoiceAmount(1m, "SATS"), MilliSatoshi.FromSatoshis(1), null, InvoicePolicy.Default, orderId, metadata,
            redirect is null ? null : new Uri(redirect), InvoiceFixtures.Prompts(), InvoiceFixtures.T0)).Reason);
    }

    [Fact]
    public void Prompts_are_validated()
    {
        Assert.Equal(MerchantErrorReason.PaymentMethodUnavailable, Assert.Throws<MerchantException>(() => new PaymentPrompt(PaymentMethodId.Lightning, InvoiceFixtures.Bolt11, null).Validate()).Reason);
        Assert.Throws<MerchantException>(() => new PaymentPrompt(PaymentMethodId.OnChain, "bc1q?amount=5", null).Validate());
        Assert.Throws<MerchantException>(() => new PaymentPrompt(PaymentMethodId.Lightning, "notbolt11string", InvoiceFixtures.Hash).Validate());
        Assert.Throws<MerchantException>(() => Invoice.Create(new InvoiceId("x"), new StoreId("s"), new InvoiceAmount(1m, "SATS"), MilliSatoshi.FromSatoshis(1), null,
            InvoicePolicy.Default, null, null, null, [], InvoiceFixtures.T0));
    }

    [Fact]
    public void Random_payment_sequences_keep_the_invariants()
    {
        var step = Gen.Select(Gen.Int[0, 4], Gen.Int[0, 3], Gen.Long[1, 120_000], Gen.Int[0, 3], Gen.Int[0, 100]);
        step.Array[1, 12].Sample(steps =>
        {
            var invoice = InvoiceFixtures.New(tolerance: 2m);
            var minute = 0;
            foreach (var (kind, reference, sats, confs, dt) in steps)
            {
                minute += dt / 10;
                var at = At(minute);
                try
                {
                    switch (kind)
                    {
                        case 0:
                        case 1:
                            invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx" + reference, MilliSatoshi.FromSatoshis((ulong)sats), confs, false, at), at);
                            break;
                        case 2:
                            invoice.RecordPayment(new PaymentObservation(PaymentMethodId.Lightning, "h" + reference, MilliSatoshi.FromSatoshis((ulong)sats), 0, true, at), at);
                            break;
                        case 3:
                            invoice.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx" + reference, MilliSatoshi.FromSatoshis((ulong)sats), 0, false, at, Replaced: true), at);
                            break;
                        default:
                            invoice.Tick(at);
                            break;
                    }
                }
                catch (MerchantException)
                {
                    // Conflicting observations (another amount, replacing a settled payment) are refused; state must stay consistent.
                }

                Assert.True(invoice.AmountSettled <= invoice.AmountPaid);
                if (invoice.Status == S.Processing)
                {
                    Assert.True(invoice.AmountPaid >= invoice.MinimumDue);
                    Assert.True(invoice.AmountSettled < invoice.MinimumDue);
                }

                if (invoice.Status == S.Settled)
                {
                    Assert.Contains(invoice.Events, e => e.Type == E.Settled);
                }

                if (invoice.Status == S.New)
                {
                    Assert.True(at < invoice.ExpiresAt || invoice.Events.All(e => e.Type != E.Expired));
                }

                Assert.Equal(invoice.Events.Count, invoice.Events.Select(e => e.Sequence).Distinct().Count());
            }
        }, iter: 400);
    }
}

public sealed class UnifiedPaymentUriTests
{
    [Theory]
    [InlineData(100_000_000UL, "0.001")]
    [InlineData(100_000_000_000UL, "1")]
    [InlineData(1_000UL, "0.00000001")]
    [InlineData(1UL, "0.00000001")]
    [InlineData(1_001UL, "0.00000002")]
    [InlineData(2_100_000_000_000_000_000UL, "21000000")]
    [InlineData(123_456_789_000UL, "1.23456789")]
    public void Amounts_are_btc_rounded_up_to_a_satoshi_without_trailing_zeros(ulong msat, string expected)
        => Assert.Equal(expected, UnifiedPaymentUri.FormatBtc(new MilliSatoshi(msat)));

    [Fact]
    public void Unified_uri_carries_address_amount_and_lightning()
    {
        Assert.Equal($"bitcoin:{InvoiceFixtures.Address}?amount=0.001&lightning={InvoiceFixtures.Bolt11}",
            UnifiedPaymentUri.Build(InvoiceFixtures.Address, MilliSatoshi.FromSatoshis(100_000), InvoiceFixtures.Bolt11));
        Assert.Equal($"bitcoin:{InvoiceFixtures.Address}?lightning={InvoiceFixtures.Bolt11}",
            UnifiedPaymentUri.Build(InvoiceFixtures.Address, null, InvoiceFixtures.Bolt11));
        Assert.Equal($"bitcoin:{InvoiceFixtures.Address}?amount=0.5", UnifiedPaymentUri.Build(InvoiceFixtures.Address, MilliSatoshi.FromSatoshis(50_000_000), null));
        Assert.Equal($"lightning:{InvoiceFixtures.Bolt11}", UnifiedPaymentUri.Build(null, MilliSatoshi.FromSatoshis(5), InvoiceFixtures.Bolt11));
    }

    [Fact]
    public void Qr_form_uppercases_scheme_bech32_and_invoice_but_not_keys_or_base58()
    {
        Assert.Equal($"BITCOIN:{InvoiceFixtures.Address.ToUpperInvariant()}?amount=0.001&lightning={InvoiceFixtures.Bolt11.ToUpperInvariant()}",
            UnifiedPaymentUri.BuildForQr(InvoiceFixtures.Address, MilliSatoshi.FromSatoshis(100_000), InvoiceFixtures.Bolt11));
        const string legacy = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn";
        Assert.Equal($"BITCOIN:{legacy}?amount=0.001", UnifiedPaymentUri.BuildForQr(legacy, MilliSatoshi.FromSatoshis(100_000), null));
        Assert.Equal($"LIGHTNING:{InvoiceFixtures.Bolt11.ToUpperInvariant()}", UnifiedPaymentUri.BuildForQr(null, null, InvoiceFixtures.Bolt11));
    }

    [Fact]
    public void Invoice_exposes_both_forms()
    {
        var invoice = InvoiceFixtures.New();
        Assert.Equal($"bitcoin:{InvoiceFixtures.Address}?amount=0.001&lightning={InvoiceFixtures.Bolt11}", invoice.PaymentUri);
        Assert.StartsWith("BITCOIN:BCRT1Q", invoice.PaymentUriForQr, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_destinations_only_raise_typed_errors()
    {
        Gen.Select(Gen.String, Gen.String, Gen.ULong[0, 3_000_000_000_000_000_000]).Sample((address, bolt11, msat) =>
        {
            var e = Record.Exception(() => UnifiedPaymentUri.BuildForQr(address, new MilliSatoshi(msat), bolt11));
            Assert.True(e is null or MerchantException, e?.ToString());
            var p = Record.Exception(() => new PaymentPrompt(PaymentMethodId.OnChain, address, null).Validate());
            Assert.True(p is null or MerchantException, p?.ToString());
        }, iter: 1000);
        Gen.String.Sample(s =>
        {
            var e = Record.Exception(() => Satflow.Merchant.Rates.CurrencyPair.Parse(s));
            Assert.True(e is null or MerchantException, e?.ToString());
        }, iter: 1000);
    }

    [Fact]
    public void Bad_destinations_are_refused()
    {
        Assert.Throws<MerchantException>(() => UnifiedPaymentUri.Build(null, null, null));
        Assert.Throws<MerchantException>(() => UnifiedPaymentUri.Build("addr&amount=9", null, null));
        Assert.Throws<MerchantException>(() => UnifiedPaymentUri.Build(null, null, "xyz12345678901"));
    }
}
