using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Satflow.Devnet.Rpc;

/// <summary>Options of the devnet JSON-RPC server.</summary>
public sealed class DevnetRpcOptions
{
    /// <summary>Default RPC port, as bitcoind on regtest.</summary>
    public const int DefaultPort = 18443;

    /// <summary>Address to bind; loopback by default.</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Port to bind (0 picks a free port; see <see cref="DevnetRpcServer.Port"/>).</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>RPC user; with <see cref="Password"/>. When both are null a random cookie is used.</summary>
    public string? User { get; init; }

    /// <summary>RPC password.</summary>
    public string? Password { get; init; }

    /// <summary>Allows binding a non-loopback address (off by default: the devnet has no transport security).</summary>
    public bool AllowNonLoopbackBind { get; init; }
}

/// <summary>
/// A Bitcoin Core-compatible JSON-RPC server over a <see cref="DevnetChain"/> (Kestrel, HTTP basic auth, JSON-RPC 1.0
/// and 2.0 requests and batches). Without configured credentials it writes bitcoind's <c>.cookie</c> file
/// (<c>__cookie__:password</c>) into the chain's data directory and removes it on stop.
/// </summary>
public sealed class DevnetRpcServer : IAsyncDisposable
{
    private const string CookieUser = "__cookie__";
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly DevnetRpcOptions _options;
    private readonly RpcDispatcher _dispatcher;
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _expectedAuth;
    private readonly string? _cookiePath;
    private WebApplication? _app;

    private DevnetRpcServer(DevnetChain chain, DevnetRpcOptions options, string user, string password, string? cookiePath)
    {
        _options = options;
        _dispatcher = new RpcDispatcher(chain, () => _stopRequested.TrySetResult());
        _expectedAuth = Encoding.UTF8.GetBytes($"{user}:{password}");
        User = user;
        Password = password;
        _cookiePath = cookiePath;
    }

    /// <summary>The RPC user clients must present.</summary>
    public string User { get; }

    /// <summary>The RPC password clients must present.</summary>
    public string Password { get; }

