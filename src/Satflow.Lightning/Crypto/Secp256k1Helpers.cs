using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using NBitcoin;
using NBitcoin.Secp256k1;
using HMACSHA256 = System.Security.Cryptography.HMACSHA256;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Crypto;

/// <summary>
/// Small secp256k1 and hashing helpers shared by the BOLT 3 key derivation, the BOLT 8 handshake and the BOLT 4
/// onion code, built on NBitcoin.Secp256k1 and the .NET BCL.
/// </summary>
public static class Secp256k1Helpers
{
    /// <summary>The BOLT 8 (and BOLT 4) ECDH: SHA256 of the compressed shared point <c>priv·pub</c>.</summary>
    /// <param name="privateKey">Our private key.</param>
    /// <param name="publicKey">Their public key.</param>
    public static byte[] Ecdh(ECPrivKey privateKey, ECPubKey publicKey)
    {
        var secret = new byte[32];
        Ecdh(privateKey, publicKey, secret);
        return secret;
    }

    /// <summary>The BOLT 8 (and BOLT 4) ECDH into <paramref name="destination"/> (32 bytes): SHA256 of the compressed shared point.</summary>
    /// <param name="privateKey">Our private key.</param>
    /// <param name="publicKey">Their public key.</param>
    /// <param name="destination">Where the 32-byte secret is written.</param>
    /// <exception cref="ArgumentException">When <paramref name="destination"/> is shorter than 32 bytes.</exception>
    public static void Ecdh(ECPrivKey privateKey, ECPubKey publicKey, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        ArgumentNullException.ThrowIfNull(publicKey);
        var shared = publicKey.GetSharedPubkey(privateKey);
        Span<byte> compressed = stackalloc byte[33];
        shared.WriteToSpan(true, compressed, out _);
        SHA256.HashData(compressed, destination);
    }

    /// <summary>Parses a 33-byte compressed secp256k1 point (leading byte 2 or 3, on the curve), without throwing.</summary>
    /// <param name="bytes">The encoding to check.</param>
    /// <param name="key">The point, when valid.</param>
    public static bool TryParseCompressedPoint(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out ECPubKey? key)
    {
        key = null;
        return bytes.Length == 33 && (bytes[0] == 2 || bytes[0] == 3)
            && ECPubKey.TryCreate(bytes, Context.Instance, out _, out key) && key is not null;
    }

    /// <summary>The 32 bytes of a private key.</summary>
    public static byte[] PrivateKeyBytes(ECPrivKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var bytes = new byte[32];
        key.WriteToSpan(bytes);
        return bytes;
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
        return new Key(PrivateKeyBytes(key));
    }
}
