using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>
/// BOLT 12 operations of a node behind the admin API (<c>/v1/offers</c>). A separate interface so the core
/// <see cref="INodeOperations"/> stays unchanged; a node that does not implement it answers these routes with
/// <see cref="NodeErrorCode.Unavailable"/>.
/// </summary>
public interface INodeOfferOperations
{
    /// <summary>Creates an offer.</summary>
    /// <param name="parameters">What the offer asks for.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="NodeOperationException">Invalid parameters, or a blinded offer without a usable channel.</exception>
    Task<OfferInfo> CreateOfferAsync(OfferCreateParameters parameters, CancellationToken cancellationToken);

    /// <summary>Every offer the node created, newest first.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<IReadOnlyList<OfferInfo>> ListOffersAsync(CancellationToken cancellationToken);

    /// <summary>Pays an offer (invoice request over onion messages, then the invoice) and waits for the outcome.</summary>
    /// <param name="offer">The <c>lno1…</c> string.</param>
    /// <param name="amount">The amount, for an offer without one (or more than its price).</param>
    /// <param name="payerNote">A note for the issuer.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="NodeOperationException">Bad or expired offer, wrong amount, no invoice, refused invoice, already paid.</exception>
    Task<PaymentInfo> PayOfferAsync(string offer, MilliSatoshi? amount, string? payerNote, CancellationToken cancellationToken);

    /// <summary>
    /// Pays an offer within <paramref name="limits"/> (fee limit, retry window) and waits for the outcome. Implementations
    /// without limits fall back to <see cref="PayOfferAsync(string, MilliSatoshi?, string?, CancellationToken)"/>.
    /// </summary>
    /// <param name="offer">The <c>lno1…</c> string.</param>
    /// <param name="amount">The amount, for an offer without one (or more than its price).</param>
    /// <param name="payerNote">A note for the issuer.</param>
    /// <param name="limits">The fee limit and how long to keep retrying.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="NodeOperationException">As the overload without limits.</exception>
    Task<PaymentInfo> PayOfferAsync(string offer, MilliSatoshi? amount, string? payerNote, PaymentLimits limits, CancellationToken cancellationToken) =>
        PayOfferAsync(offer, amount, payerNote, cancellationToken);
}

/// <summary>What a new offer asks for.</summary>
/// <param name="Description">The description.</param>
/// <param name="Amount">The price, or null for "any amount".</param>
/// <param name="Expiry">How long the offer stays payable, or null for no expiry.</param>
/// <param name="Issuer">A human-readable issuer name.</param>
/// <param name="Blinded">Hide our node id behind a blinded path through a peer; null: blinded when a usable channel exists.</param>
public sealed record OfferCreateParameters(string Description, MilliSatoshi? Amount, TimeSpan? Expiry, string? Issuer, bool? Blinded);

/// <summary>An offer of the node, with the invoices issued for it.</summary>
/// <param name="OfferId">The offer id (hex).</param>
/// <param name="Offer">The <c>lno1…</c> string.</param>
/// <param name="Description">The description.</param>
/// <param name="AmountMsat">The price, or null for "any amount".</param>
/// <param name="ExpiresAt">When it expires, if it does.</param>
/// <param name="IntroductionNode">The peer introducing the blinded path, or null when the offer names our node id.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="InvoicesIssued">Invoices issued for it.</param>
/// <param name="InvoicesPaid">Of those, how many were paid.</param>
/// <param name="ReceivedMsat">The total received for it.</param>
public sealed record OfferInfo(
    string OfferId,
    string Offer,
    string Description,
    MilliSatoshi? AmountMsat,
    DateTimeOffset? ExpiresAt,
    NodeId? IntroductionNode,
    DateTimeOffset CreatedAt,
    int InvoicesIssued,
    int InvoicesPaid,
    MilliSatoshi ReceivedMsat);

/// <summary>Body of <c>POST /v1/offers</c>.</summary>
/// <param name="Description">The description (required).</param>
/// <param name="AmountMsat">The price in millisatoshis (omit for "any amount").</param>
/// <param name="ExpirySeconds">Seconds until the offer expires (omit for none).</param>
/// <param name="Issuer">A human-readable issuer name.</param>
/// <param name="Blinded">Hide the node id behind a blinded path (default: when a usable channel exists).</param>
public sealed record CreateOfferRequest(string? Description, long? AmountMsat, long? ExpirySeconds, string? Issuer, bool? Blinded);

/// <summary>Body of <c>POST /v1/offers/pay</c>.</summary>
/// <param name="Offer">The <c>lno1…</c> string.</param>
/// <param name="AmountMsat">The amount in millisatoshis, for an offer without one.</param>
/// <param name="PayerNote">A note for the issuer.</param>
public sealed record PayOfferRequest(string? Offer, long? AmountMsat, string? PayerNote)
{
    /// <summary>The largest total routing fee in millisatoshis (optional).</summary>
    public long? MaxFeeMsat { get; init; }

    /// <summary>How long to keep retrying other routes and blinded paths, in seconds (optional).</summary>
    public long? TimeoutSeconds { get; init; }
}
