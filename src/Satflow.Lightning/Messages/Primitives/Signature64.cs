namespace Satflow.Lightning.Messages.Primitives;

/// <summary>
/// A BOLT 1 <c>signature</c>: a 64-byte compact ECDSA signature (32-byte big-endian <c>r</c> then <c>s</c>).
/// The wire codec keeps the bytes as sent; signature checks belong to the protocol layer.
/// </summary>
public readonly struct Signature64 : IEquatable<Signature64>
{
    /// <summary>Length in bytes.</summary>
    public const int Length = 64;

    private readonly byte[]? _bytes;

    private Signature64(byte[] bytes) => _bytes = bytes;

    /// <summary>The 64 bytes (not a copy; do not modify).</summary>
    public ReadOnlySpan<byte> Span => _bytes ?? new byte[Length];

    /// <summary>A copy of the 64 bytes.</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>Copies exactly 64 bytes.</summary>
    /// <exception cref="ArgumentException">When the span is not 64 bytes long.</exception>
    public static Signature64 FromBytes(ReadOnlySpan<byte> bytes) =>
        bytes.Length == Length ? new Signature64(bytes.ToArray()) : throw new ArgumentException($"Expected {Length} bytes, got {bytes.Length}.", nameof(bytes));

    /// <summary>Parses 128 hex characters.</summary>
    /// <exception cref="FormatException">When the text is not 128 hex characters.</exception>
    public static Signature64 Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        var bytes = Convert.FromHexString(hex);
        return bytes.Length == Length ? new Signature64(bytes) : throw new FormatException($"Expected {Length * 2} hex characters.");
    }

    /// <inheritdoc />
    public bool Equals(Signature64 other) => Span.SequenceEqual(other.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Signature64 other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(Signature64 left, Signature64 right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Signature64 left, Signature64 right) => !left.Equals(right);

    /// <summary>Lower-case hex.</summary>
    public override string ToString() => Convert.ToHexStringLower(Span);
}
