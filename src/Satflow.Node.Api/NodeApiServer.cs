using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Satflow.Node.Api;

/// <summary>One route of the admin API.</summary>
/// <param name="Method">GET, POST or DELETE.</param>
/// <param name="Pattern">The path pattern, e.g. <c>/v1/invoices/{payment_hash}</c>.</param>
/// <param name="Summary">What it does.</param>
public sealed record NodeApiRoute(string Method, string Pattern, string Summary);

/// <summary>
/// The node's admin REST API: ASP.NET Core minimal API on Kestrel, bound to loopback only, every route under
/// <c>/v1/</c> behind <c>Authorization: Bearer ADMIN_KEY</c>, JSON in snake_case (<see cref="NodeApiJson"/>), errors as
/// RFC 7807 <c>application/problem+json</c>. It only translates HTTP to <see cref="INodeOperations"/> calls.
/// </summary>
public sealed class NodeApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly NodeApiFile _file;
    private readonly string? _dataDirectory;
    private int _stopped;

    private NodeApiServer(WebApplication app, NodeApiFile file, string? dataDirectory)
    {
        _app = app;
        _file = file;
        _dataDirectory = dataDirectory;
    }

    /// <summary>Every route the server answers, for documentation and tests.</summary>
    public static IReadOnlyList<NodeApiRoute> Routes { get; } = NodeApiRoutes.Table.Select(r => r.Route).ToArray();

    /// <summary>The base URL, e.g. <c>http://127.0.0.1:9736/</c>.</summary>
    public Uri Url => _file.Url;

    /// <summary>The admin key clients must present.</summary>
    public string ApiKey => _file.ApiKey;

    /// <summary>Where the discovery file was written; null when no data directory was given.</summary>
    public string? ApiFilePath => _dataDirectory is null ? null : NodeApiFile.PathIn(_dataDirectory);

    /// <summary>Starts serving <paramref name="node"/> and writes the discovery file.</summary>
    /// <exception cref="ArgumentException">The bind address is not loopback, or the key is empty.</exception>
    public static async Task<NodeApiServer> StartAsync(INodeOperations node, NodeApiServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(options);
        if (!IPAddress.IsLoopback(options.Bind.Address))
        {
            throw new ArgumentException($"the admin API binds to loopback only (127.0.0.1 or [::1]); refusing {options.Bind}", nameof(options));
        }
        if (options.ApiKey is { Length: 0 })
        {
            throw new ArgumentException("the admin API key must not be empty", nameof(options));
        }
        var key = options.ApiKey ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxRequestBodySize;
            k.Listen(options.Bind);
        });
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            try
            {
                if (!Authorized(context.Request, expected))
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await NodeApiRoutes.WriteProblemAsync(context, StatusCodes.Status401Unauthorized, "unauthorized",
                        "missing or wrong admin key: send Authorization: Bearer KEY (the api_key in DATADIR/api.json)").ConfigureAwait(false);
                    return;
                }
                await next(context).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; nobody is left to answer.
            }
        });
        NodeApiRoutes.Map(app, node);
        app.MapFallback(context => NodeApiRoutes.WriteProblemAsync(context, StatusCodes.Status404NotFound, "not_found",
            $"no route {context.Request.Method} {context.Request.Path}"));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        var first = addresses?.Addresses.FirstOrDefault() ?? throw new InvalidOperationException("Kestrel reported no address.");
        var port = new Uri(first).Port;
        var host = options.Bind.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{options.Bind.Address}]" : options.Bind.Address.ToString();
        var file = new NodeApiFile(new Uri($"http://{host}:{port}/"), key);
        if (options.DataDirectory is { } dir)
        {
            try
            {
                file.WriteTo(dir);
            }
            catch
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        return new NodeApiServer(app, file, options.DataDirectory);
    }

    private static bool Authorized(HttpRequest request, byte[] expectedHash)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        // Hash first so the comparison is constant-time regardless of the presented key's length.
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(presented, expectedHash);
    }

    /// <summary>Stops serving (in-flight requests get the token's grace) and removes the discovery file.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        try
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            if (_dataDirectory is not null)
            {
                _file.DeleteFrom(_dataDirectory);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
