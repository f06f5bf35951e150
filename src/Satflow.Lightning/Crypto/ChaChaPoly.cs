using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Satflow.Lightning.Crypto;

/// <summary>
/// ChaCha20-Poly1305 (IETF) with a 32-zero-bit + 64-bit little-endian nonce: BOLT 8 <c>encryptWithAD</c>/<c>decryptWithAD</c>,
/// and with nonce 0 and no associated data the BOLT 4 <c>encrypted_recipient_data</c> of route blinding.
/// </summary>
internal static class ChaChaPoly
{
    public const int TagLength = 16;

    public static void Encrypt(ChaCha20Poly1305 aead, ulong nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        Span<byte> n = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(n[4..], nonce);
        aead.Encrypt(n, plaintext, output[..plaintext.Length], output.Slice(plaintext.Length, TagLength), ad);
    }

    /// <summary>Decrypts <paramref name="input"/> (ciphertext || tag) into <paramref name="plaintext"/>; false when the tag does not check.</summary>
    public static bool TryDecrypt(ChaCha20Poly1305 aead, ulong nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> input, Span<byte> plaintext)
    {
        Span<byte> n = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(n[4..], nonce);
        var cipherLength = input.Length - TagLength;
        try
        {
            aead.Decrypt(n, input[..cipherLength], input[cipherLength..], plaintext[..cipherLength], ad);
            return true;
        }
        catch (CryptographicException)
        {
            plaintext[..cipherLength].Clear();
            return false;
        }
    }

    public static byte[] Encrypt(ReadOnlySpan<byte> key, ulong nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext)
    {
        using var aead = new ChaCha20Poly1305(key);
        var output = new byte[plaintext.Length + TagLength];
        Encrypt(aead, nonce, ad, plaintext, output);
        return output;
    }

    public static bool TryDecrypt(ReadOnlySpan<byte> key, ulong nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> input, out byte[] plaintext)
    {
        using var aead = new ChaCha20Poly1305(key);
        plaintext = new byte[input.Length - TagLength];
        return TryDecrypt(aead, nonce, ad, input, plaintext);
    }
}
