using NBitcoin;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Crypto;

namespace Satflow.Lightning.Types;

/// <summary>A Lightning node's identity: a 33-byte compressed secp256k1 public key.</summary>
public readonly struct NodeId : IEquatable<NodeId>, IComparable<NodeId>
{
    /// <summary>Length in bytes.</summary>
    public const int Length = 33;

    private readonly byte[]? _bytes;

    private NodeId(byte[] bytes) => _bytes = bytes;

    /// <summary>Creates a node id from a public key.</summary>
    public NodeId(PubKey pubKey)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        _bytes = pubKey.Compress().ToBytes();
    }

    /// <summary>The 33 bytes (a copy is not made; do not modify).</summary>
    public ReadOnlySpan<byte> Span => _bytes ?? new byte[Length];

    /// <summary>A copy of the 33 bytes.</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>The public key.</summary>
    public PubKey ToPubKey() => new(Span.ToArray());

    /// <summary>The public key as the secp256k1 library type (used by the onion and route blinding code).</summary>
    /// <exception cref="FormatException">For the default (all-zero) value, which is not a point.</exception>
    public ECPubKey ToECPubKey() =>
        Secp256k1Helpers.TryParseCompressedPoint(Span, out var key) ? key : throw new FormatException("The default node id is not a point.");

    /// <summary>Creates a node id from a secp256k1 library public key (its compressed encoding).</summary>
    public static NodeId FromECPubKey(ECPubKey pubKey)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        return new NodeId(pubKey.ToBytes(true));
    }

    /// <summary>Creates a node id from 33 bytes, checking that they are a valid compressed point.</summary>
    /// <exception cref="FormatException">When the bytes are not a valid compressed public key.</exception>
    public static NodeId FromBytes(ReadOnlySpan<byte> bytes) =>
        TryFromBytes(bytes, out var id) ? id : throw new FormatException("Not a valid 33-byte compressed public key.");

    /// <summary>Creates a node id from 33 decoded bytes, failing as a decoder does.</summary>
    /// <exception cref="Wire.WireFormatException">"invalid point" naming <paramref name="field"/>, when the bytes are not a valid compressed point.</exception>
    internal static NodeId FromWire(ReadOnlySpan<byte> bytes, string field) =>
        TryFromBytes(bytes, out var id) ? id : throw new Wire.WireFormatException("invalid point", field);

    /// <summary>Creates a node id from 33 bytes without throwing.</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out NodeId nodeId)
    {
        nodeId = default;
        if (!Secp256k1Helpers.TryParseCompressedPoint(bytes, out _))
        {
            return false;
        }
        nodeId = new NodeId(bytes.ToArray());
        return true;
    }

    /// <summary>Parses 66 hex characters.</summary>
    /// <exception cref="FormatException">When the text is not a valid compressed public key.</exception>
    public static NodeId Parse(string hex) =>
        TryParse(hex, out var id) ? id : throw new FormatException($"'{hex}' is not a node id (66 hex characters of a compressed public key).");

    /// <summary>Parses 66 hex characters without throwing.</summary>
    public static bool TryParse(string? hex, out NodeId nodeId)
    {
        nodeId = default;
        if (hex is null || hex.Length != Length * 2)
        {
            return false;
        }
        try
        {
            return TryFromBytes(Convert.FromHexString(hex), out nodeId);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public bool Equals(NodeId other) => Span.SequenceEqual(other.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is NodeId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    /// <summary>Lexicographic order of the 33 bytes (BOLT 7's node_id_1 &lt; node_id_2).</summary>
    public int CompareTo(NodeId other) => Span.SequenceCompareTo(other.Span);

    /// <summary>Value equality.</summary>
    public static bool operator ==(NodeId left, NodeId right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(NodeId left, NodeId right) => !left.Equals(right);

    /// <summary>Lexicographic order.</summary>
    public static bool operator <(NodeId left, NodeId right) => left.CompareTo(right) < 0;

    /// <summary>Lexicographic order.</summary>
    public static bool operator >(NodeId left, NodeId right) => left.CompareTo(right) > 0;

    /// <summary>Lexicographic order.</summary>
    public static bool operator <=(NodeId left, NodeId right) => left.CompareTo(right) <= 0;

    /// <summary>Lexicographic order.</summary>
    public static bool operator >=(NodeId left, NodeId right) => left.CompareTo(right) >= 0;

    /// <summary>Lower-case hex.</summary>
    public override string ToString() => Convert.ToHexStringLower(Span);
}
