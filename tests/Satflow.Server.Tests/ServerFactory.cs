using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
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
using Satflow.TestSupport;
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

    /// <summary>Extra host configuration a test class adds (settings, fake services).</summary>
    public Action<IWebHostBuilder>? Extra { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("datadir", DataDirectory);
        builder.UseSetting("mode", "standalone");
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
        Extra?.Invoke(builder);
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
/// PostgreSQL for the server tests over the shared <see cref="PostgresTestServer"/> (<c>SATFLOW_TEST_POSTGRES</c>, else
/// a throwaway server on 127.0.0.1; without either the PostgreSQL tests fail, never skip). The connection string
/// carries a marker password (trust authentication ignores it) so the log tests can prove it is never logged.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string MarkerPassword = "pg-secret-never-logged";

    private PostgresTestServer? _server;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _server = await PostgresTestServer.StartAsync("PostgreSQL server tests");
        ConnectionString = new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Password = MarkerPassword }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
