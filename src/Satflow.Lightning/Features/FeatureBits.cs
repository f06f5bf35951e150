using System.Collections;

namespace Satflow.Lightning.Features;

/// <summary>
/// An immutable set of BOLT 9 feature bits. Bit <c>n</c> is counted from the least-significant bit of the last byte of
/// the big-endian encoding. Even bits mean "compulsory", odd bits "optional"; a feature is the pair (2k, 2k+1).
/// </summary>
public sealed class FeatureBits : IEquatable<FeatureBits>, IEnumerable<int>
{
    /// <summary>Refuses feature vectors longer than this many bits (guards against huge allocations from input).</summary>
    public const int MaxBits = 8 * 1024 * 8;

    private readonly int[] _bits; // sorted ascending, unique

    private FeatureBits(int[] sortedUniqueBits) => _bits = sortedUniqueBits;

    /// <summary>No bits set.</summary>
    public static FeatureBits Empty { get; } = new([]);

    /// <summary>A set of the given bits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When a bit is negative or at least <see cref="MaxBits"/>.</exception>
    public static FeatureBits Of(params IEnumerable<int> bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        var set = new SortedSet<int>();
        foreach (var bit in bits)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(bit);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bit, MaxBits);
            set.Add(bit);
        }
        return new FeatureBits([.. set]);
    }

    /// <summary>The set bits in ascending order.</summary>
    public IReadOnlyList<int> Bits => _bits;

    /// <summary>True when no bit is set.</summary>
    public bool IsEmpty => _bits.Length == 0;

    /// <summary>True when <paramref name="bit"/> is set.</summary>
    public bool IsSet(int bit) => Array.BinarySearch(_bits, bit) >= 0;

    /// <summary>True when either bit of the feature pair containing <paramref name="bit"/> is set.</summary>
    public bool Supports(int bit) => IsSet(bit & ~1) || IsSet(bit | 1);

    /// <summary>A copy with <paramref name="bit"/> set.</summary>
    public FeatureBits With(int bit) => Of([.. _bits, bit]);

    /// <summary>A copy with <paramref name="bit"/> cleared.</summary>
    public FeatureBits Without(int bit) => new([.. _bits.Where(b => b != bit)]);

    /// <summary>Union of two sets.</summary>
    public FeatureBits Union(FeatureBits other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Of([.. _bits, .. other._bits]);
    }

    /// <summary>The minimal big-endian byte encoding (no leading zero bytes), as in <c>init</c> and BOLT 12.</summary>
    public byte[] ToBytes()
    {
        if (_bits.Length == 0)
        {
            return [];
        }
        var length = (_bits[^1] / 8) + 1;
        var bytes = new byte[length];
        foreach (var bit in _bits)
        {
            bytes[length - 1 - (bit / 8)] |= (byte)(1 << (bit % 8));
        }
        return bytes;
    }

    /// <summary>Decodes big-endian feature bytes (leading zero bytes are allowed).</summary>
    /// <exception cref="Wire.WireFormatException">When the vector is longer than <see cref="MaxBits"/>.</exception>
    public static FeatureBits FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length * 8 > MaxBits)
        {
            throw new Wire.WireFormatException("feature vector too long", $"{bytes.Length} bytes");
        }
        var bits = new List<int>();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            var b = bytes[i];
            for (var j = 0; j < 8 && b != 0; j++)
            {
                if ((b & (1 << j)) != 0)
                {
                    bits.Add(((bytes.Length - 1 - i) * 8) + j);
                }
            }
        }
        return new FeatureBits([.. bits]);
    }

    /// <inheritdoc />
    public bool Equals(FeatureBits? other) => other is not null && _bits.AsSpan().SequenceEqual(other._bits);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as FeatureBits);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var bit in _bits)
        {
            hash.Add(bit);
        }
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_bits).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => "[" + string.Join(",", _bits) + "]";
}
