using System.Security.Cryptography;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Offers.Flow;

/// <summary>HMAC-SHA256 derivations from a 32-byte node-local secret, used to make the offer flows stateless.</summary>
internal sealed class OfferSecrets
{
    private readonly byte[] _secret;

    public OfferSecrets(ReadOnlySpan<byte> secret)
    {
        if (secret.Length != 32)
        {
            throw new ArgumentException("The offer secret is 32 bytes.", nameof(secret));
        }
        _secret = secret.ToArray();
    }

    public byte[] Mac(string label, params ReadOnlySpan<byte[]> parts)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _secret);
        hmac.AppendData(System.Text.Encoding.ASCII.GetBytes(label));
        hmac.AppendData([0]);
        foreach (var part in parts)
        {
            hmac.AppendData(part);
        }
        return hmac.GetHashAndReset();
    }

    public ECPrivKey Key(string label, params ReadOnlySpan<byte[]> parts)
    {
        var material = Mac(label, parts);
        // A 256-bit HMAC output is a valid scalar except with negligible probability; re-hash until it is.
        while (!ECPrivKey.TryCreate(material, out _))
        {
            material = System.Security.Cryptography.SHA256.HashData(material);
        }
        return ECPrivKey.Create(material);
    }

    /// <summary>Serializes the given records in order (type, length, value).</summary>
    public static byte[] Serialize(IEnumerable<TlvRecord> records)
    {
        var writer = new WireWriter();
        foreach (var r in records)
        {
            writer.WriteBigSize(r.Type).WriteBigSize((ulong)r.Value.Length).WriteBytes(r.Value.Span);
        }
        return writer.ToArray();
    }

    /// <summary>Signs the records as BOLT 12 <paramref name="messageName"/> and returns the signed TLV bytes.</summary>
    public static byte[] Sign(List<TlvRecord> records, string messageName, ECPrivKey key)
    {
        var unsigned = new TlvStream(records);
        var signature = Bolt12Merkle.Sign(messageName, "signature", Bolt12Merkle.MerkleRoot(unsigned), key);
        return new TlvStream([.. unsigned.Records, new TlvRecord(Bolt12Type.Signature, signature)]).ToBytes();
    }

    public static NodeId NodeIdOf(ECPrivKey key) => NodeId.FromECPubKey(key.CreatePubKey());

    public static bool FixedTimeEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => CryptographicOperations.FixedTimeEquals(a, b);

    /// <summary>A private key drawn from <paramref name="random"/>.</summary>
    public static ECPrivKey RandomKey(RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var bytes = new byte[32];
        for (var attempt = 0; attempt < 16; attempt++)
        {
            random(bytes);
            if (ECPrivKey.TryCreate(bytes, out var key) && key is not null)
            {
                return key;
            }
        }
        throw new InvalidOperationException("The random source does not produce valid keys.");
    }
}
