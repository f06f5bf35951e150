using NBitcoin.Crypto;
using Satflow.Lightning.Messages.Primitives;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>Conversions between the 64-byte wire signatures and NBitcoin's ECDSA signatures (low-S enforced).</summary>
internal static class ChannelSignatures
{
    private static ReadOnlySpan<byte> HalfOrder =>
    [
        0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
    ];

    public static Signature64 ToWire(ECDSASignature signature) => Signature64.FromBytes(signature.ToCompact());

    /// <summary>Parses a wire signature; false when it is malformed, zero or high-S (BOLT 2: LOW-S standard rule).</summary>
    public static bool TryFromWire(Signature64 signature, out ECDSASignature parsed)
    {
        parsed = null!;
        var span = signature.Span;
        if (span[32..].SequenceCompareTo(HalfOrder) > 0)
        {
            return false;
        }
        if (!ECDSASignature.TryParseFromCompact(span, out var result) || result is null)
        {
            return false;
        }
        parsed = result;
        return true;
    }
}
