using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;

namespace Satflow.Merchant.Invoices;

/// <summary>
/// An invoice and its state machine, following BTCPay Server's semantics:
/// <list type="bullet">
/// <item><c>New</c> → <c>Processing</c> when the accounted payments reach the amount due minus the payment tolerance
/// (<c>PaidOver</c> if they exceed the amount due); → <c>Expired</c> at expiry when not paid in full
/// (<c>PaidPartial</c> if something was paid).</item>
/// <item><c>Processing</c> → <c>Settled</c> when the settled (confirmed) payments reach that minimum;
/// → <c>Invalid</c> when the monitoring window ends first; back to <c>New</c> if a payment is replaced and the rest
/// no longer suffices.</item>
/// <item><c>Expired</c> stays <c>Expired</c> when paid in full late, with additional status <c>PaidLate</c>.</item>
/// <item>Payments first seen after the monitoring window are recorded but not accounted.</item>
/// <item><c>MarkSettled</c>/<c>MarkInvalid</c> set the status by hand (additional status <c>Marked</c>); marked
/// invoices no longer change automatically.</item>
/// </list>
/// The aggregate reads no clock: every operation takes the current time.
/// </summary>
public sealed class Invoice
{
    private readonly List<PaymentPrompt> _prompts;
    private readonly List<InvoicePayment> _payments;
    private readonly List<InvoiceEvent> _events;

    private Invoice(
        InvoiceId id,
        StoreId storeId,
        InvoiceAmount requested,
        MilliSatoshi amountDue,
        InvoiceRate? rate,
        DateTimeOffset createdAt,
        DateTimeOffset expiresAt,
        DateTimeOffset monitoringExpiresAt,
        decimal paymentTolerancePercent,
        int requiredConfirmations,
        string? orderId,
        string? metadataJson,
        Uri? redirectUrl,
        IEnumerable<PaymentPrompt> prompts,
        IEnumerable<InvoicePayment> payments,
        IEnumerable<InvoiceEvent> events,
        InvoiceStatus status,
        InvoiceAdditionalStatus additionalStatus,
        long version)
    {
        Id = id;
        StoreId = storeId;
        Requested = requested;
        AmountDue = amountDue;
        Rate = rate;
        CreatedAt = createdAt;
        ExpiresAt = expiresAt;
        MonitoringExpiresAt = monitoringExpiresAt;
        PaymentTolerancePercent = paymentTolerancePercent;
        RequiredConfirmations = requiredConfirmations;
        OrderId = orderId;
        MetadataJson = metadataJson;
        RedirectUrl = redirectUrl;
        _prompts = [.. prompts];
        _payments = [.. payments];
        _events = [.. events];
        Status = status;
        AdditionalStatus = additionalStatus;
        Version = version;
    }

    /// <summary>The id.</summary>
    public InvoiceId Id { get; }

    /// <summary>The store.</summary>
    public StoreId StoreId { get; }

    /// <summary>The amount and currency asked for.</summary>
    public InvoiceAmount Requested { get; }

    /// <summary>The amount due in bitcoin.</summary>
    public MilliSatoshi AmountDue { get; }

