using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Rates;

namespace Satflow.Merchant.Invoices;

/// <summary>A request to create an invoice; null fields take the store's defaults.</summary>
/// <param name="Amount">The amount (positive).</param>
/// <param name="Currency"><c>BTC</c>, <c>SATS</c> or a fiat code; null for the store default.</param>
public sealed record CreateInvoiceRequest(decimal Amount, string? Currency = null)
{
    /// <summary>The idempotent request this invoice is created under (its response is stored in the insert's transaction), or null.</summary>
    public Idempotency.IdempotentCompletion? Idempotency { get; init; }

    /// <summary>Expiry override.</summary>
    public TimeSpan? Expiry { get; init; }

    /// <summary>Monitoring window override.</summary>
    public TimeSpan? MonitoringWindow { get; init; }

    /// <summary>Payment tolerance override (percent).</summary>
    public decimal? PaymentTolerancePercent { get; init; }

    /// <summary>Required confirmations override.</summary>
    public int? RequiredConfirmations { get; init; }

    /// <summary>The merchant's order id.</summary>
    public string? OrderId { get; init; }

    /// <summary>Metadata, a JSON object.</summary>
    public string? MetadataJson { get; init; }

    /// <summary>Redirect URL after payment.</summary>
    public Uri? RedirectUrl { get; init; }

    /// <summary>Methods to offer; null for every registered provider.</summary>
    public IReadOnlyList<PaymentMethodId>? Methods { get; init; }
}

/// <summary>The outcome of recording a payment: the invoice update and the ledger entries to post with it atomically.</summary>
/// <param name="Update">The payment update.</param>
/// <param name="JournalEntries">Ledger entries (one when the payment just settled).</param>
public sealed record PaymentRecording(PaymentUpdate Update, IReadOnlyList<JournalEntry> JournalEntries);

/// <summary>
/// Creates invoices (amount conversion through the store's rate rules, one prompt per payment method provider) and
/// turns settled payments into ledger entries. Stateless apart from its collaborators; time from the <see cref="TimeProvider"/>.
/// </summary>
public sealed class InvoiceService
{
    /// <summary>Currency code for invoices in bitcoin.</summary>
    public const string Btc = "BTC";

    /// <summary>Currency code for invoices in satoshis.</summary>
    public const string Sats = "SATS";

    private readonly TimeProvider _time;
    private readonly RateRuleEvaluator _rates;
    private readonly Dictionary<PaymentMethodId, IPaymentMethodProvider> _providers;

