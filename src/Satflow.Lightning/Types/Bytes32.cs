using System.Buffers.Binary;

namespace Satflow.Lightning.Types;

/// <summary>An immutable 32-byte value with value equality, the storage behind hashes, secrets and ids.</summary>
public readonly struct Bytes32 : IEquatable<Bytes32>
{
    /// <summary>Length in bytes.</summary>
    public const int Length = 32;

    private readonly ulong _a, _b, _c, _d;

    /// <summary>Copies exactly 32 bytes.</summary>
    /// <exception cref="ArgumentException">When the span is not 32 bytes long.</exception>
    public Bytes32(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} bytes, got {bytes.Length}.", nameof(bytes));
        }
        _a = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _b = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]);
    }

    /// <summary>All zeroes.</summary>
    public static Bytes32 Zero => default;

    /// <summary>Writes the 32 bytes into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    /// <summary>A new array with the 32 bytes.</summary>
    public byte[] ToArray()
    {
        var result = new byte[Length];
        CopyTo(result);
        return result;
    }

    /// <summary>Lower-case hex.</summary>
    public string ToHex() => Convert.ToHexStringLower(ToArray());

    /// <summary>Parses 64 hex characters.</summary>
    /// <exception cref="FormatException">When the text is not 64 hex characters.</exception>
    public static Bytes32 Parse(string hex)
    {
        if (!TryParse(hex, out var value))
        {
            throw new FormatException("Expected 64 hex characters.");
        }
        return value;
    }

    /// <summary>Parses 64 hex characters without throwing.</summary>
    public static bool TryParse(string? hex, out Bytes32 value)
    {
        value = default;
        if (hex is null || hex.Length != Length * 2)
        {
            return false;
        }
        Span<byte> buffer = stackalloc byte[Length];
        if (Convert.FromHexString(hex, buffer, out _, out var written) != System.Buffers.OperationStatus.Done || written != Length)
        {
            return false;
        }
        value = new Bytes32(buffer);
        return true;
    }

    /// <inheritdoc />
    public bool Equals(Bytes32 other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Bytes32 other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_a, _b, _c, _d);

    /// <summary>Value equality.</summary>
    public static bool operator ==(Bytes32 left, Bytes32 right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Bytes32 left, Bytes32 right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => ToHex();
}
