using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Satflow.Webhooks;

/// <summary>Why <see cref="WebhookSignature.Verify(string, string?, ReadOnlySpan{byte}, TimeSpan, DateTimeOffset, out WebhookSignatureFailure)"/> rejected a request.</summary>
public enum WebhookSignatureFailure
{
    /// <summary>The signature is valid.</summary>
    None,

    /// <summary>No header, or it does not parse as <c>t=&lt;unix&gt;,v1=&lt;hex&gt;</c>.</summary>
    Malformed,

    /// <summary>The timestamp is further from now than the tolerance (a replay or a skewed clock).</summary>
    TimestampOutsideTolerance,

    /// <summary>No <c>v1</c> value matches the HMAC of the body.</summary>
    SignatureMismatch,
}

/// <summary>
/// The <c>Satflow-Signature</c> request header: <c>t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</c> where the hex is
/// lower-case HMAC-SHA256 keyed with the subscription secret (its UTF-8 bytes) over the ASCII bytes of
/// <c>"&lt;t&gt;."</c> followed by the raw request body. Receivers verify with <see cref="Verify(string, string?, ReadOnlySpan{byte}, TimeSpan, DateTimeOffset)"/>.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header name.</summary>
    public const string HeaderName = "Satflow-Signature";

    /// <summary>The tolerance receivers should use unless they have a reason not to.</summary>
    public static TimeSpan DefaultTolerance { get; } = TimeSpan.FromMinutes(5);

    /// <summary>The hex HMAC-SHA256 of <c>"&lt;t&gt;." + body</c>.</summary>
    public static string ComputeHex(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var prefix = Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    /// <summary>The header value for a request signed at <paramref name="timestamp"/>.</summary>
    public static string CreateHeader(string secret, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        var t = timestamp.ToUnixTimeSeconds();
        return string.Create(CultureInfo.InvariantCulture, $"t={t},v1={ComputeHex(secret, t, body)}");
    }

    /// <summary>True when <paramref name="header"/> carries a valid signature of <paramref name="body"/> made within
    /// <paramref name="tolerance"/> of <paramref name="now"/>.</summary>
    public static bool Verify(string secret, string? header, ReadOnlySpan<byte> body, TimeSpan tolerance, DateTimeOffset now) =>
        Verify(secret, header, body, tolerance, now, out _);

    /// <summary>
    /// Verifies a header: parses <c>t</c> and every <c>v1</c> (several are allowed, e.g. during secret rotation),
    /// checks the timestamp against <paramref name="now"/> ± <paramref name="tolerance"/>, then compares each
    /// <c>v1</c> with the expected HMAC in constant time. Never throws on malformed input.
    /// </summary>
    public static bool Verify(string secret, string? header, ReadOnlySpan<byte> body, TimeSpan tolerance, DateTimeOffset now, out WebhookSignatureFailure failure)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (!TryParse(header, out var timestamp, out var signatures))
        {
            failure = WebhookSignatureFailure.Malformed;
            return false;
        }

        var age = now.ToUnixTimeSeconds() - timestamp;
        if (tolerance < TimeSpan.Zero || Math.Abs((double)age) > tolerance.TotalSeconds)
        {
            failure = WebhookSignatureFailure.TimestampOutsideTolerance;
            return false;
        }

        var expected = Convert.FromHexString(ComputeHex(secret, timestamp, body));
        var matched = false;
        foreach (var candidate in signatures)
        {
            // Evaluate every candidate so timing does not depend on which one matches.
            matched |= CryptographicOperations.FixedTimeEquals(expected, candidate);
        }

        failure = matched ? WebhookSignatureFailure.None : WebhookSignatureFailure.SignatureMismatch;
        return matched;
    }

    private static bool TryParse(string? header, out long timestamp, out List<byte[]> signatures)
    {
        timestamp = 0;
        signatures = [];
        if (string.IsNullOrWhiteSpace(header) || header.Length > 4096)
        {
            return false;
        }

        var haveTimestamp = false;
        foreach (var part in header.Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return false;
            }

            var key = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            if (key == "t")
            {
                if (haveTimestamp || value.Length is 0 or > 12 || !value.All(char.IsAsciiDigit)
                    || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out timestamp))
                {
                    return false;
                }

                haveTimestamp = true;
            }
            else if (key == "v1")
            {
                if (value.Length != 64 || !value.All(char.IsAsciiHexDigit))
                {
                    return false;
                }

                signatures.Add(Convert.FromHexString(value));
            }

            // Unknown keys (future schemes) are ignored.
        }

        return haveTimestamp && signatures.Count > 0;
    }
}
