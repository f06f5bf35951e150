using System.Globalization;
using NBitcoin;
using Satflow.Merchant;

namespace Satflow.Server.Hosting;

/// <summary>How console logs are written.</summary>
public enum LogFormat
{
    /// <summary>One human-readable line per entry.</summary>
    Simple,
    /// <summary>One JSON object per line (structured; for log shippers).</summary>
    Json,
}

/// <summary>How satflowd runs its Lightning node.</summary>
public enum ServerMode
{
    /// <summary>The default without <c>--bitcoind-rpc</c>: an embedded devnet, the merchant node, two counterparty nodes with funded channels, a demo store and the sandbox wallet page.</summary>
    Sandbox,
    /// <summary><c>--bitcoind-rpc URL</c>: the merchant node follows a real bitcoind and talks to real peers; refuses to start while sandbox keys exist.</summary>
    Production,
    /// <summary><c>--mode standalone</c>: no node in this process (watch-only <c>--onchain-descriptor</c> addresses, Lightning unavailable).</summary>
    Standalone,
}

/// <summary>
/// The satflowd settings, read from configuration (command line <c>--name value</c>, environment <c>SATFLOW_name</c>
/// with <c>-</c> as <c>_</c>... or appsettings). Secrets (the PostgreSQL password) never leave this object except to
/// open the connection.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>Data directory (SQLite databases, address index).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>PostgreSQL connection string; null means SQLite in the data directory.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>PostgreSQL schema for all tables.</summary>
    public string PostgresSchema { get; init; } = "satflow";

    /// <summary>Console log format.</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Simple;

    /// <summary>Bitcoin network for on-chain addresses.</summary>
    public Network Network { get; init; } = Network.RegTest;

    /// <summary>Watch-only account descriptor for on-chain invoice addresses (null: no on-chain method until the node wallet runs).</summary>
    public string? OnChainDescriptor { get; init; }

    /// <summary>Rate table (<c>BTC_USD = 65000; ...</c>) served by the built-in <c>table</c> rate source.</summary>
    public string RateTable { get; init; } = "";

    /// <summary>How often invoices are ticked (expiry, monitoring window).</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the webhook outbox is polled (publishing also wakes the runner at once).</summary>
    public TimeSpan WebhookPollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How the node runs: sandbox (default), production (<c>--bitcoind-rpc</c>) or standalone (no node).</summary>
    public ServerMode Mode { get; init; } = ServerMode.Standalone;

    /// <summary>The bitcoind JSON-RPC URL with credentials (production mode).</summary>
    public Uri? BitcoindRpc { get; init; }

    /// <summary>Where the merchant node accepts Lightning peers (<c>--lightning-listen</c>; sandbox: 127.0.0.1:0, production: 0.0.0.0:9735).</summary>
    public System.Net.IPEndPoint? LightningListen { get; init; }

    /// <summary>Sandbox: the embedded devnet mines a block every interval (<c>--sandbox-block-seconds</c>, default 5) so on-chain payments confirm.</summary>
    public TimeSpan SandboxBlockInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the payout processors run (<c>--payout-seconds</c>; default 60, 5 in the sandbox).</summary>
    public TimeSpan PayoutInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long approved on-chain payouts wait to be batched (<c>--payout-batch-seconds</c>; default 3600, 0 in the sandbox).</summary>
    public TimeSpan OnChainBatchDelay { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Where the merchant node keeps its seed, store and wallet: <c>DATADIR/node</c>.</summary>
    public string NodeDirectory => Path.Combine(DataDirectory, "node");

    /// <summary>Storage kind for logs and /health.</summary>
    public string StorageKind => PostgresConnectionString is null ? "sqlite" : "postgres";

    /// <summary>The default data directory: <c>$SATFLOW_HOME/server</c>, else <c>~/.satflow/server</c>.</summary>
    /// <returns>The path.</returns>
    public static string DefaultDataDirectory()
    {
        var home = Environment.GetEnvironmentVariable("SATFLOW_HOME");
        return string.IsNullOrWhiteSpace(home)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".satflow", "server")
            : Path.Combine(home, "server");
    }

    /// <summary>Reads the options from configuration.</summary>
    /// <param name="configuration">The configuration (command line keys: datadir, postgres, postgres-schema, log-format, network, onchain-descriptor, rates-file, tick-seconds, webhook-poll-seconds, mode, sandbox, bitcoind-rpc, lightning-listen, sandbox-block-seconds, payout-seconds, payout-batch-seconds).</param>
    /// <returns>The options.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.InvalidConfiguration"/> for a bad value.</exception>
    public static ServerOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var dataDir = configuration["datadir"];
        var logFormat = configuration["log-format"] ?? "simple";
        var network = configuration["network"] ?? "regtest";
        var ratesFile = configuration["rates-file"];
        var (mode, rpc) = ParseMode(configuration);
        return new ServerOptions
        {
            Mode = mode,
            BitcoindRpc = rpc,
            LightningListen = ParseListen(configuration["lightning-listen"], mode),
            SandboxBlockInterval = Seconds(configuration, "sandbox-block-seconds", 5),
            PayoutInterval = Seconds(configuration, "payout-seconds", mode == ServerMode.Sandbox ? 5 : 60),
            OnChainBatchDelay = configuration["payout-batch-seconds"] is "0" ? TimeSpan.Zero : Seconds(configuration, "payout-batch-seconds", mode == ServerMode.Sandbox ? 0.001 : 3600),
            DataDirectory = Path.GetFullPath(string.IsNullOrWhiteSpace(dataDir) ? DefaultDataDirectory() : dataDir),
            PostgresConnectionString = string.IsNullOrWhiteSpace(configuration["postgres"]) ? null : configuration["postgres"],
            PostgresSchema = configuration["postgres-schema"] ?? "satflow",
            LogFormat = logFormat.ToLowerInvariant() switch
            {
                "simple" => LogFormat.Simple,
                "json" => LogFormat.Json,
                _ => throw Invalid($"--log-format must be 'simple' or 'json', not '{logFormat}'."),
            },
            Network = network.ToLowerInvariant() switch
            {
                "mainnet" or "main" => Network.Main,
                "testnet" or "test" => Network.TestNet,
                "signet" => NBitcoin.Bitcoin.Instance.Signet,
                "regtest" => Network.RegTest,
                _ => throw Invalid($"--network must be mainnet, testnet, signet or regtest, not '{network}'."),
            },
            OnChainDescriptor = string.IsNullOrWhiteSpace(configuration["onchain-descriptor"]) ? null : configuration["onchain-descriptor"],
            RateTable = ratesFile is null ? configuration["rates"] ?? "" : ReadRatesFile(ratesFile),
            TickInterval = Seconds(configuration, "tick-seconds", 5),
            WebhookPollInterval = Seconds(configuration, "webhook-poll-seconds", 10),
        };
    }

    private static (ServerMode Mode, Uri? Rpc) ParseMode(IConfiguration configuration)
    {
        var rpcText = configuration["bitcoind-rpc"];
        Uri? rpc = null;
        if (!string.IsNullOrWhiteSpace(rpcText))
        {
            rpc = Uri.TryCreate(rpcText, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)
                ? u
                : throw Invalid("--bitcoind-rpc must be an http(s) URL such as http://user:password@127.0.0.1:8332/.");
        }

        var sandboxFlag = configuration["sandbox"] is { } f && !string.Equals(f, "false", StringComparison.OrdinalIgnoreCase);
        var modeText = configuration["mode"];
        ServerMode mode;
        if (modeText is null)
        {
            mode = rpc is null ? ServerMode.Sandbox : ServerMode.Production;
        }
        else
        {
            mode = modeText.ToLowerInvariant() switch
            {
                "sandbox" => ServerMode.Sandbox,
                "production" => ServerMode.Production,
                "standalone" => ServerMode.Standalone,
                _ => throw Invalid($"--mode must be sandbox, production or standalone, not '{modeText}'."),
            };
        }

        if (sandboxFlag && mode != ServerMode.Sandbox)
        {
            throw Invalid(rpc is null ? "--sandbox cannot be combined with --mode " + modeText + "." : "--sandbox cannot be combined with --bitcoind-rpc: the sandbox runs its own embedded devnet.");
        }

        if (mode == ServerMode.Sandbox && rpc is not null)
        {
            throw Invalid("--bitcoind-rpc cannot be used in sandbox mode: the sandbox runs its own embedded devnet.");
        }

        if (mode == ServerMode.Production && rpc is null)
        {
            throw Invalid("Production mode needs --bitcoind-rpc URL.");
        }

        return (mode, rpc);
    }

    private static System.Net.IPEndPoint? ParseListen(string? text, ServerMode mode)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return mode switch
            {
                ServerMode.Sandbox => new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
                ServerMode.Production => new System.Net.IPEndPoint(System.Net.IPAddress.Any, 9735),
                _ => null,
            };
        }

        return System.Net.IPEndPoint.TryParse(text, out var endPoint)
            ? endPoint
            : throw Invalid($"--lightning-listen must be HOST:PORT (an IP address), not '{text}'.");
    }

    private static string ReadRatesFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration, $"Cannot read --rates-file {path}: {e.Message}", e);
        }
    }

    private static TimeSpan Seconds(IConfiguration configuration, string key, double defaultValue)
    {
        var text = configuration[key];
        if (text is null)
        {
            return TimeSpan.FromSeconds(defaultValue);
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is > 0 and <= 86_400
            ? TimeSpan.FromSeconds(v)
            : throw Invalid($"--{key} must be a number of seconds in (0, 86400].");
    }

    private static MerchantException Invalid(string message) => new(MerchantErrorReason.InvalidConfiguration, message);
}
