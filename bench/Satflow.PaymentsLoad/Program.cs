using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.PaymentsLoad;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync("error: " + e.Message);
    await Console.Error.WriteLineAsync(LoadOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
var watch = Stopwatch.StartNew();
void Progress(string line) => Console.Error.WriteLine($"[{watch.Elapsed.TotalSeconds,7:0.0}s] {line}");

var amount = MilliSatoshi.FromSatoshis(options.AmountSat);
var needed = (ulong)(options.Warmup + options.Payments * options.Concurrency.Count) * options.AmountSat;
if (needed > options.CapacitySat * 9 / 10)
{
    await Console.Error.WriteLineAsync($"error: {needed} sat of payments do not fit a {options.CapacitySat} sat channel (keep them under 90% of it).");
    return 2;
}

Progress($"calibrating secp256k1 on one thread; load average {LoadAverage()}");
var calibration = Calibration.Measure();
Progress($"  sign {calibration.SignUs:0} µs, verify {calibration.VerifyUs:0} µs, ECDH {calibration.EcdhUs:0} µs, pubkey {calibration.PubKeyUs:0} µs");

// Warnings (peer closings with their reason, protocol errors) go to stderr with the progress lines.
using var loggers = LoggerFactory.Create(b => b
    .SetMinimumLevel(options.LogLevel)
    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    })
    .AddFilter("Microsoft", LogLevel.Warning));
var results = new List<LevelResult>();
bool ok;
await using (var network = await LoadNetwork.CreateAsync(options.Store, options.FlushMs == 0, loggers, Progress, cancel.Token))
{
    using var stopFlushing = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
    var flushing = options.FlushMs == 0 ? Task.CompletedTask : network.FlushLoopAsync(TimeSpan.FromMilliseconds(options.FlushMs), stopFlushing.Token);
    await network.OpenChannelAsync(Money.Satoshis((long)options.CapacitySat), Progress, cancel.Token);
    var runner = new LoadRunner(network, amount, TimeSpan.FromSeconds(options.StallSeconds), Progress);
    if (options.Warmup > 0)
    {
        var warm = await runner.RunAsync(Math.Min(10, options.Warmup), options.Warmup, cancel.Token);
        Progress($"warm-up: {warm.Succeeded}/{warm.Payments} payments in {warm.Seconds:0.00} s");
    }
    foreach (var concurrency in options.Concurrency)
    {
        Progress($"concurrency {concurrency}: {options.Payments} payments of {options.AmountSat} sat; load average {LoadAverage()}");
        var result = await runner.RunAsync(concurrency, options.Payments, cancel.Token);
        results.Add(result);
        Progress($"  {result.Succeeded} ok, {result.Failed} failed in {result.Seconds:0.00} s: {result.PaymentsPerSecond:0.0} payments/s, p50 {result.PayLatencyMs.P50:0.0} ms, p99 {result.PayLatencyMs.P99:0.0} ms, balances {(result.BalancesVerified ? "verified" : "WRONG")}");
        foreach (var error in result.FirstErrors)
        {
            Progress("  error: " + error);
        }
        if (result.Stall is not null)
        {
            // The nodes are wedged: report what was measured and leave without waiting for their shutdown.
            await Console.Error.WriteLineAsync(Report.Render(options, calibration, results, LoadAverage()));
            await Console.Error.WriteLineAsync("stalled: " + result.Stall);
            Environment.Exit(1);
        }
    }
    ok = results.All(r => r.Failed == 0 && r.BalancesVerified);
    await stopFlushing.CancelAsync();
    await flushing;
    Progress($"done; load average {LoadAverage()}");
}

var report = Report.Render(options, calibration, results, LoadAverage());
if (options.Json)
{
    await Console.Error.WriteLineAsync(report);
    var json = JsonSerializer.Serialize(
        new { options = options with { Help = false }, machine = new { Environment.ProcessorCount, loadAverage = LoadAverage(), runtime = Environment.Version.ToString() }, calibration, results },
        new JsonSerializerOptions { WriteIndented = true, Converters = { new JsonStringEnumConverter() }, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals });
    Console.WriteLine(json);
}
else
{
    Console.WriteLine(report);
}
return ok ? 0 : 1;

static string LoadAverage()
{
    try
    {
        return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
    }
    catch (IOException)
    {
        return "n/a";
    }
}

