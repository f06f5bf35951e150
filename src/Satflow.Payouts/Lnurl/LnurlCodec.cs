using System.Net;
using System.Text;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Wire;

namespace Satflow.Payouts.Lnurl;

/// <summary>
/// LUD-01: an LNURL is the bech32 encoding (human-readable part <c>lnurl</c>, no length limit) of the UTF-8 bytes of
/// an https URL (or an http URL of a .onion host). Wallets accept it with or without a <c>lightning:</c> prefix and in
/// either case (upper case makes smaller QR codes).
/// </summary>
public static class LnurlCodec
{
    /// <summary>The human-readable part.</summary>
    public const string HumanReadablePart = "lnurl";

    /// <summary>Encodes a service URL.</summary>
    /// <param name="url">The URL (validated as a service URL).</param>
    /// <param name="upperCase">Upper-case output (for QR codes).</param>
    /// <param name="allowInsecureLoopback">Allow http on a loopback host (tests and development only).</param>
    /// <exception cref="LnurlException">With <see cref="LnurlError.InvalidUrl"/>.</exception>
    public static string Encode(Uri url, bool upperCase = false, bool allowInsecureLoopback = false)
    {
        ValidateServiceUrl(url, allowInsecureLoopback);
        var text = Bech32.Encode(HumanReadablePart, Bech32.BytesToWords(Encoding.UTF8.GetBytes(url.OriginalString)));
        return upperCase ? text.ToUpperInvariant() : text;
    }

    /// <summary>Decodes an <c>lnurl1…</c> string (optionally <c>lightning:</c>-prefixed) to its service URL.</summary>
    /// <exception cref="LnurlException"><see cref="LnurlError.InvalidEncoding"/> or <see cref="LnurlError.InvalidUrl"/>.</exception>
    public static Uri Decode(string? text, bool allowInsecureLoopback = false)
    {
        var trimmed = text?.Trim() ?? "";
        if (trimmed.StartsWith("lightning:", StringComparison.OrdinalIgnoreCase))
        {
            trimmed = trimmed["lightning:".Length..];
        }

        if (trimmed.Length is 0 or > 8192)
        {
            throw new LnurlException(LnurlError.InvalidEncoding, "empty or oversized LNURL");
        }

        string hrp;
        byte[] bytes;
        try
        {
            (hrp, var words) = Bech32.Decode(trimmed, Bech32Variant.Bech32);
            bytes = Bech32.WordsToBytes(words, strictPadding: true);
        }
        catch (WireFormatException e)
        {
            throw new LnurlException(LnurlError.InvalidEncoding, e.Message, e);
        }

        if (hrp != HumanReadablePart)
        {
            throw new LnurlException(LnurlError.InvalidEncoding, $"human-readable part '{hrp}' is not '{HumanReadablePart}'");
        }

        string url;
        try
        {
            url = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new LnurlException(LnurlError.InvalidEncoding, "the encoded URL is not UTF-8", e);
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new LnurlException(LnurlError.InvalidUrl, "the encoded text is not an absolute URL");
        }

        ValidateServiceUrl(uri, allowInsecureLoopback);
        return uri;
    }

    /// <summary>
    /// Accepts an absolute https URL without credentials or fragment; http only for a .onion host, or a loopback host
    /// when <paramref name="allowInsecureLoopback"/> is set.
    /// </summary>
    /// <exception cref="LnurlException">With <see cref="LnurlError.InvalidUrl"/>.</exception>
    public static void ValidateServiceUrl(Uri? url, bool allowInsecureLoopback = false)
    {
        if (url is null || !url.IsAbsoluteUri || string.IsNullOrEmpty(url.Host))
        {
            throw new LnurlException(LnurlError.InvalidUrl, "an absolute URL with a host is required");
        }

        if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Fragment))
        {
            throw new LnurlException(LnurlError.InvalidUrl, "credentials and fragments are not allowed");
        }

        if (url.Scheme == Uri.UriSchemeHttps)
        {
            return;
        }

        if (url.Scheme == Uri.UriSchemeHttp
            && (url.Host.EndsWith(".onion", StringComparison.OrdinalIgnoreCase) || (allowInsecureLoopback && IsLoopback(url))))
        {
            return;
        }

        throw new LnurlException(LnurlError.InvalidUrl, $"'{url.Scheme}://{url.Host}' is not https (http only for .onion hosts)");
    }

    internal static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));

    /// <summary>Appends query parameters to a callback URL that may already have a query (LUD-06/03 callbacks do).</summary>
    internal static Uri AppendQuery(Uri callback, params (string Name, string Value)[] parameters)
    {
        var builder = new UriBuilder(callback);
        var query = builder.Query.TrimStart('?');
        var sb = new StringBuilder(query);
        foreach (var (name, value) in parameters)
        {
            if (sb.Length > 0)
            {
                sb.Append('&');
            }

            sb.Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }

        builder.Query = sb.ToString();
        return builder.Uri;
    }
}
