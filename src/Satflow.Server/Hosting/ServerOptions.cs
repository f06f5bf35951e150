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
    /// <param name="configuration">The configuration (command line keys: datadir, postgres, postgres-schema, log-format, network, onchain-descriptor, rates-file, tick-seconds, webhook-poll-seconds).</param>
    /// <returns>The options.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.InvalidConfiguration"/> for a bad value.</exception>
    public static ServerOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var dataDir = configuration["datadir"];
        var logFormat = configuration["log-format"] ?? "simple";
        var network = configuration["network"] ?? "regtest";
        var ratesFile = configuration["rates-file"];
        return new ServerOptions
        {
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