    /// <summary>Creates the service.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="rates">Rate evaluator for fiat invoices.</param>
    /// <param name="providers">Payment method providers, at most one per method.</param>
    public InvoiceService(TimeProvider time, RateRuleEvaluator rates, IEnumerable<IPaymentMethodProvider> providers)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(rates);
        ArgumentNullException.ThrowIfNull(providers);
        _time = time;
        _rates = rates;
        _providers = [];
        foreach (var p in providers)
        {
            if (!_providers.TryAdd(p.Method, p))
            {
                throw new MerchantException(MerchantErrorReason.InvalidConfiguration, $"Two providers for {p.Method}.");
            }
        }
    }

    /// <summary>Converts an amount to millisatoshis: exactly for BTC/SATS, through the store's rules (bid, rounded up to a satoshi) for fiat.</summary>
    /// <param name="store">The store.</param>
    /// <param name="amount">The amount.</param>
    /// <param name="currency">The currency.</param>
    /// <param name="cancellationToken">Cancels rate fetching.</param>
    /// <returns>The amount due and the rate used (null for BTC/SATS).</returns>
    /// <exception cref="MerchantException">Bad amount or currency.</exception>
    /// <exception cref="RateEvaluationException">No rate.</exception>
    public async Task<(MilliSatoshi Due, InvoiceRate? Rate)> ConvertAsync(Store store, decimal amount, string currency, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (amount <= 0m)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An invoice amount must be positive.");
        }

        currency = currency?.Trim().ToUpperInvariant() ?? "";
        if (amount > 21_000_000_000_000_000m)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The invoice amount is too large.");
        }

        switch (currency)
        {
            case Btc:
                return (ExactMsat(amount * 100_000_000_000m, "BTC amounts have at most 11 decimals (1 msat)."), null);
            case Sats:
                return (ExactMsat(amount * 1000m, "SATS amounts have at most 3 decimals (1 msat)."), null);
        }

        if (!CurrencyPair.IsCurrencyCode(currency))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{currency}' is not a currency code.");
        }

        var pair = new CurrencyPair(Btc, currency);
        var rules = RateRules.Parse(store.RateRules);
        var result = await _rates.EvaluateAsync(rules, pair, cancellationToken).ConfigureAwait(false);
        decimal sats;
        try
        {
            sats = decimal.Ceiling(amount / result.Rate.Bid * 100_000_000m);
            if (sats > 2_100_000_000_000_000m)
            {
                throw new OverflowException();
            }
        }
        catch (OverflowException e)
        {
            throw new MerchantException(MerchantErrorReason.AmountOverflow, "The converted amount is too large.", e);
        }

        return (ExactMsat(sats * 1000m, "Conversion failed."), new InvoiceRate(pair.ToString(), result.Rate.Bid, result.Rule));
    }

    /// <summary>Creates an invoice: converts the amount, asks each provider for a prompt, starts the state machine.</summary>
    /// <param name="store">The store.</param>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The new invoice (not yet saved).</returns>
    /// <exception cref="MerchantException">Invalid request, no provider, or a provider failure.</exception>
    public async Task<Invoice> CreateAsync(Store store, CreateInvoiceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(request);
        var now = _time.GetUtcNow();
        var currency = request.Currency ?? store.DefaultCurrency;
        var (due, rate) = await ConvertAsync(store, request.Amount, currency, cancellationToken).ConfigureAwait(false);
        var policy = new InvoicePolicy(
            request.Expiry ?? store.Policy.InvoiceExpiry,
            request.MonitoringWindow ?? store.Policy.MonitoringWindow,
            request.PaymentTolerancePercent ?? store.Policy.PaymentTolerancePercent,
            request.RequiredConfirmations ?? store.Policy.RequiredConfirmations);
        policy.Validate();

        var methods = request.Methods ?? _providers.Keys.Order().ToArray();
        if (methods.Count == 0)
        {
            throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "No payment method is configured.");
        }

        var id = InvoiceId.New();
        var promptRequest = new PaymentPromptRequest(store.Id, id, due, now + policy.InvoiceExpiry, request.OrderId ?? store.Name);
        var prompts = new List<PaymentPrompt>();
        foreach (var method in methods.Distinct())
        {
            if (!_providers.TryGetValue(method, out var provider))
            {
                throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, $"No provider for {method}.");
            }

            var prompt = await provider.CreatePromptAsync(promptRequest, cancellationToken).ConfigureAwait(false)
                ?? throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, $"The {method} provider returned nothing.");
            if (prompt.Method != method)
            {
                throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, $"The {method} provider returned a {prompt.Method} prompt.");
            }

            prompt.Validate();
            prompts.Add(prompt);
        }

        return Invoice.Create(id, store.Id, new InvoiceAmount(request.Amount, currency.Trim().ToUpperInvariant()), due, rate, policy,
            request.OrderId, request.MetadataJson, request.RedirectUrl, prompts, now);
    }

    /// <summary>Records a payment on an invoice and produces the ledger entry for a payment that just settled.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <param name="observation">What the node saw.</param>
    /// <returns>The update and its ledger entries.</returns>
    public PaymentRecording RecordPayment(Invoice invoice, PaymentObservation observation)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        var now = _time.GetUtcNow();
        var update = invoice.RecordPayment(observation, now);
        var entries = update.BecameSettled ? new[] { PaymentEntry(invoice, update.Payment, now) } : [];
        return new PaymentRecording(update, entries);
    }

    /// <summary>Applies expiry and monitoring deadlines at the current time.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <returns>Events raised.</returns>
    public IReadOnlyList<InvoiceEvent> Tick(Invoice invoice)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        return invoice.Tick(_time.GetUtcNow());
    }

    /// <summary>The ledger entry of a settled invoice payment: debit the store's on-chain or Lightning asset, credit its revenue.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <param name="payment">The settled payment.</param>
    /// <param name="at">Posting time.</param>
    /// <returns>The entry, id <c>payment:&lt;invoice&gt;:&lt;method&gt;:&lt;reference&gt;</c>.</returns>
    public static JournalEntry PaymentEntry(Invoice invoice, InvoicePayment payment, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        ArgumentNullException.ThrowIfNull(payment);
        var asset = new LedgerAccount(invoice.StoreId, payment.Method == PaymentMethodId.Lightning ? LedgerAccountKind.Lightning : LedgerAccountKind.OnChainWallet);
        var revenue = new LedgerAccount(invoice.StoreId, LedgerAccountKind.Revenue);
        return JournalEntry.Create(
            $"payment:{invoice.Id}:{payment.Method}:{payment.Reference}",
            at,
            $"Invoice {invoice.Id} {payment.Method} payment {payment.Reference}",
            [Posting.Debit(asset, payment.Amount), Posting.Credit(revenue, payment.Amount)]);
    }

    private static MilliSatoshi ExactMsat(decimal msat, string fractionMessage)
    {
        if (msat != decimal.Truncate(msat))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, fractionMessage);
        }

        if (msat <= 0m || msat > MilliSatoshi.MaxMoney.Value)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An invoice amount must be positive and at most 21 million BTC.");
        }

        return new MilliSatoshi((ulong)msat);
    }
}