    /// <summary>The conversion rate, for fiat invoices.</summary>
    public InvoiceRate? Rate { get; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Payment deadline.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>End of the monitoring window (late payments and confirmations are tracked until then).</summary>
    public DateTimeOffset MonitoringExpiresAt { get; }

    /// <summary>Underpayment still accepted as paid in full, percent.</summary>
    public decimal PaymentTolerancePercent { get; }

    /// <summary>On-chain confirmations needed for a payment to settle.</summary>
    public int RequiredConfirmations { get; }

    /// <summary>The merchant's order id.</summary>
    public string? OrderId { get; }

    /// <summary>Merchant metadata (a JSON object), or null.</summary>
    public string? MetadataJson { get; }

    /// <summary>Where the checkout redirects after payment.</summary>
    public Uri? RedirectUrl { get; }

    /// <summary>The payment destinations offered.</summary>
    public IReadOnlyList<PaymentPrompt> Prompts => _prompts;

    /// <summary>Payments recorded, in arrival order.</summary>
    public IReadOnlyList<InvoicePayment> Payments => _payments;

    /// <summary>Events raised, in order.</summary>
    public IReadOnlyList<InvoiceEvent> Events => _events;

    /// <summary>The status.</summary>
    public InvoiceStatus Status { get; private set; }

    /// <summary>The additional status.</summary>
    public InvoiceAdditionalStatus AdditionalStatus { get; private set; }

    /// <summary>Optimistic-concurrency version: incremented by the repository on every save.</summary>
    public long Version { get; internal set; }

    /// <summary>Sum of accounted payments.</summary>
    public MilliSatoshi AmountPaid => Sum(p => p.Counts);

    /// <summary>Sum of accounted, settled payments.</summary>
    public MilliSatoshi AmountSettled => Sum(p => p.Counts && p.Settled);

    /// <summary>The least amount accepted as full payment: amount due less the tolerance (rounded up to a msat).</summary>
    public MilliSatoshi MinimumDue
        => new((ulong)decimal.Ceiling(AmountDue.Value * (100m - PaymentTolerancePercent) / 100m));

    /// <summary>What is still owed (zero once the minimum is reached).</summary>
    public MilliSatoshi AmountRemaining => AmountPaid >= AmountDue ? MilliSatoshi.Zero : AmountDue - AmountPaid;

    /// <summary>The BIP 21 URI offering every method (on-chain amount rounded up to whole satoshis).</summary>
    public string PaymentUri
        => UnifiedPaymentUri.Build(Prompt(PaymentMethodId.OnChain)?.Destination, AmountRemaining, Prompt(PaymentMethodId.Lightning)?.Destination);

    /// <summary>The same URI in the uppercase-friendly form for a QR code.</summary>
    public string PaymentUriForQr
        => UnifiedPaymentUri.BuildForQr(Prompt(PaymentMethodId.OnChain)?.Destination, AmountRemaining, Prompt(PaymentMethodId.Lightning)?.Destination);

    /// <summary>Whether the invoice still watches for payments and confirmations at a time.</summary>
    /// <param name="now">The time.</param>
    /// <returns>True while it may still change automatically.</returns>
    public bool IsMonitored(DateTimeOffset now)
        => AdditionalStatus != InvoiceAdditionalStatus.Marked
            && (Status is InvoiceStatus.New or InvoiceStatus.Processing || (Status == InvoiceStatus.Expired && now <= MonitoringExpiresAt));

    /// <summary>The prompt of a method, or null.</summary>
    /// <param name="method">The method.</param>
    /// <returns>The prompt.</returns>
    public PaymentPrompt? Prompt(PaymentMethodId method) => _prompts.FirstOrDefault(p => p.Method == method);

    /// <summary>Creates an invoice in status New with a Created event.</summary>
    /// <param name="id">Id.</param>
    /// <param name="storeId">Store.</param>
    /// <param name="requested">Amount asked for.</param>
    /// <param name="amountDue">Amount due in bitcoin (positive).</param>
    /// <param name="rate">Conversion rate for fiat invoices.</param>
    /// <param name="policy">Expiry, monitoring window, tolerance, confirmations.</param>
    /// <param name="orderId">Order id (at most 200 characters).</param>
    /// <param name="metadataJson">A JSON object, or null.</param>
    /// <param name="redirectUrl">An absolute http(s) URL, or null.</param>
    /// <param name="prompts">At least one prompt, at most one per method.</param>
    /// <param name="now">Creation time.</param>
    /// <returns>The invoice.</returns>
    /// <exception cref="MerchantException">Invalid argument.</exception>
    public static Invoice Create(
        InvoiceId id,
        StoreId storeId,
        InvoiceAmount requested,
        MilliSatoshi amountDue,
        InvoiceRate? rate,
        InvoicePolicy policy,
        string? orderId,
        string? metadataJson,
        Uri? redirectUrl,
        IReadOnlyList<PaymentPrompt> prompts,
        DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(requested);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(prompts);
        policy.Validate();
        if (amountDue.Value == 0 || amountDue > MilliSatoshi.MaxMoney)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An invoice amount must be positive and at most 21 million BTC.");
        }

        ValidateOrderId(orderId);
        ValidateMetadata(metadataJson);
        ValidateRedirect(redirectUrl);
        if (prompts.Count == 0 || prompts.Select(p => p.Method).Distinct().Count() != prompts.Count)
        {
            throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "An invoice needs at least one payment method, each at most once.");
        }

        foreach (var p in prompts)
        {
            p.Validate();
        }

