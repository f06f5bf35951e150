using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Satflow.Webhooks.Tests;

/// <summary>One scripted answer: a status, an optional delay before answering, and a body.</summary>
public sealed record ScriptedAnswer(int Status, TimeSpan Delay = default, string Body = "", string? RetryAfter = null);

/// <summary>A request the server received.</summary>
public sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset ReceivedAt);

/// <summary>An HttpListener on 127.0.0.1 that answers from a script (then 200) and records every request.</summary>
public sealed class ScriptedServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly ConcurrentQueue<ScriptedAnswer> _script = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ScriptedServer(params ScriptedAnswer[] script)
    {
        foreach (var a in script)
        {
            _script.Enqueue(a);
        }

        // A free port can be taken by someone else before we bind it: try a few.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            _listener = new HttpListener();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                _listener.Abort();
            }
        }

        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}/hook");

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    public void Enqueue(params ScriptedAnswer[] answers)
    {
        foreach (var a in answers)
        {
            _script.Enqueue(a);
        }
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            Requests.Enqueue(new ReceivedRequest(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, headers, body.ToArray(), DateTimeOffset.UtcNow));
            var answer = _script.TryDequeue(out var a) ? a : new ScriptedAnswer(200, default, "ok");
            if (answer.Delay > TimeSpan.Zero)
            {
                await Task.Delay(answer.Delay, _stop.Token);
            }

            context.Response.StatusCode = answer.Status;
            if (answer.RetryAfter is not null)
            {
                context.Response.AddHeader("Retry-After", answer.RetryAfter);
            }

            var bytes = Encoding.UTF8.GetBytes(answer.Body);
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (HttpListenerException)
        {
            // The client went away (e.g. after its timeout).
        }
        catch (ObjectDisposedException)
        {
            // The client went away.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            // Close stops the listener too; calling Stop first makes the managed listener re-bind the port on Close.
            _listener.Close();
        }
        catch (HttpListenerException)
        {
            // Teardown only: the port may already be reused elsewhere.
        }
        try
        {
            await _loop;
        }
        catch (ObjectDisposedException)
        {
            // Closed while accepting.
        }

        _stop.Dispose();
    }
}
