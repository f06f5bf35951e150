using System.Globalization;

namespace Satflow.Payouts.Lnurl;

/// <summary>
/// LUD-16 lightning address <c>user@domain</c>: the LNURL-pay service at
/// <c>https://domain/.well-known/lnurlp/user</c> (http for a .onion domain). The user part is limited to
/// <c>a-z 0-9 - _ .</c> (and <c>+</c> for tags); the domain is a DNS name with at least one dot, optionally with a
/// port. Loopback hosts (<c>127.0.0.1</c>, <c>localhost</c>) are only accepted, over http, when explicitly allowed (tests).
/// </summary>
public sealed record LightningAddress
{
    private LightningAddress(string user, string domain, bool insecure)
    {
        User = user;
        Domain = domain;
        _insecure = insecure;
    }

    private readonly bool _insecure;

    /// <summary>The user part (lower case).</summary>
    public string User { get; }

    /// <summary>The domain, with port if one was given (lower case).</summary>
    public string Domain { get; }

    /// <summary>Parses and validates an address (case-insensitive; stored lower case).</summary>
    /// <exception cref="LnurlException">With <see cref="LnurlError.InvalidLightningAddress"/>.</exception>
    public static LightningAddress Parse(string? text, bool allowInsecureLoopback = false)
    {
        var trimmed = text?.Trim().ToLowerInvariant() ?? "";
        if (trimmed.StartsWith("lightning:", StringComparison.Ordinal))
        {
            trimmed = trimmed["lightning:".Length..];
        }

        var at = trimmed.IndexOf('@', StringComparison.Ordinal);
        if (trimmed.Length > 320 || at <= 0 || at != trimmed.LastIndexOf('@') || at == trimmed.Length - 1)
        {
            throw Invalid("expected user@domain");
        }

        var user = trimmed[..at];
        var domain = trimmed[(at + 1)..];
        if (user.Length > 64 || !user.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.' or '+'))
        {
            throw Invalid("the user part may only use a-z, 0-9, '-', '_', '.' and '+'");
        }

        var (host, port) = SplitPort(domain);
        var loopback = host is "localhost" or "127.0.0.1" or "[::1]";
        if (loopback)
        {
            if (!allowInsecureLoopback)
            {
                throw Invalid("loopback hosts are only allowed in tests");
            }
        }
        else if (!IsDnsName(host))
        {
            throw Invalid($"'{host}' is not a domain name");
        }

        return new LightningAddress(user, port is null ? host : host + ":" + port, loopback);
    }

    /// <summary>Parses without throwing.</summary>
    public static bool TryParse(string? text, out LightningAddress? address, bool allowInsecureLoopback = false)
    {
        try
        {
            address = Parse(text, allowInsecureLoopback);
            return true;
        }
        catch (LnurlException)
        {
            address = null;
            return false;
        }
    }

    /// <summary>The LNURL-pay URL: https (or http for .onion and allowed loopback) <c>://domain/.well-known/lnurlp/user</c>.</summary>
    public Uri PayRequestUri
    {
        get
        {
            var scheme = _insecure || Domain.Split(':')[0].EndsWith(".onion", StringComparison.Ordinal) ? "http" : "https";
            return new Uri($"{scheme}://{Domain}/.well-known/lnurlp/{Uri.EscapeDataString(User)}");
        }
    }

    /// <inheritdoc />
    public override string ToString() => User + "@" + Domain;

    private static (string Host, string? Port) SplitPort(string domain)
    {
        var colon = domain.LastIndexOf(':');
        if (colon < 0 || (domain.StartsWith('[') && domain.EndsWith(']')))
        {
            return (domain, null);
        }

        var port = domain[(colon + 1)..];
        if (port.Length is 0 or > 5 || !port.All(char.IsAsciiDigit) || int.Parse(port, CultureInfo.InvariantCulture) is 0 or > 65535)
        {
            throw Invalid("invalid port");
        }

        return (domain[..colon], port);
    }

    private static bool IsDnsName(string host)
    {
        if (host.Length is 0 or > 253 || !host.Contains('.', StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var label in host.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            {
                return false;
            }
        }

        // The last label (TLD) must not be all digits (that would be an IP address).
        return !host.Split('.')[^1].All(char.IsAsciiDigit);
    }

    private static LnurlException Invalid(string detail) => new(LnurlError.InvalidLightningAddress, detail);
}
