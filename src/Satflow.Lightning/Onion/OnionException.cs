using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>
/// An onion could not be processed. <see cref="FailureCode"/> is the BOLT 4 failure to return upstream; for BADONION
/// codes <see cref="Sha256OfOnion"/> is the hash to put in <c>update_fail_malformed_htlc</c>.
/// </summary>
public sealed class OnionException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    public OnionException(FailureCode failureCode, string detail, Bytes32? sha256OfOnion = null, Exception? inner = null)
        : base(failureCode.Name, detail, inner)
    {
        FailureCode = failureCode;
        Sha256OfOnion = sha256OfOnion;
    }

    /// <summary>Creates an <c>invalid_onion_payload</c> error naming the offending TLV type.</summary>
    public OnionException(ulong tlvType, string detail, Exception? inner = null)
        : base(FailureCode.InvalidOnionPayload.Name, detail, inner)
    {
        FailureCode = FailureCode.InvalidOnionPayload;
        TlvType = tlvType;
    }

    /// <summary>Creates the exception.</summary>
    public OnionException() : this(FailureCode.InvalidOnionPayload, "malformed onion") { }

    /// <summary>Creates the exception.</summary>
    public OnionException(string reason) : this(FailureCode.InvalidOnionPayload, reason) { }

    /// <summary>Creates the exception.</summary>
    public OnionException(string reason, Exception inner) : this(FailureCode.InvalidOnionPayload, reason, null, inner) { }

    /// <summary>The BOLT 4 failure code this error maps to.</summary>
    public FailureCode FailureCode { get; }

    /// <summary>The TLV type an <c>invalid_onion_payload</c> failure points at, when known.</summary>
    public ulong? TlvType { get; }

    /// <summary>SHA256 of the received onion packet, for BADONION failures.</summary>
    public Bytes32? Sha256OfOnion { get; }

    /// <summary>
    /// The failure message to return: for BADONION codes the <c>sha256_of_onion</c> form used in
    /// <c>update_fail_malformed_htlc</c>; otherwise the bare code.
    /// </summary>
    public FailureMessage ToFailureMessage()
    {
        if (FailureCode.IsBadOnion)
        {
            return FailureMessage.BadOnion(FailureCode, Sha256OfOnion ?? Bytes32.Zero);
        }
        return FailureCode == FailureCode.InvalidOnionPayload
            ? FailureMessage.InvalidOnionPayload(TlvType ?? 0, 0)
            : FailureMessage.Simple(FailureCode);
    }
}