/// <summary>Command-line options.</summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        Satflow.PaymentsLoad: two Lightning nodes over loopback TCP, durable stores, payments/s and latency.

        usage: dotnet run -c Release --project bench/Satflow.PaymentsLoad -- [options]

          --payments N          payments per concurrency level (default 300)
          --concurrency LIST    comma-separated payments in flight per level (default 1,10,100)
          --store sqlite|memory SQLite in WAL mode with synchronous=FULL in a temp dir (default), or in memory
          --amount-sat N        amount of each payment in satoshis (default 1000)
          --capacity-sat N      channel capacity in satoshis (default 16000000, below 2^24)
          --warmup N            unmeasured payments before the first level (default 20)
          --flush-ms N          AutoFlush off and both nodes flush every N ms, so one commitment_signed covers the
                                updates in between (default 5); 0: the node signs after every update (AutoFlush)
          --stall-seconds N     abandon a level when no payment completes for N seconds (default 60)
          --log-level LEVEL     node and peer logs on the console: warning (default), information, debug, none
          --json                print the results as JSON on stdout (the table goes to stderr)
          -h, --help            this help

        Progress goes to stderr. The exit code is 1 when a payment failed or the balances did not move by exactly
        the paid amounts.
        """;

    public int Payments { get; init; } = 300;

    public IReadOnlyList<int> Concurrency { get; init; } = [1, 10, 100];

    public StoreKind Store { get; init; } = StoreKind.Sqlite;

    public ulong AmountSat { get; init; } = 1000;

    public ulong CapacitySat { get; init; } = 16_000_000;

    public int Warmup { get; init; } = 20;

    public int StallSeconds { get; init; } = 60;

    public int FlushMs { get; init; } = 5;

    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    public bool Json { get; init; }

    public bool Help { get; init; }

    public static LoadOptions Parse(string[] args)
    {
        var o = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "-h" or "--help":
                    o = o with { Help = true };
                    break;
                case "--payments":
                    o = o with { Payments = PositiveInt(Value(), "--payments") };
                    break;
                case "--concurrency":
                    o = o with { Concurrency = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => PositiveInt(v, "--concurrency"))] };
                    if (o.Concurrency.Count == 0 || o.Concurrency.Any(c => c > 400))
                    {
                        throw new ArgumentException("--concurrency needs 1..400 payments in flight per level (a channel takes at most 483 HTLCs).");
                    }
                    break;
                case "--store":
                    o = o with
                    {
                        Store = Value() switch
                        {
                            "sqlite" => StoreKind.Sqlite,
                            "memory" => StoreKind.Memory,
                            var other => throw new ArgumentException($"--store is sqlite or memory, not '{other}'."),
                        },
                    };
                    break;
                case "--amount-sat":
                    o = o with { AmountSat = (ulong)PositiveInt(Value(), "--amount-sat") };
                    break;
                case "--capacity-sat":
                    o = o with { CapacitySat = (ulong)PositiveInt(Value(), "--capacity-sat") };
                    if (o.CapacitySat is < 100_000 or > 16_777_215)
                    {
                        throw new ArgumentException("--capacity-sat must be 100000..16777215.");
                    }
                    break;
                case "--warmup":
                    var warmup = Value();
                    o = o with { Warmup = warmup == "0" ? 0 : PositiveInt(warmup, "--warmup") };
                    break;
                case "--flush-ms":
                    var flush = Value();
                    o = o with { FlushMs = flush == "0" ? 0 : PositiveInt(flush, "--flush-ms") };
                    break;
                case "--stall-seconds":
                    o = o with { StallSeconds = PositiveInt(Value(), "--stall-seconds") };
                    break;
                case "--log-level":
                    o = o with
                    {
                        LogLevel = Value() switch
                        {
                            "debug" => LogLevel.Debug,
                            "information" => LogLevel.Information,
                            "warning" => LogLevel.Warning,
                            "none" => LogLevel.None,
                            var other => throw new ArgumentException($"--log-level is debug, information, warning or none, not '{other}'."),
                        },
                    };
                    break;
                case "--json":
                    o = o with { Json = true };
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }
        return o;
    }

    private static int PositiveInt(string text, string option) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{option} needs a positive integer, not '{text}'.");
}
