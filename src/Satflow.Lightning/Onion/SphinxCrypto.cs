using System.Text;
using NBitcoin.Secp256k1;
using HMACSHA256 = System.Security.Cryptography.HMACSHA256;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Onion;

/// <summary>
/// The BOLT 4 key schedule: ECDH shared secrets (SHA256 of the compressed point), HMAC-SHA256 derived keys
/// (<c>rho</c>, <c>mu</c>, <c>um</c>, <c>pad</c>, <c>ammag</c>, <c>ammagext</c>, <c>blinded_node_id</c>) and the
/// blinding of ephemeral keys.
/// </summary>
public static class SphinxCrypto
{
    /// <summary>Key type of the stream that obfuscates hop payloads.</summary>
    public const string Rho = "rho";

    /// <summary>Key type of the hop payload HMAC.</summary>
    public const string Mu = "mu";

    /// <summary>Key type of the failure packet HMAC and attribution HMACs.</summary>
    public const string Um = "um";

    /// <summary>Key type of the stream that fills the initial hop payloads.</summary>
    public const string Pad = "pad";

    /// <summary>Key type of the stream that obfuscates failure packets.</summary>
    public const string Ammag = "ammag";

    /// <summary>Key type of the stream that obfuscates attribution data.</summary>
    public const string AmmagExt = "ammagext";

    /// <summary>Key type of the route blinding node id tweak.</summary>
    public const string BlindedNodeId = "blinded_node_id";

    /// <summary>The ECDH shared secret: SHA256 of the compressed point <c>privateKey · publicKey</c>.</summary>
    public static Bytes32 SharedSecret(ECPubKey publicKey, ECPrivKey privateKey)
    {
        Span<byte> secret = stackalloc byte[32];
        Secp256k1Helpers.Ecdh(privateKey, publicKey, secret);
        return new Bytes32(secret);
    }

    /// <summary>A derived key: HMAC-SHA256 keyed with the ASCII <paramref name="keyType"/> over the 32-byte secret.</summary>
    public static Bytes32 GenerateKey(string keyType, Bytes32 secret)
    {
        ArgumentNullException.ThrowIfNull(keyType);
        Span<byte> message = stackalloc byte[32];
        secret.CopyTo(message);
        return GenerateKey(keyType, message);
    }

    /// <summary>A derived key: HMAC-SHA256 keyed with the ASCII <paramref name="keyType"/> over <paramref name="secret"/>.</summary>
    public static Bytes32 GenerateKey(string keyType, ReadOnlySpan<byte> secret)
    {
        ArgumentNullException.ThrowIfNull(keyType);
        Span<byte> keyBytes = stackalloc byte[keyType.Length];
        Encoding.ASCII.GetBytes(keyType, keyBytes);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(keyBytes, secret, mac);
        return new Bytes32(mac);
    }

    /// <summary>The blinding factor of an ephemeral key: <c>SHA256(compressed(publicKey) || sharedSecret)</c>.</summary>
    public static Bytes32 BlindingFactor(ECPubKey publicKey, Bytes32 sharedSecret)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        Span<byte> secret = stackalloc byte[32];
        sharedSecret.CopyTo(secret);
        return new Bytes32(Secp256k1Helpers.Sha256(publicKey.ToBytes(true), secret));
    }

    /// <summary>Multiplies a public key by a 32-byte scalar.</summary>
    /// <exception cref="OnionException">When the scalar is zero or not below the group order (probability ~2^-128).</exception>
    public static ECPubKey Blind(ECPubKey publicKey, Bytes32 factor)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        Span<byte> tweak = stackalloc byte[32];
        factor.CopyTo(tweak);
        return publicKey.TryTweakMul(tweak, out var result) && result is not null
            ? result
            : throw new OnionException(FailureCode.InvalidOnionKey, "blinding factor is not a valid scalar");
    }

    /// <summary>Multiplies a private key by a 32-byte scalar.</summary>
    /// <exception cref="OnionException">When the scalar is zero or not below the group order (probability ~2^-128).</exception>
    public static ECPrivKey Blind(ECPrivKey privateKey, Bytes32 factor)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        Span<byte> tweak = stackalloc byte[32];
        factor.CopyTo(tweak);
        return privateKey.TryTweakMul(tweak, out var result) && result is not null
            ? result
            : throw new OnionException(FailureCode.InvalidOnionKey, "blinding factor is not a valid scalar");
    }

    /// <summary>Parses a 33-byte compressed point, or returns null.</summary>
    public static ECPubKey? TryParsePoint(ReadOnlySpan<byte> bytes) =>
        Secp256k1Helpers.TryParseCompressedPoint(bytes, out var key) ? key : null;

    /// <summary>Parses a 33-byte compressed point.</summary>
    /// <exception cref="Wire.WireFormatException">When the bytes are not a valid compressed point.</exception>
    public static ECPubKey ParsePoint(ReadOnlySpan<byte> bytes, string what) =>
        TryParsePoint(bytes) ?? throw new Wire.WireFormatException("invalid point", what);

    /// <summary>The 33-byte compressed encoding of a point.</summary>
    public static byte[] Compress(ECPubKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.ToBytes(true);
    }

    /// <summary>Creates a private key from 32 bytes.</summary>
    /// <exception cref="ArgumentException">When the bytes are not a valid secp256k1 scalar.</exception>
    public static ECPrivKey PrivateKey(ReadOnlySpan<byte> bytes) =>
        bytes.Length == 32 && ECPrivKey.TryCreate(bytes, Context.Instance, out var key) && key is not null
            ? key
            : throw new ArgumentException("Not a valid 32-byte secp256k1 private key.", nameof(bytes));

    /// <summary>The 32 bytes of a private key.</summary>
    public static byte[] PrivateKeyBytes(ECPrivKey key) => Secp256k1Helpers.PrivateKeyBytes(key);

    /// <summary>XORs <paramref name="source"/> into <paramref name="destination"/> byte by byte (the shorter length).</summary>
    internal static void XorInto(Span<byte> destination, ReadOnlySpan<byte> source)
    {
        var length = Math.Min(destination.Length, source.Length);
        for (var i = 0; i < length; i++)
        {
            destination[i] ^= source[i];
        }
    }
}
