using System.Security.Cryptography;
using NBitcoin;
using NBitcoin.Secp256k1;
using HMACSHA256 = System.Security.Cryptography.HMACSHA256;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Crypto;

/// <summary>
/// Small secp256k1 and hashing helpers shared by the BOLT 3 key derivation and the BOLT 8 handshake, built on
/// NBitcoin.Secp256k1 and the .NET BCL.
/// </summary>
public static class Secp256k1Helpers
{
    /// <summary>The BOLT 8 ECDH: SHA256 of the compressed shared point <c>priv·pub</c>.</summary>
    /// <param name="privateKey">Our private key.</param>
    /// <param name="publicKey">Their public key.</param>
    public static byte[] Ecdh(ECPrivKey privateKey, ECPubKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        ArgumentNullException.ThrowIfNull(publicKey);
        var shared = publicKey.GetSharedPubkey(privateKey);
        Span<byte> compressed = stackalloc byte[33];
        shared.WriteToSpan(true, compressed, out _);
        return SHA256.HashData(compressed);
    }

    /// <summary>HKDF-SHA256 with an empty info field, returning the two 32-byte halves of its 64-byte output.</summary>
    /// <param name="salt">The salt (the chaining key in BOLT 8).</param>
    /// <param name="inputKeyMaterial">The input key material.</param>
    public static (byte[] First, byte[] Second) Hkdf(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> inputKeyMaterial)
    {
        // RFC 5869 written out with the BCL's HMAC-SHA256: the platform HKDF (OpenSSL) rejects the empty input key
        // material BOLT 8 uses for the final split.
        Span<byte> prk = stackalloc byte[32];
        HMACSHA256.HashData(salt, inputKeyMaterial, prk);
        Span<byte> block = stackalloc byte[33];
        var first = new byte[32];
        block[0] = 1;
        HMACSHA256.HashData(prk, block[..1], first);
        first.CopyTo(block);
        block[32] = 2;
        var second = new byte[32];
        HMACSHA256.HashData(prk, block, second);
        prk.Clear();
        return (first, second);
    }

    /// <summary>SHA256 of the concatenation of two byte strings.</summary>
    public static byte[] Sha256(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(first);
        hash.AppendData(second);
        return hash.GetHashAndReset();
    }

    /// <summary>Converts an NBitcoin public key to the secp256k1 library type.</summary>
    public static ECPubKey ToECPubKey(PubKey pubKey)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        return ECPubKey.Create(pubKey.Compress().ToBytes());
    }

    /// <summary>Converts a secp256k1 library public key to NBitcoin's type (compressed).</summary>
    public static PubKey ToPubKey(ECPubKey pubKey)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        return new PubKey(pubKey.ToBytes(true));
    }

    /// <summary>Converts an NBitcoin private key to the secp256k1 library type.</summary>
    public static ECPrivKey ToECPrivKey(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ECPrivKey.Create(key.ToBytes());
    }

    /// <summary>Converts a secp256k1 library private key to NBitcoin's type (compressed public key).</summary>
    public static Key ToKey(ECPrivKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var bytes = new byte[32];
        key.WriteToSpan(bytes);
        return new Key(bytes);
    }
}
