using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Offers.Flow;

/// <summary>Why an offer flow step refused an input.</summary>
public enum Bolt12FlowError
{
    /// <summary>The request or invoice names a chain we do not use.</summary>
    UnsupportedChain,

    /// <summary>The request's offer fields do not authenticate as an offer we issued.</summary>
    UnknownOffer,

    /// <summary>The offer's <c>offer_absolute_expiry</c> has passed.</summary>
    OfferExpired,

    /// <summary>The request did not arrive over the path the offer requires (or came over a path it must not).</summary>
    WrongPath,

    /// <summary>The amount is missing, too low, or cannot be computed.</summary>
    InvalidAmount,

    /// <summary>The quantity is missing or out of range.</summary>
    InvalidQuantity,

    /// <summary>The offer is priced in a currency this node cannot convert.</summary>
    UnsupportedCurrency,

    /// <summary>The invoice's mirrored offer/request fields differ from the request we sent.</summary>
    InvoiceMismatch,

    /// <summary>The invoice is not signed by the key the offer designates.</summary>
    WrongSigner,

    /// <summary>The invoice amount differs from what we asked for.</summary>
    AmountMismatch,

    /// <summary>The invoice has expired.</summary>
    InvoiceExpired,

    /// <summary>The pending request passed its deadline before the invoice arrived.</summary>
    RequestTimedOut,

    /// <summary>The reply did not come over the reply path we created for this request.</summary>
    WrongReplyPath,

    /// <summary>The issuer answered with an <c>invoice_error</c>.</summary>
    InvoiceErrorReceived,

    /// <summary>The offer or onion message cannot be used (e.g. an introduction node given by channel).</summary>
    Unsupported,
}

/// <summary>A typed refusal by the BOLT 12 offer flows; <see cref="WireFormatException.Reason"/> says why in words.</summary>
public sealed class Bolt12FlowException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    public Bolt12FlowException(Bolt12FlowError error, string reason, ulong? erroneousField = null, string? detail = null)
        : base(reason, detail)
    {
        Error = error;
        ErroneousField = erroneousField;
    }

    /// <summary>Creates an exception with a generic reason.</summary>
    public Bolt12FlowException() : this(Bolt12FlowError.Unsupported, "offer flow refused") { }

    /// <summary>Creates an exception with the given reason.</summary>
    public Bolt12FlowException(string reason) : this(Bolt12FlowError.Unsupported, reason) { }

    /// <summary>Creates an exception wrapping another.</summary>
    public Bolt12FlowException(string reason, Exception inner) : base(reason, inner) => Error = Bolt12FlowError.Unsupported;

    /// <summary>The category of the refusal.</summary>
    public Bolt12FlowError Error { get; }

    /// <summary>The TLV type of the offending field, when one field is to blame (for <c>invoice_error</c>).</summary>
    public ulong? ErroneousField { get; }
}

/// <summary>Fills a buffer with fresh random bytes (e.g. <c>RandomNumberGenerator.Fill</c>); tests pass a deterministic one.</summary>
public delegate void RandomFill(Span<byte> buffer);
