using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Satflow.Merchant.Accounts;

/// <summary>The outcome of checking a password against a stored hash.</summary>
public enum PasswordVerification
{
    /// <summary>The password does not match.</summary>
    Failed,
    /// <summary>The password matches and the hash uses the current parameters.</summary>
    Success,
    /// <summary>The password matches but the hash uses older parameters: store <see cref="PasswordHasher.Hash"/> of it again.</summary>
    SuccessRehashNeeded,
}

/// <summary>
/// PBKDF2-HMAC-SHA256 password hashing with a per-user random salt, in a self-describing, versioned text format:
/// <c>$pbkdf2-sha256$v=1$i=ITERATIONS$SALT_BASE64$HASH_BASE64</c>. Verification is constant-time in the hash bytes and
/// reports when the stored parameters are weaker than the current ones, so a login can rehash.
/// </summary>
public sealed class PasswordHasher
{
    /// <summary>The OWASP 2023 minimum for PBKDF2-HMAC-SHA256, enforced for new hashes.</summary>
    public const int MinimumIterations = 210_000;

    /// <summary>Upper bound accepted when parsing a stored hash, so a corrupted record cannot stall a login.</summary>
    public const int MaximumIterations = 50_000_000;

    /// <summary>The current hash format version.</summary>
    public const int FormatVersion = 1;

    private const string Prefix = "$pbkdf2-sha256$";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;
    private const int MaxPasswordLength = 4096;

    /// <summary>Creates a hasher.</summary>
    /// <param name="iterations">Iterations for new hashes; at least <see cref="MinimumIterations"/>.</param>
    public PasswordHasher(int iterations = 600_000)
    {
        if (iterations < MinimumIterations || iterations > MaximumIterations)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"PBKDF2 iterations must be between {MinimumIterations} and {MaximumIterations}.");
        }

        Iterations = iterations;
    }

    /// <summary>Iterations used for new hashes.</summary>
    public int Iterations { get; }

    /// <summary>Hashes a password with a fresh random salt.</summary>
    /// <param name="password">The password (1–4096 characters).</param>
    /// <returns>The encoded hash to store.</returns>
    public string Hash(string password)
    {
        ValidatePassword(password);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Derive(password, salt, Iterations, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}v={FormatVersion}$i={Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>Checks a password against a stored hash in constant time.</summary>
    /// <param name="encodedHash">The stored hash.</param>
    /// <param name="password">The password offered.</param>
    /// <returns>Whether it matches and whether it should be rehashed.</returns>
    /// <exception cref="MerchantException">The stored hash is malformed (<see cref="MerchantErrorReason.InvalidPasswordHash"/>).</exception>
    public PasswordVerification Verify(string encodedHash, string password)
    {
        var (version, iterations, salt, expected) = Parse(encodedHash);
        if (string.IsNullOrEmpty(password) || password.Length > MaxPasswordLength)
        {
            return PasswordVerification.Failed;
        }

        var actual = Derive(password, salt, iterations, expected.Length);
        if (!CryptographicOperations.FixedTimeEquals(actual, expected))
        {
            return PasswordVerification.Failed;
        }

        return version != FormatVersion || iterations < Iterations || salt.Length < SaltBytes || expected.Length != HashBytes
            ? PasswordVerification.SuccessRehashNeeded
            : PasswordVerification.Success;
    }

    private static byte[] Derive(string password, byte[] salt, int iterations, int length)
        => Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, length);

    private static void ValidatePassword(string password)
    {
        if (string.IsNullOrEmpty(password) || password.Length > MaxPasswordLength)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"A password must be 1 to {MaxPasswordLength} characters.");
        }
    }

    private static (int Version, int Iterations, byte[] Salt, byte[] Hash) Parse(string? encoded)
    {
        static MerchantException Bad(string why) => new(MerchantErrorReason.InvalidPasswordHash, "Malformed password hash: " + why);

        if (encoded is null || !encoded.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw Bad("unknown scheme.");
        }

        var parts = encoded[Prefix.Length..].Split('$');
        if (parts.Length != 4)
        {
            throw Bad("expected 4 fields.");
        }

        if (!parts[0].StartsWith("v=", StringComparison.Ordinal) || !int.TryParse(parts[0].AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version != 1)
        {
            throw Bad("unsupported version.");
        }

        if (!parts[1].StartsWith("i=", StringComparison.Ordinal) || !int.TryParse(parts[1].AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || iterations < 1 || iterations > MaximumIterations)
        {
            throw Bad("bad iteration count.");
        }

        byte[] salt, hash;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            hash = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            throw Bad("bad base64.");
        }

        if (salt.Length < 8 || hash.Length < 16 || hash.Length > 64)
        {
            throw Bad("salt or hash too short.");
        }

        return (version, iterations, salt, hash);
    }
}
