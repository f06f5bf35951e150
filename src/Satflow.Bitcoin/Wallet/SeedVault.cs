using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Satflow.Bitcoin.Wallet;

/// <summary>The secret a wallet is rebuilt from: a BIP39 mnemonic and its optional BIP39 passphrase.</summary>
/// <param name="Mnemonic">The space-separated English words.</param>
/// <param name="Bip39Passphrase">The BIP39 passphrase ("25th word"), empty when none.</param>
public sealed record WalletSecret(string Mnemonic, string Bip39Passphrase)
{
    /// <inheritdoc />
    public override string ToString() => "WalletSecret(***)";
}

/// <summary>
/// Encrypts the wallet secret at rest: AES-256-GCM with a key from PBKDF2-HMAC-SHA512 over the user's passphrase.
/// Layout (version 1): <c>"SFSD"</c> magic, version byte (1), KDF id byte (1 = PBKDF2-HMAC-SHA512), iterations (uint32
/// big-endian), 16-byte salt, 12-byte nonce, 16-byte tag, then the ciphertext. Every header byte before the nonce is bound
/// as associated data, so changing the iteration count or salt fails authentication like a wrong passphrase does.
/// The plaintext is <c>len(mnemonic) u16 || mnemonic || len(bip39 passphrase) u16 || bip39 passphrase</c> in UTF-8.
/// </summary>
public static class SeedVault
{
    /// <summary>The default PBKDF2 iteration count (OWASP's 2023 figure for HMAC-SHA512 is 210,000; we use more).</summary>
    public const int DefaultIterations = 600_000;

    /// <summary>The format version written.</summary>
    public const byte FormatVersion = 1;

    private const byte KdfPbkdf2Sha512 = 1;
    private const int SaltSize = 16;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int HeaderSize = 4 + 1 + 1 + 4 + SaltSize;
    private static ReadOnlySpan<byte> Magic => "SFSD"u8;

    /// <summary>Encrypts <paramref name="secret"/> under <paramref name="passphrase"/>.</summary>
    /// <param name="secret">What to protect.</param>
    /// <param name="passphrase">The wallet passphrase (may be empty, which gives no real protection).</param>
    /// <param name="iterations">PBKDF2 iterations; tests may lower it, production keeps the default.</param>
    public static byte[] Encrypt(WalletSecret secret, string passphrase, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(passphrase);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);

        var plain = EncodePlain(secret);
        var blob = new byte[HeaderSize + NonceSize + TagSize + plain.Length];
        var span = blob.AsSpan();
        Magic.CopyTo(span);
        span[4] = FormatVersion;
        span[5] = KdfPbkdf2Sha512;
        BinaryPrimitives.WriteUInt32BigEndian(span[6..], (uint)iterations);
        RandomNumberGenerator.Fill(span.Slice(10, SaltSize));
        var nonce = span.Slice(HeaderSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        var key = DeriveKey(passphrase, span.Slice(10, SaltSize), iterations);
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            gcm.Encrypt(nonce, plain, span[(HeaderSize + NonceSize + TagSize)..], span.Slice(HeaderSize + NonceSize, TagSize), span[..HeaderSize]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(plain);
        }
        return blob;
    }

    /// <summary>Decrypts a blob made by <see cref="Encrypt"/>.</summary>
    /// <exception cref="WalletPassphraseException">The passphrase is wrong (or the blob was altered).</exception>
    /// <exception cref="WalletFormatException">The blob is not a seed blob of a known version.</exception>
    public static WalletSecret Decrypt(ReadOnlySpan<byte> blob, string passphrase)
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        if (blob.Length < HeaderSize + NonceSize + TagSize || !blob[..4].SequenceEqual(Magic))
        {
            throw new WalletFormatException("not an encrypted Satflow seed");
        }
        if (blob[4] != FormatVersion)
        {
            throw new WalletFormatException($"unsupported seed format version {blob[4]}");
        }
        if (blob[5] != KdfPbkdf2Sha512)
        {
            throw new WalletFormatException($"unsupported key derivation function {blob[5]}");
        }
        var iterations = BinaryPrimitives.ReadUInt32BigEndian(blob[6..]);
        if (iterations is 0 or > 100_000_000)
        {
            throw new WalletFormatException($"implausible iteration count {iterations}");
        }
        var key = DeriveKey(passphrase, blob.Slice(10, SaltSize), (int)iterations);
        var cipher = blob[(HeaderSize + NonceSize + TagSize)..];
        var plain = new byte[cipher.Length];
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            gcm.Decrypt(blob.Slice(HeaderSize, NonceSize), cipher, blob.Slice(HeaderSize + NonceSize, TagSize), plain, blob[..HeaderSize]);
            return DecodePlain(plain);
        }
        catch (AuthenticationTagMismatchException ex)
        {
            throw new WalletPassphraseException("wrong wallet passphrase (or the encrypted seed was modified)", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static byte[] DeriveKey(string passphrase, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), salt, iterations, HashAlgorithmName.SHA512, 32);

    private static byte[] EncodePlain(WalletSecret secret)
    {
        var m = Encoding.UTF8.GetBytes(secret.Mnemonic);
        var p = Encoding.UTF8.GetBytes(secret.Bip39Passphrase);
        if (m.Length > ushort.MaxValue || p.Length > ushort.MaxValue)
        {
            throw new WalletFormatException("mnemonic or BIP39 passphrase too long");
        }
        var plain = new byte[4 + m.Length + p.Length];
        BinaryPrimitives.WriteUInt16BigEndian(plain, (ushort)m.Length);
        m.CopyTo(plain, 2);
        BinaryPrimitives.WriteUInt16BigEndian(plain.AsSpan(2 + m.Length), (ushort)p.Length);
        p.CopyTo(plain, 4 + m.Length);
        CryptographicOperations.ZeroMemory(m);
        CryptographicOperations.ZeroMemory(p);
        return plain;
    }

    private static WalletSecret DecodePlain(ReadOnlySpan<byte> plain)
    {
        if (plain.Length < 4)
        {
            throw new WalletFormatException("seed plaintext too short");
        }
        int ml = BinaryPrimitives.ReadUInt16BigEndian(plain);
        if (plain.Length < 4 + ml)
        {
            throw new WalletFormatException("seed plaintext truncated");
        }
        int pl = BinaryPrimitives.ReadUInt16BigEndian(plain[(2 + ml)..]);
        if (plain.Length != 4 + ml + pl)
        {
            throw new WalletFormatException("seed plaintext has the wrong length");
        }
        return new WalletSecret(Encoding.UTF8.GetString(plain.Slice(2, ml)), Encoding.UTF8.GetString(plain.Slice(4 + ml, pl)));
    }
}
