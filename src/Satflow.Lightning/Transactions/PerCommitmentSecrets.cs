using System.Security.Cryptography;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>BOLT 3 per-commitment secret generation from a seed (<c>generate_from_seed</c>).</summary>
public static class PerCommitmentSecrets
{
    /// <summary>The first index used; indexes count down from here.</summary>
    public const ulong FirstIndex = (1UL << 48) - 1;

    /// <summary>The I'th secret from a seed (<c>generate_from_seed(seed, I)</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">When the index does not fit 48 bits.</exception>
    public static Bytes32 Generate(Bytes32 seed, ulong index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, FirstIndex);
        return Derive(seed, 48, index);
    }

    /// <summary>
    /// The secret index used by a commitment number (commitment 0 uses <see cref="FirstIndex"/>, then counting down).
    /// </summary>
    public static ulong IndexOfCommitment(ulong commitmentNumber)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(commitmentNumber, FirstIndex);
        return FirstIndex - commitmentNumber;
    }

    /// <summary><c>derive_secret(base, bits, I)</c>: flips and hashes for each set bit below <paramref name="bits"/>.</summary>
    internal static Bytes32 Derive(Bytes32 baseSecret, int bits, ulong index)
    {
        Span<byte> p = stackalloc byte[32];
        baseSecret.CopyTo(p);
        for (var b = bits - 1; b >= 0; b--)
        {
            if (((index >> b) & 1) == 1)
            {
                p[b / 8] ^= (byte)(1 << (b % 8));
                SHA256.HashData(p, p);
            }
        }
        return new Bytes32(p);
    }
}

/// <summary>Why a per-commitment secret was refused by <see cref="PerCommitmentSecretStore"/>.</summary>
public sealed class PerCommitmentSecretException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PerCommitmentSecretException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public PerCommitmentSecretException() : this("Invalid per-commitment secret.") { }

    /// <summary>Creates the exception.</summary>
    public PerCommitmentSecretException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The compact receiver-side storage of the peer's revealed per-commitment secrets (BOLT 3 "Efficient Per-commitment
/// Secret Storage"): at most 49 (secret, index) pairs, checking on every insert that the new secret derives all the
/// earlier ones it should (the detection of secrets not generated from one seed).
/// </summary>
public sealed class PerCommitmentSecretStore
{
    private readonly (Bytes32 Secret, ulong Index)?[] _known = new (Bytes32, ulong)?[49];
    private ulong? _lastIndex;

    /// <summary>The index of the last secret inserted, or <c>null</c> before the first.</summary>
    public ulong? LastIndex => _lastIndex;

    /// <summary>Inserts the secret for <paramref name="index"/> (<c>insert_secret</c>).</summary>
    /// <exception cref="PerCommitmentSecretException">
    /// When the index is out of range or not the next one, or when the secret does not derive the earlier secrets.
    /// The store is left unchanged.
    /// </exception>
    public void Insert(Bytes32 secret, ulong index)
    {
        if (index > PerCommitmentSecrets.FirstIndex)
        {
            throw new PerCommitmentSecretException($"Index {index} does not fit 48 bits.");
        }
        var expected = _lastIndex is { } last ? last - 1 : PerCommitmentSecrets.FirstIndex;
        if (_lastIndex == 0 || index != expected)
        {
            throw new PerCommitmentSecretException($"Expected the secret for index {expected}, got index {index}.");
        }
        var bucket = WhereToPut(index);
        for (var b = 0; b < bucket; b++)
        {
            if (_known[b] is { } entry && PerCommitmentSecrets.Derive(secret, bucket, entry.Index) != entry.Secret)
            {
                throw new PerCommitmentSecretException($"The secret for index {index} does not derive the earlier secret for index {entry.Index}.");
            }
        }
        _known[bucket] = (secret, index);
        _lastIndex = index;
    }

    /// <summary>Finds the secret for an index already revealed (<c>derive_old_secret</c>).</summary>
    public bool TryGetSecret(ulong index, out Bytes32 secret)
    {
        secret = default;
        if (index > PerCommitmentSecrets.FirstIndex || _lastIndex is not { } last || index < last)
        {
            return false;
        }
        for (var b = 0; b < _known.Length; b++)
        {
            if (_known[b] is not { } entry)
            {
                continue;
            }
            var mask = b >= 64 ? 0UL : ~((1UL << b) - 1);
            if ((index & mask) == entry.Index)
            {
                secret = PerCommitmentSecrets.Derive(entry.Secret, b, index);
                return true;
            }
        }
        return false;
    }

    /// <summary>The stored (index, secret) pairs, for persistence; <see cref="Restore"/> rebuilds the store from them.</summary>
    public IReadOnlyList<(ulong Index, Bytes32 Secret)> Snapshot() =>
        _known.Where(e => e is not null).Select(e => (e!.Value.Index, e.Value.Secret)).OrderByDescending(e => e.Index).ToList();

    /// <summary>
    /// Rebuilds a store from a <see cref="Snapshot"/>, checking that the entries are exactly those a store holds after
    /// receiving every secret down to the smallest index, and that entries derive one another where they should.
    /// </summary>
    /// <exception cref="PerCommitmentSecretException">When the entries do not form a valid store.</exception>
    public static PerCommitmentSecretStore Restore(IEnumerable<(ulong Index, Bytes32 Secret)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var store = new PerCommitmentSecretStore();
        foreach (var (index, secret) in entries)
        {
            if (index > PerCommitmentSecrets.FirstIndex)
            {
                throw new PerCommitmentSecretException($"Index {index} does not fit 48 bits.");
            }
            var bucket = WhereToPut(index);
            if (store._known[bucket] is not null)
            {
                throw new PerCommitmentSecretException($"Two entries for bucket {bucket}.");
            }
            store._known[bucket] = (secret, index);
            store._lastIndex = store._lastIndex is { } l ? Math.Min(l, index) : index;
        }
        if (store._lastIndex is not { } last)
        {
            return store;
        }
        for (var b = 0; b <= 48; b++)
        {
            var expected = SmallestIndexInBucket(last, b);
            if (store._known[b]?.Index != expected)
            {
                throw new PerCommitmentSecretException($"Bucket {b} should hold index {expected?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"}.");
            }
        }
        for (var high = 1; high <= 48; high++)
        {
            if (store._known[high] is not { } parent)
            {
                continue;
            }
            var mask = ~((1UL << high) - 1);
            for (var low = 0; low < high; low++)
            {
                if (store._known[low] is { } child && (child.Index & mask) == parent.Index
                    && PerCommitmentSecrets.Derive(parent.Secret, high, child.Index) != child.Secret)
                {
                    throw new PerCommitmentSecretException($"The secret for index {parent.Index} does not derive the secret for index {child.Index}.");
                }
            }
        }
        return store;
    }

    /// <summary>The smallest index at or above <paramref name="last"/> with exactly <paramref name="bucket"/> trailing zeros.</summary>
    private static ulong? SmallestIndexInBucket(ulong last, int bucket)
    {
        if (bucket == 48)
        {
            return last == 0 ? 0 : null;
        }
        var step = 1UL << bucket;
        var m = (last + step - 1) >> bucket;
        if ((m & 1) == 0)
        {
            m++;
        }
        var index = m << bucket;
        return index <= PerCommitmentSecrets.FirstIndex ? index : null;
    }

    private static int WhereToPut(ulong index)
    {
        for (var b = 0; b < 48; b++)
        {
            if (((index >> b) & 1) == 1)
            {
                return b;
            }
        }
        return 48;
    }
}
