using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NBitcoin;
using Npgsql;
using Satflow.Bitcoin.Wallet;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Webhooks;

namespace Satflow.Server.Tests;

/// <summary>Captures every log entry (message, exception text, scopes' state) so tests can check secrets never appear.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            owner.Entries.Enqueue(category + " scope " + state);
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Entries.Enqueue($"{logLevel} {category} {formatter(state, exception)} {state} {exception}");
    }
}

/// <summary>A satflowd instance in memory (TestServer) on SQLite in a temporary data directory, or on a PostgreSQL schema.</summary>
public sealed class ServerFactory : WebApplicationFactory<Program>
{
    public const string Rates = "BTC_USD = 50000; BTC_EUR = 45000/46000";

    private readonly string? _postgres;

    public ServerFactory(string? postgresConnectionString = null)
    {
        _postgres = postgresConnectionString;
        DataDirectory = Path.Combine(Path.GetTempPath(), "satflowd-test-" + Guid.NewGuid().ToString("N")[..12]);
        var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
        Descriptor = account.Descriptor(KeyChain.Receive).ToString();
    }

    public string DataDirectory { get; }

    public string Descriptor { get; }

    public CapturingLoggerProvider Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("datadir", DataDirectory);
        builder.UseSetting("onchain-descriptor", Descriptor);
        builder.UseSetting("rates", Rates);
        builder.UseSetting("tick-seconds", "0.2");
        if (_postgres is not null)
        {
            builder.UseSetting("postgres", _postgres);
            builder.UseSetting("postgres-schema", "srv_" + Guid.NewGuid().ToString("N")[..12]);
        }

        builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
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

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>A user with a store and an API key holding every scope; the password is returned for the secrets check.</summary>
    public async Task<Tenant> CreateTenantAsync(string? redirect = null)
    {
        var merchant = Get<MerchantService>();
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var user = await merchant.RegisterUserAsync($"u{Guid.NewGuid():N}@example.com", password);
        var store = await merchant.CreateStoreAsync(user.Id, "Test shop", "BTC");
        var key = await merchant.CreateApiKeyAsync(new Satflow.Merchant.ApiKeys.MerchantPrincipal(user.Id, null), "all", Permissions.All.ToArray(), null);
        return new Tenant(this, user.Id, store.Id, key.Token, password);
    }
}

public sealed record Tenant(ServerFactory Factory, UserId UserId, StoreId StoreId, string Token, string Password)
{
    public string Store => StoreId.Value;

    public HttpClient Client(string? token = null)
    {
        var c = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("token", token ?? Token);
        return c;
    }

    public async Task<string> KeyWithScopesAsync(params Permission[] scopes)
    {
        var created = await Factory.Get<MerchantService>().CreateApiKeyAsync(new Satflow.Merchant.ApiKeys.MerchantPrincipal(UserId, null), "limited", scopes, null);
        return created.Token;
    }
}

public static class Http
{
    public static HttpRequestMessage Post(string url, object? body, string? idempotencyKey = null)
    {
        var m = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(body is string s ? s : JsonSerializer.Serialize(body ?? new { }), Encoding.UTF8, "application/json"),
        };
        m.Headers.Add("Idempotency-Key", idempotencyKey ?? Guid.NewGuid().ToString("N"));
        return m;
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage r, HttpStatusCode expected)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"expected {expected}, got {(int)r.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

/// <summary>
/// PostgreSQL for the server tests: <c>SATFLOW_TEST_POSTGRES</c>, else a throwaway server from the local PostgreSQL 15
/// binaries on 127.0.0.1. Without either the PostgreSQL tests fail (never skip).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private string? _dir;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var env = Environment.GetEnvironmentVariable("SATFLOW_TEST_POSTGRES");
        if (!string.IsNullOrWhiteSpace(env))
        {
            ConnectionString = env;
        }
        else if (File.Exists(Path.Combine(Bin, "initdb")))
        {
            ConnectionString = StartServer();
        }
        else
        {
            throw new InvalidOperationException($"Set SATFLOW_TEST_POSTGRES or install PostgreSQL 15 ({Bin}) to run the PostgreSQL server tests.");
        }

        await using var ds = NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT 1");
        await cmd.ExecuteScalarAsync();
    }

    public Task DisposeAsync()
    {
        if (_dir is not null)
        {
            Run("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");
            Directory.Delete(_dir, recursive: true);
        }

        return Task.CompletedTask;
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static void Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo { FileName = IsRoot ? "runuser" : Path.Combine(Bin, tool), RedirectStandardOutput = true, RedirectStandardError = true };
        if (IsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", Path.Combine(Bin, tool) })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed: {err.Result}");
        }
    }

    private string StartServer()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Set SATFLOW_TEST_POSTGRES on Windows.");
        }

        _dir = Path.Combine(Path.GetTempPath(), "satflowd-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(_dir, "data");
        var sock = Path.Combine(_dir, "sock");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(sock);
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(data, (UnixFileMode)0b111_000_000);
        if (IsRoot)
        {
            using var chown = Process.Start("chown", ["postgres:postgres", data, sock])!;
            chown.WaitForExit();
        }

        Run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8");
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }

        Run("pg_ctl", "-D", data, "-l", Path.Combine(data, "log"), "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off", "-w", "-t", "30", "start");
        return $"Host=127.0.0.1;Port={port};Username=postgres;Password=pg-secret-never-logged;Database=postgres";
    }
}
