using System.Net;

namespace Satflow.Node.Api;

/// <summary>How to host the admin API.</summary>
public sealed class NodeApiServerOptions
{
    /// <summary>The loopback address and port to listen on (port 0 picks a free one). Non-loopback addresses are refused.</summary>
    public required IPEndPoint Bind { get; init; }

    /// <summary>
    /// The node's data directory: <c>api.json</c> (URL and admin key, mode 0600) is written there at start and removed
    /// at stop. Null writes no file (tests, embedding).
    /// </summary>
    public string? DataDirectory { get; init; }

    /// <summary>The admin key clients must present as <c>Authorization: Bearer KEY</c>; null generates 32 random bytes as hex.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The largest request body accepted, in bytes.</summary>
    public long MaxRequestBodySize { get; init; } = 64 * 1024;
}