        var expires = now + policy.InvoiceExpiry;
        var invoice = new Invoice(id, storeId, requested, amountDue, rate, now, expires, expires + policy.MonitoringWindow,
            policy.PaymentTolerancePercent, policy.RequiredConfirmations, orderId, metadataJson, redirectUrl, prompts, [], [],
            InvoiceStatus.New, InvoiceAdditionalStatus.None, 0);
        invoice.Raise(InvoiceEventType.Created, now);
        return invoice;
    }

    /// <summary>Restores an invoice from storage.</summary>
    internal static Invoice Restore(
        InvoiceId id, StoreId storeId, InvoiceAmount requested, MilliSatoshi amountDue, InvoiceRate? rate,
        DateTimeOffset createdAt, DateTimeOffset expiresAt, DateTimeOffset monitoringExpiresAt, decimal tolerance, int confirmations,
        string? orderId, string? metadataJson, Uri? redirectUrl, IEnumerable<PaymentPrompt> prompts, IEnumerable<InvoicePayment> payments,
        IEnumerable<InvoiceEvent> events, InvoiceStatus status, InvoiceAdditionalStatus additionalStatus, long version)
        => new(id, storeId, requested, amountDue, rate, createdAt, expiresAt, monitoringExpiresAt, tolerance, confirmations, orderId,
            metadataJson, redirectUrl, prompts, payments, events, status, additionalStatus, version);

    /// <summary>Records a new payment or an update of a known one (more confirmations, settlement, replacement).</summary>
    /// <param name="observation">What was seen.</param>
    /// <param name="now">Current time.</param>
    /// <returns>The recorded payment and the events raised.</returns>
    /// <exception cref="MerchantException">Unknown method for this invoice, malformed reference, a changed amount, or un-settling a payment.</exception>
    public PaymentUpdate RecordPayment(PaymentObservation observation, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(observation);
        if (Prompt(observation.Method) is null)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"Invoice {Id} offers no {observation.Method} payment method.");
        }

        if (string.IsNullOrEmpty(observation.Reference) || observation.Reference.Length > 200 || observation.Reference.Any(char.IsControl))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A payment reference must be 1 to 200 printable characters.");
        }

        if (observation.Amount.Value == 0 || observation.Amount > MilliSatoshi.MaxMoney || observation.Confirmations < 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A payment needs a positive amount and non-negative confirmations.");
        }

        var eventsBefore = _events.Count;
        var index = _payments.FindIndex(p => p.Method == observation.Method && p.Reference == observation.Reference);
        var settledNow = observation.Settled
            || (observation.Method == PaymentMethodId.OnChain && observation.Confirmations >= RequiredConfirmations);
        InvoicePayment payment;
        bool isNew, becameSettled;
        if (index < 0)
        {
            var settled = settledNow && !observation.Replaced;
            payment = new InvoicePayment(observation.Method, observation.Reference, observation.Amount, observation.Confirmations,
                settled, observation.ReceivedAt, observation.ReceivedAt <= MonitoringExpiresAt, observation.Replaced);
            _payments.Add(payment);
            isNew = true;
            becameSettled = settled;
            Raise(InvoiceEventType.ReceivedPayment, now, payment.Id, afterExpiration: observation.ReceivedAt > ExpiresAt);
        }
        else
        {
            var old = _payments[index];
            if (old.Amount != observation.Amount)
            {
                throw new MerchantException(MerchantErrorReason.InvalidArgument, $"Payment {observation.Reference} was recorded with a different amount.");
            }

            if (observation.Replaced && old.Settled)
            {
                throw new MerchantException(MerchantErrorReason.InvalidState, $"Payment {observation.Reference} is already settled and cannot be replaced.");
            }

            var settled = old.Settled || (settledNow && !observation.Replaced && !old.Replaced);
            payment = old with
            {
                Confirmations = Math.Max(old.Confirmations, observation.Confirmations),
                Settled = settled,
                Replaced = old.Replaced || observation.Replaced,
            };
            _payments[index] = payment;
            isNew = false;
            becameSettled = settled && !old.Settled;
        }

        if (becameSettled)
        {
            Raise(InvoiceEventType.PaymentSettled, now, payment.Id, afterExpiration: payment.ReceivedAt > ExpiresAt);
        }

        Update(now);
        return new PaymentUpdate(payment, isNew, becameSettled, _events.Skip(eventsBefore).ToArray());
    }

    /// <summary>Applies the passage of time: expiry, and invalidation when the monitoring window ends unsettled.</summary>
    /// <param name="now">Current time.</param>
    /// <returns>Events raised.</returns>
    public IReadOnlyList<InvoiceEvent> Tick(DateTimeOffset now)
    {
        var before = _events.Count;
        Update(now);
        return _events.Skip(before).ToArray();
    }

    /// <summary>Marks the invoice settled by hand (allowed unless already settled).</summary>
    /// <param name="now">Current time.</param>
    /// <returns>The Settled event.</returns>
    public InvoiceEvent MarkSettled(DateTimeOffset now)
    {
        if (Status == InvoiceStatus.Settled)
        {
            throw new MerchantException(MerchantErrorReason.InvalidState, "The invoice is already settled.");
        }

        Status = InvoiceStatus.Settled;
        AdditionalStatus = InvoiceAdditionalStatus.Marked;
        return Raise(InvoiceEventType.Settled, now, manuallyMarked: true);
    }

    /// <summary>Marks the invoice invalid by hand (allowed unless already invalid).</summary>
    /// <param name="now">Current time.</param>
    /// <returns>The Invalid event.</returns>
    public InvoiceEvent MarkInvalid(DateTimeOffset now)
    {
        if (Status == InvoiceStatus.Invalid)
        {
            throw new MerchantException(MerchantErrorReason.InvalidState, "The invoice is already invalid.");
        }

        Status = InvoiceStatus.Invalid;
        AdditionalStatus = InvoiceAdditionalStatus.Marked;
        return Raise(InvoiceEventType.Invalid, now, manuallyMarked: true);
    }

    private void Update(DateTimeOffset now)
    {
        if (AdditionalStatus == InvoiceAdditionalStatus.Marked)
        {
            return;
        }

        // A replaced payment can drop a Processing invoice back to New; then expiry applies again.
        for (var round = 0; round < 3; round++)
        {
            var (status, additional) = (Status, AdditionalStatus);
            Step(now);
            if (status == Status && additional == AdditionalStatus)
            {
                return;
            }
        }
    }

    private void Step(DateTimeOffset now)
    {
        var paid = AmountPaid;
        var minimum = MinimumDue;
        var anyPayment = _payments.Any(p => p.Counts);

        if (Status == InvoiceStatus.New && now >= ExpiresAt)
        {
            Status = InvoiceStatus.Expired;
            Raise(InvoiceEventType.Expired, now, partiallyPaid: AdditionalStatus == InvoiceAdditionalStatus.PaidPartial);
        }

        if (Status is InvoiceStatus.New or InvoiceStatus.Expired)
        {
            if (anyPayment && paid >= minimum)
            {
                if (Status == InvoiceStatus.New)
                {
                    Status = InvoiceStatus.Processing;
                    AdditionalStatus = paid > AmountDue ? InvoiceAdditionalStatus.PaidOver : InvoiceAdditionalStatus.None;
                    Raise(InvoiceEventType.Processing, now, overPaid: paid > AmountDue);
                }
                else if (AdditionalStatus != InvoiceAdditionalStatus.PaidLate)
                {
                    AdditionalStatus = InvoiceAdditionalStatus.PaidLate;
                }
            }
            else if (anyPayment && AdditionalStatus != InvoiceAdditionalStatus.PaidPartial && AdditionalStatus != InvoiceAdditionalStatus.PaidLate)
            {
                AdditionalStatus = InvoiceAdditionalStatus.PaidPartial;
            }
            else if (!anyPayment && AdditionalStatus == InvoiceAdditionalStatus.PaidPartial)
            {
                AdditionalStatus = InvoiceAdditionalStatus.None;
            }
        }

        if (Status == InvoiceStatus.Processing)
        {
            if (paid < minimum)
            {
                Status = InvoiceStatus.New;
                AdditionalStatus = anyPayment ? InvoiceAdditionalStatus.PaidPartial : InvoiceAdditionalStatus.None;
                return;
            }

            AdditionalStatus = paid > AmountDue ? InvoiceAdditionalStatus.PaidOver : InvoiceAdditionalStatus.None;
            if (AmountSettled >= minimum)
            {
                Status = InvoiceStatus.Settled;
                Raise(InvoiceEventType.Settled, now, overPaid: paid > AmountDue);
            }
            else if (now > MonitoringExpiresAt)
            {
                Status = InvoiceStatus.Invalid;
                Raise(InvoiceEventType.Invalid, now);
            }
        }
    }

    private InvoiceEvent Raise(InvoiceEventType type, DateTimeOffset at, PaymentReference? payment = null, bool manuallyMarked = false,
        bool afterExpiration = false, bool partiallyPaid = false, bool overPaid = false)
    {
        var e = new InvoiceEvent(_events.Count + 1, type, at, Status, AdditionalStatus, payment, manuallyMarked, afterExpiration, partiallyPaid, overPaid);
        _events.Add(e);
        return e;
    }

    private MilliSatoshi Sum(Func<InvoicePayment, bool> filter)
    {
        ulong total = 0;
        foreach (var p in _payments)
        {
            if (filter(p))
            {
                total = total > ulong.MaxValue - p.Amount.Value ? ulong.MaxValue : total + p.Amount.Value;
            }
        }

        return new MilliSatoshi(total);
    }

    private static void ValidateOrderId(string? orderId)
    {
        if (orderId is not null && (orderId.Length is 0 or > 200 || orderId.Any(char.IsControl)))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An order id must be 1 to 200 printable characters.");
        }
    }

    private static void ValidateMetadata(string? json)
    {
        if (json is null)
        {
            return;
        }

        if (json.Length > 64 * 1024)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Invoice metadata is at most 64 KiB.");
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                throw new MerchantException(MerchantErrorReason.InvalidArgument, "Invoice metadata must be a JSON object.");
            }
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Invoice metadata is not valid JSON: " + e.Message, e);
        }
    }

    private static void ValidateRedirect(Uri? url)
    {
        if (url is not null && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp)))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The redirect URL must be an absolute http or https URL.");
        }
    }
}
