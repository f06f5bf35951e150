using NBitcoin.Secp256k1;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Offers;

/// <summary>
/// BOLT 12 signature calculation: BIP 340 tagged hashes, the Merkle tree over TLV records (each leaf paired with a
/// nonce leaf, inner nodes hashing the smaller child first) and Schnorr signatures over
/// H("lightning" || messagename || fieldname, root).
/// </summary>
public static class Bolt12Merkle
{
    /// <summary>The first signature TLV type.</summary>
    public const ulong SignatureRangeStart = 240;

    /// <summary>The last signature TLV type.</summary>
    public const ulong SignatureRangeEnd = 1000;

    /// <summary>True for signature TLV types (240..1000), which the Merkle tree leaves out.</summary>
    public static bool IsSignatureType(ulong type) => type is >= SignatureRangeStart and <= SignatureRangeEnd;

    /// <summary>H(tag, msg) = SHA256(SHA256(tag) || SHA256(tag) || msg).</summary>
    public static Bytes32 TaggedHash(ReadOnlySpan<byte> tag, ReadOnlySpan<byte> message)
    {
        Span<byte> tagHash = stackalloc byte[32];
        SHA256.HashData(tag, tagHash);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(tagHash);
        sha.AppendData(tagHash);
        sha.AppendData(message);
        Span<byte> result = stackalloc byte[32];
        sha.GetHashAndReset(result);
        return new Bytes32(result);
    }

    /// <summary>The serialized record: BigSize type, BigSize length, value.</summary>
    public static byte[] SerializeRecord(TlvRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var writer = new WireWriter();
        writer.WriteBigSize(record.Type).WriteBigSize((ulong)record.Value.Length).WriteBytes(record.Value.Span);
        return writer.ToArray();
    }

    /// <summary>H("LnLeaf", tlv) for one record.</summary>
    public static Bytes32 LeafHash(TlvRecord record) => TaggedHash("LnLeaf"u8, SerializeRecord(record));

    /// <summary>H("LnNonce" || first-tlv, type) for one record.</summary>
    public static Bytes32 NonceHash(TlvRecord firstRecord, ulong type)
    {
        var first = SerializeRecord(firstRecord);
        var tag = new byte[7 + first.Length];
        "LnNonce"u8.CopyTo(tag);
        first.CopyTo(tag, 7);
        return TaggedHash(tag, BigSize.Encode(type));
    }

    /// <summary>H("LnBranch", lesser || greater).</summary>
    public static Bytes32 BranchHash(Bytes32 a, Bytes32 b)
    {
        Span<byte> left = stackalloc byte[32];
        Span<byte> right = stackalloc byte[32];
        a.CopyTo(left);
        b.CopyTo(right);
        Span<byte> both = stackalloc byte[64];
        if (left.SequenceCompareTo(right) <= 0)
        {
            left.CopyTo(both);
            right.CopyTo(both[32..]);
        }
        else
        {
            right.CopyTo(both);
            left.CopyTo(both[32..]);
        }
        return TaggedHash("LnBranch"u8, both);
    }

    /// <summary>The Merkle root over the non-signature records of <paramref name="stream"/>.</summary>
    /// <exception cref="ArgumentException">When the stream has no non-signature record.</exception>
    public static Bytes32 MerkleRoot(TlvStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var records = stream.Records.Where(r => !IsSignatureType(r.Type)).ToList();
        if (records.Count == 0)
        {
            throw new ArgumentException("A Merkle root needs at least one non-signature record.", nameof(stream));
        }
        var first = records[0];
        var level = records.Select(r => BranchHash(LeafHash(r), NonceHash(first, r.Type))).ToArray();
        for (var step = 1; step < level.Length; step *= 2)
        {
            for (var i = 0; i + step < level.Length; i += step * 2)
            {
                level[i] = BranchHash(level[i], level[i + step]);
            }
        }
        return level[0];
    }

    /// <summary>The signature tag "lightning" || messagename || fieldname.</summary>
    public static byte[] SignatureTag(string messageName, string fieldName) =>
        System.Text.Encoding.ASCII.GetBytes("lightning" + messageName + fieldName);

    /// <summary>The 32-byte digest that is signed: H(tag, root).</summary>
    public static Bytes32 SignatureDigest(string messageName, string fieldName, Bytes32 merkleRoot) =>
        TaggedHash(SignatureTag(messageName, fieldName), merkleRoot.ToArray());

    /// <summary>
    /// BIP 340 signature of the digest. Deterministic: the auxiliary randomness is 32 zero bytes, which is what
    /// libsecp256k1 uses when none is given, so the spec's vectors are reproduced exactly.
    /// </summary>
    public static byte[] Sign(string messageName, string fieldName, Bytes32 merkleRoot, ECPrivKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var digest = SignatureDigest(messageName, fieldName, merkleRoot).ToArray();
        return key.SignBIP340(digest, new byte[32]).ToBytes();
    }

    /// <summary>Checks a BIP 340 signature by the x-only form of <paramref name="signer"/>.</summary>
    public static bool Verify(string messageName, string fieldName, Bytes32 merkleRoot, ReadOnlySpan<byte> signature, NodeId signer)
    {
        if (!SecpSchnorrSignature.TryCreate(signature, out var sig) || sig is null)
        {
            return false;
        }
        if (!Secp256k1Helpers.TryParseCompressedPoint(signer.Span, out var pub))
        {
            return false;
        }
        var digest = SignatureDigest(messageName, fieldName, merkleRoot).ToArray();
        return pub.ToXOnlyPubKey().SigVerifyBIP340(sig, digest);
    }
}