    /// <summary>The bound port (after <see cref="StartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>The server's base address.</summary>
    public Uri Uri => new($"http://{(_options.BindAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{_options.BindAddress}]" : _options.BindAddress.ToString())}:{Port}/");

    /// <summary>Completes when a client calls the <c>stop</c> method.</summary>
    public Task StopRequested => _stopRequested.Task;

    /// <summary>Creates and starts a server.</summary>
    /// <exception cref="InvalidOperationException">A non-loopback bind without <see cref="DevnetRpcOptions.AllowNonLoopbackBind"/>, or only one of user/password.</exception>
    public static async Task<DevnetRpcServer> StartAsync(DevnetChain chain, DevnetRpcOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(options);
        if (!IPAddress.IsLoopback(options.BindAddress) && !options.AllowNonLoopbackBind)
        {
            throw new InvalidOperationException($"Refusing to bind RPC to non-loopback address {options.BindAddress}; allow it explicitly.");
        }

        if ((options.User is null) != (options.Password is null))
        {
            throw new InvalidOperationException("Give both an RPC user and an RPC password, or neither (cookie authentication).");
        }

        string user;
        string password;
        string? cookiePath = null;
        if (options.User is not null)
        {
            user = options.User;
            password = options.Password!;
        }
        else
        {
            user = CookieUser;
            password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            if (chain.Options.DataDirectory is { } dir)
            {
                cookiePath = Path.Combine(dir, ".cookie");
                Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(cookiePath, $"{user}:{password}", Utf8, cancellationToken).ConfigureAwait(false);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(cookiePath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }
        }

        var server = new DevnetRpcServer(chain, options, user, password, cookiePath);
        await server.StartCoreAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
            k.AddServerHeader = false;
            k.Listen(_options.BindAddress, _options.Port);
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        var first = addresses?.Addresses.FirstOrDefault() ?? throw new InvalidOperationException("Kestrel reported no address.");
        Port = new Uri(first.Replace("[::]", "localhost", StringComparison.Ordinal)).Port;
    }

    /// <summary>Stops the server and removes the cookie file.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }

        if (_cookiePath is not null && File.Exists(_cookiePath))
        {
            File.Delete(_cookiePath);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private bool Authorised(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(header[6..].Trim());
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(decoded, _expectedAuth);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (!Authorised(request))
        {
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.WWWAuthenticate = "Basic realm=\"jsonrpc\"";
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            await response.WriteAsync("JSONRPC server handles only POST requests", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        JsonNode? body;
        try
        {
            using var reader = new StreamReader(request.Body, Utf8);
            var text = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
            body = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (Exception ex) when (ex is JsonException or DecoderFallbackException or BadHttpRequestException or InvalidOperationException)
        {
            await WriteAsync(response, StatusCodes.Status500InternalServerError, ErrorReply(null, RpcErrorCodes.ParseError, "Parse error", legacy: true), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (body is JsonArray batch)
        {
            var replies = new JsonArray();
            foreach (var item in batch)
            {
                var (reply, _) = await ProcessAsync(item, context.RequestAborted).ConfigureAwait(false);
                if (reply is not null)
                {
                    replies.Add(reply);
                }
            }

            await WriteAsync(response, StatusCodes.Status200OK, replies, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var (single, status) = await ProcessAsync(body, context.RequestAborted).ConfigureAwait(false);
        if (single is null)
        {
            response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        await WriteAsync(response, status, single, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteAsync(HttpResponse response, int status, JsonNode reply, CancellationToken cancellationToken)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        await response.WriteAsync(reply.ToJsonString() + "\n", Utf8, cancellationToken).ConfigureAwait(false);
    }

    private static JsonObject ErrorReply(JsonNode? id, int code, string message, bool legacy)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message };
        return legacy
            ? new JsonObject { ["result"] = null, ["error"] = error, ["id"] = id?.DeepClone() }
            : new JsonObject { ["jsonrpc"] = "2.0", ["error"] = error, ["id"] = id?.DeepClone() };
    }

    private static int StatusFor(int code) => code switch
    {
        RpcErrorCodes.InvalidRequest => StatusCodes.Status400BadRequest,
        RpcErrorCodes.MethodNotFound => StatusCodes.Status404NotFound,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Runs one request; returns the reply (null for a JSON-RPC 2.0 notification) and the HTTP status for a single request.</summary>
    private async Task<(JsonNode? Reply, int Status)> ProcessAsync(JsonNode? request, CancellationToken cancellationToken)
    {
        if (request is not JsonObject obj)
        {
            return (ErrorReply(null, RpcErrorCodes.InvalidRequest, "Invalid Request object", legacy: true), StatusCodes.Status400BadRequest);
        }

        obj.TryGetPropertyValue("id", out var id);
        var hasId = obj.ContainsKey("id");
        var legacy = true;
        if (obj.TryGetPropertyValue("jsonrpc", out var version) && version is JsonValue v && v.TryGetValue<string>(out var versionText))
        {
            if (versionText == "2.0")
            {
                legacy = false;
            }
            else if (versionText != "1.0")
            {
                return (ErrorReply(id, RpcErrorCodes.InvalidRequest, "JSON-RPC version not supported", legacy: true), StatusCodes.Status400BadRequest);
            }
        }

        try
        {
            if (!obj.TryGetPropertyValue("method", out var methodNode) || methodNode is not JsonValue mv || !mv.TryGetValue<string>(out var method))
            {
                throw new RpcException(RpcErrorCodes.InvalidRequest, obj.ContainsKey("method") ? "Method must be a string" : "Missing method");
            }

            obj.TryGetPropertyValue("params", out var parameters);
            var result = await _dispatcher.ExecuteAsync(method, parameters, cancellationToken).ConfigureAwait(false);
            if (!legacy && !hasId)
            {
                return (null, StatusCodes.Status204NoContent);
            }

            JsonObject reply = legacy
                ? new JsonObject { ["result"] = result, ["error"] = null, ["id"] = id?.DeepClone() }
                : new JsonObject { ["jsonrpc"] = "2.0", ["result"] = result, ["id"] = id?.DeepClone() };
            return (reply, StatusCodes.Status200OK);
        }
        catch (RpcException ex)
        {
            if (!legacy && !hasId)
            {
                return (null, StatusCodes.Status204NoContent);
            }

            return (ErrorReply(id, ex.Code, ex.Message, legacy), legacy ? StatusFor(ex.Code) : StatusCodes.Status200OK);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Any unexpected failure is reported as a misc error; the server keeps serving.
            return (ErrorReply(id, RpcErrorCodes.MiscError, ex.Message, legacy), legacy ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK);
        }
    }
}
