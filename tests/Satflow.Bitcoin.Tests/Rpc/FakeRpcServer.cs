using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Satflow.Bitcoin.Tests.Rpc;

/// <summary>An HTTP request the fake server received.</summary>
internal sealed record FakeRequest(string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string RpcMethod => Json.GetProperty("method").GetString()!;

    public JsonElement Params => Json.GetProperty("params");

    public JsonElement Id => Json.GetProperty("id");

    public string? Authorization => Headers.TryGetValue("authorization", out var a) ? a : null;
}

/// <summary>What the fake server answers.</summary>
internal sealed record FakeResponse(int Status, byte[] Body, bool Raw = false, int? DeclaredLength = null)
{
    private static readonly Encoding Utf8 = new UTF8Encoding(false);

    /// <summary>A 200 answer with the given JSON text as result.</summary>
    public static FakeResponse Result(string resultJson) => new(200, Utf8.GetBytes($$"""{"result":{{resultJson}},"error":null,"id":1}"""));

    /// <summary>Core's error shape: HTTP 500 (or 404 for an unknown method) with a JSON-RPC error body.</summary>
    public static FakeResponse Error(int code, string message, int status = 500) =>
        new(status, Utf8.GetBytes($$"""{"result":null,"error":{"code":{{code}},"message":{{JsonSerializer.Serialize(message)}}},"id":1}"""));

    /// <summary>A status with no body (Core's 401).</summary>
    public static FakeResponse NoBody(int status) => new(status, []);

    /// <summary>A status with an arbitrary body.</summary>
    public static FakeResponse Text(int status, string body) => new(status, Utf8.GetBytes(body));

    /// <summary>Bytes written as the whole HTTP response, no status line added.</summary>
    public static FakeResponse RawBytes(byte[] bytes) => new(0, bytes, Raw: true);
}

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) answering every request with the handler's response and then
/// closing the connection. Enough to impersonate Bitcoin Core's RPC interface, including broken answers.
/// </summary>
internal sealed class FakeRpcServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<FakeRequest, FakeResponse> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeRpcServer(Func<FakeRequest, FakeResponse> handler)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = AcceptLoopAsync();
    }

    /// <summary>Serves canned answers by RPC method name; unknown methods get Core's 404 + -32601.</summary>
    public static FakeRpcServer ForMethods(IReadOnlyDictionary<string, Func<FakeRequest, FakeResponse>> methods) =>
        new(req => methods.TryGetValue(req.RpcMethod, out var f) ? f(req) : FakeResponse.Error(-32601, "Method not found", 404));

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    public Uri UrlWithCredentials(string user, string password) => new($"http://{user}:{password}@127.0.0.1:{Port}/");

    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var request = await ReadRequestAsync(stream);
                if (request is null)
                {
                    return;
                }

                Requests.Enqueue(request);
                FakeResponse response;
                try
                {
                    response = _handler(request);
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    response = FakeResponse.Text(400, "bad request");
                }

                if (response.Raw)
                {
                    await stream.WriteAsync(response.Body, _stop.Token);
                }
                else
                {
                    var length = response.DeclaredLength ?? response.Body.Length;
                    var head = $"HTTP/1.1 {response.Status} {Reason(response.Status)}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
                    await stream.WriteAsync(response.Body, _stop.Token);
                }

                await stream.FlushAsync(_stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away; nothing to do.
            }
        }
    }

    private static async Task<FakeRequest?> ReadRequestAsync(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (buffer.Count < 4 || buffer[^4] != '\r' || buffer[^3] != '\n' || buffer[^2] != '\r' || buffer[^1] != '\n')
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return null;
            }

            buffer.Add(one[0]);
        }

        var lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var path = lines[0].Split(' ')[1];
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var length = headers.TryGetValue("content-length", out var l) ? int.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : 0;
        var body = new byte[length];
        await stream.ReadExactlyAsync(body);
        return new FakeRequest(path, headers, Encoding.UTF8.GetString(body));
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
