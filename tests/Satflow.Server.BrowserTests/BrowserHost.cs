using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Playwright;
using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Merchant.Accounts;
using Satflow.Webhooks;

namespace Satflow.Server.BrowserTests;

/// <summary>satflowd on Kestrel at 127.0.0.1 (a random port) with SQLite in a temporary directory, for a real browser.</summary>
public sealed class BrowserServer : WebApplicationFactory<Program>
{
    private readonly bool _sandbox;

    /// <summary>Starts the server: standalone (on-chain from a random watch-only descriptor, no node), or in sandbox mode (the node, the counterparty nodes and the sandbox wallet).</summary>
    public BrowserServer(bool sandbox = false)
    {
        _sandbox = sandbox;
        DataDirectory = Path.Combine(Path.GetTempPath(), "satflowd-browser-" + Guid.NewGuid().ToString("N")[..12]);
        var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
        Descriptor = account.Descriptor(KeyChain.Receive).ToString();
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        StartServer();
        BaseUrl = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
    }

    public string DataDirectory { get; }

    public string Descriptor { get; }

    /// <summary>E.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string BaseUrl { get; }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("datadir", DataDirectory);
        builder.UseSetting("mode", _sandbox ? "sandbox" : "standalone");
        if (!_sandbox)
        {
            builder.UseSetting("onchain-descriptor", Descriptor);
        }

        builder.UseSetting("rates", "BTC_USD = 50000");
        builder.UseSetting("tick-seconds", "0.2");
        builder.UseSetting("webhook-poll-seconds", "0.5");
        builder.ConfigureServices(s =>
        {
            s.RemoveAll<PasswordHasher>();
            s.AddSingleton(new PasswordHasher(PasswordHasher.MinimumIterations));
            s.RemoveAll<WebhookDeliveryOptions>();
            s.AddSingleton(new WebhookDeliveryOptions { BaseDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200), AttemptTimeout = TimeSpan.FromSeconds(5) });
        });
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}

/// <summary>Debian's chromium driven by Playwright (never <c>playwright install</c>): headless, no sandbox, no GPU.</summary>
public sealed class Chromium : IAsyncLifetime
{
    /// <summary>The browser binary (override with <c>SATFLOW_CHROMIUM</c>).</summary>
    public static string ExecutablePath => Environment.GetEnvironmentVariable("SATFLOW_CHROMIUM") is { Length: > 0 } p ? p : "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"Chromium is missing at {ExecutablePath}: the browser tests need it. Install it with `apt-get install -y chromium` (.ci/run does), or set SATFLOW_CHROMIUM.");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

/// <summary>A webhook endpoint on 127.0.0.1 that answers 200 and records the event types it received.</summary>
public sealed class WebhookListener : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public WebhookListener()
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }

        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<(string EventType, string Body)> Received { get; } = new();

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var type = ctx.Request.Headers[WebhookDeliveryEngine.EventHeader] ?? "";
            Received.Enqueue((type, body));
            ctx.Response.StatusCode = 200;
            ctx.Response.Close();
            _waiters.GetOrAdd(type, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    /// <summary>Waits until an event of this type arrived.</summary>
    public Task WaitForAsync(string eventType, TimeSpan timeout)
        => _waiters.GetOrAdd(eventType, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(timeout);

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ended with the listener.
        }
    }
}
