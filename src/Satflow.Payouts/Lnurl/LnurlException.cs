using Satflow.Lightning.Wire;

namespace Satflow.Payouts.Lnurl;

/// <summary>Which LNURL rule was broken.</summary>
public enum LnurlError
{
    /// <summary>Not a bech32 <c>lnurl1…</c> string (bad characters, checksum, padding, prefix or UTF-8).</summary>
    InvalidEncoding,

    /// <summary>The URL is not absolute https (http is allowed only for .onion, or loopback when enabled).</summary>
    InvalidUrl,

    /// <summary>The response is not a JSON object.</summary>
    InvalidJson,

    /// <summary>The response's <c>tag</c> is not the expected one.</summary>
    WrongTag,

    /// <summary>A field is missing or invalid.</summary>
    InvalidField,

    /// <summary>An amount is outside the advertised range.</summary>
    AmountOutOfRange,

    /// <summary>The metadata is malformed, or the invoice's description hash does not commit to it.</summary>
    MetadataMismatch,

    /// <summary>The returned invoice is invalid or does not match the request.</summary>
    InvalidInvoice,

    /// <summary>The service answered <c>{"status":"ERROR","reason":…}</c>.</summary>
    ServiceError,

    /// <summary>Not a valid lightning address (<c>user@domain</c>).</summary>
    InvalidLightningAddress,

    /// <summary>A comment is longer than the service allows.</summary>
    CommentTooLong,
}

/// <summary>A typed LNURL error (a <see cref="WireFormatException"/> whose reason is <see cref="Error"/>).</summary>
public sealed class LnurlException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    public LnurlException(LnurlError error, string detail, Exception? inner = null)
        : base(error.ToString(), detail, inner)
    {
        Error = error;
    }

    /// <summary>Creates the exception.</summary>
    public LnurlException() : this(LnurlError.InvalidField, "invalid LNURL data") { }

    /// <summary>Creates the exception.</summary>
    public LnurlException(string detail) : this(LnurlError.InvalidField, detail) { }

    /// <summary>Creates the exception.</summary>
    public LnurlException(string detail, Exception inner) : this(LnurlError.InvalidField, detail, inner) { }

    /// <summary>Which rule was broken.</summary>
    public LnurlError Error { get; }
}
