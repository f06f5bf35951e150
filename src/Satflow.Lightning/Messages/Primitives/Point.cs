using NBitcoin;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Messages.Primitives;

/// <summary>
/// A 33-byte compressed secp256k1 point as carried in Lightning messages (basepoints, funding keys,
/// per-commitment points, blinding path keys). Decoders only create points that are valid curve points.
/// </summary>
public readonly struct Point : IEquatable<Point>
{
    /// <summary>Length in bytes.</summary>
    public const int Length = 33;

    private readonly byte[]? _bytes;

    private Point(byte[] bytes) => _bytes = bytes;

    /// <summary>Creates a point from a public key.</summary>
    public Point(PubKey pubKey)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        _bytes = pubKey.Compress().ToBytes();
    }

    /// <summary>The 33 bytes (not a copy; do not modify).</summary>
    public ReadOnlySpan<byte> Span => _bytes ?? new byte[Length];

    /// <summary>A copy of the 33 bytes.</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>The point as an NBitcoin public key.</summary>
    public PubKey ToPubKey() => new(Span.ToArray());

    /// <summary>The same point as a node id.</summary>
    public NodeId ToNodeId() => NodeId.FromBytes(Span);

    /// <summary>True when <paramref name="bytes"/> are 33 bytes of a valid compressed point.</summary>
    public static bool IsValid(ReadOnlySpan<byte> bytes) =>
        Secp256k1Helpers.TryParseCompressedPoint(bytes, out _);

    /// <summary>Creates a point from 33 bytes without throwing.</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out Point point)
    {
        point = default;
        if (!IsValid(bytes))
        {
            return false;
        }
        point = new Point(bytes.ToArray());
        return true;
    }

    /// <summary>Creates a point from 33 bytes.</summary>
    /// <exception cref="Wire.WireFormatException">When the bytes are not a valid compressed point.</exception>
    public static Point FromBytes(ReadOnlySpan<byte> bytes) =>
        TryFromBytes(bytes, out var point) ? point : throw new Wire.WireFormatException("invalid point", Convert.ToHexStringLower(bytes));

    /// <summary>Parses 66 hex characters.</summary>
    /// <exception cref="FormatException">When the text is not the hex of a valid compressed point.</exception>
    public static Point Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return FromBytes(Convert.FromHexString(hex));
    }

    /// <inheritdoc />
    public bool Equals(Point other) => Span.SequenceEqual(other.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Point other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(Point left, Point right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Point left, Point right) => !left.Equals(right);

    /// <summary>Lower-case hex.</summary>
    public override string ToString() => Convert.ToHexStringLower(Span);
}
