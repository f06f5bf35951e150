using System.Net;
using System.Net.Sockets;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;

namespace Satflow.Lightning.Net;

/// <summary>Builds our <c>init</c> and judges the peer's (pure; no I/O).</summary>
internal static class InitPolicy
{
    /// <summary>Bits copied into the legacy <c>globalfeatures</c> field (BOLT 9: only bits below 14 ever lived there).</summary>
    private const int GlobalFeatureLimit = 14;

    /// <summary>
    /// Our <c>init</c>. BOLT 1: <c>remote_addr</c> is set only when we are the receiver of the connection, and never to
    /// a private address.
    /// </summary>
    public static Init BuildInit(PeerManagerOptions options, EndPoint? remote, PeerDirection direction)
    {
        var global = FeatureBits.Of(options.LocalFeatures.Where(b => b < GlobalFeatureLimit));
        return new Init(global, options.LocalFeatures)
        {
            Networks = [options.Chain],
            RemoteAddress = direction == PeerDirection.Inbound ? ToPublicNetworkAddress(remote) : null,
        };
    }

    /// <summary>The address descriptor of a public IP endpoint, or null for anything private, local or not IP.</summary>
    public static NetworkAddress? ToPublicNetworkAddress(EndPoint? endPoint)
    {
        if (endPoint is not IPEndPoint ip)
        {
            return null;
        }
        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        if (!IsPublic(address))
        {
            return null;
        }
        var port = (ushort)ip.Port;
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => new IPv4NetworkAddress(address, port),
            AddressFamily.InterNetworkV6 => new IPv6NetworkAddress(address, port),
            _ => null,
        };
    }

    /// <summary>False for loopback, private (RFC 1918, shared 100.64/10), link-local, unique-local, multicast and unspecified addresses.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.None))
        {
            return false;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] >= 224
                || (b[0] == 100 && b[1] >= 64 && b[1] < 128)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] < 32)
                || (b[0] == 192 && b[1] == 168));
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var first = address.GetAddressBytes()[0];
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (first & 0xfe) == 0xfc);
        }
        return false;
    }

    /// <summary>Null when the peer's <c>init</c> is acceptable, else why and a text for the <c>warning</c> we send.</summary>
    public static (DisconnectReason Reason, string Detail)? Check(PeerManagerOptions options, Init remote)
    {
        if (remote.Networks is { } networks && !networks.Contains(options.Chain))
        {
            return (DisconnectReason.IncompatibleChain, $"no common chain: we are on {options.Chain}");
        }
        var remoteFeatures = remote.CombinedFeatures;
        var negotiation = FeatureRegistry.Negotiate(options.LocalFeatures, remoteFeatures);
        if (!negotiation.IsSuccess)
        {
            return (DisconnectReason.IncompatibleFeatures, string.Join("; ", negotiation.Errors.Select(e => e.Message)));
        }
        // We require these; ASSUMED features may be left unset by peers (BOLT 9), the others must be offered.
        var missing = FeatureRegistry.All
            .Where(f => f.IsCompulsoryIn(options.LocalFeatures) && !f.IsAssumed && !f.IsSetIn(remoteFeatures))
            .Select(f => f.Name)
            .ToList();
        if (missing.Count > 0)
        {
            return (DisconnectReason.IncompatibleFeatures, "peer lacks required features: " + string.Join(", ", missing));
        }
        return null;
    }
}

/// <summary>Exponential reconnection backoff with jitter, capped.</summary>
internal static class ReconnectBackoff
{
    /// <summary>
    /// The delay before attempt <paramref name="attempt"/> (0-based): <c>initial * 2^attempt</c>, capped at
    /// <paramref name="max"/>, then scaled by a jitter factor in [0.5, 1] taken from <paramref name="random01"/> in [0, 1).
    /// </summary>
    public static TimeSpan Delay(int attempt, TimeSpan initial, TimeSpan max, double random01)
    {
        var exponent = Math.Clamp(attempt, 0, 30);
        var ticks = Math.Min((double)initial.Ticks * Math.Pow(2, exponent), max.Ticks);
        var jitter = 0.5 + (Math.Clamp(random01, 0, 1) * 0.5);
        return TimeSpan.FromTicks((long)(ticks * jitter));
    }
}
