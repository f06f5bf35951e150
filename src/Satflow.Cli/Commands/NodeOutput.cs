using System.CommandLine;
using System.Globalization;
using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary>Shared plumbing of the node commands: connecting to the API, <c>--json</c> vs. human output, argument parsing.</summary>
internal static class NodeOutput
{
    /// <summary>Adds the API options to <paramref name="command"/> and runs <paramref name="action"/> with a connected client.</summary>
    public static void SetApiAction(Command command, NodeApiOptions api, Func<ParseResult, NodeApiClient, CancellationToken, Task<int>> action)
    {
        api.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            using var client = api.CreateClient(parse);
            return await action(parse, client, ct).ConfigureAwait(false);
        });
    }

    public static bool Json(ParseResult parse) => parse.GetValue(SatflowCli.JsonOption);

    /// <summary>Prints the API's JSON with <c>--json</c>, otherwise the human rendering.</summary>
    public static void Write<T>(ParseResult parse, ApiResult<T> result, Action<TextWriter, T> human)
    {
        var output = parse.InvocationConfiguration.Output;
        if (Json(parse))
        {
            output.WriteLine(result.Json);
        }
        else
        {
            human(output, result.Value);
        }
    }

    public static string Msat(MilliSatoshi amount) => amount.Value.ToString("N0", CultureInfo.InvariantCulture) + " msat";

    public static string Msat(MilliSatoshi? amount) => amount is { } a ? Msat(a) : "any";

    public static string Sat(NBitcoin.Money amount) => amount.Satoshi.ToString("N0", CultureInfo.InvariantCulture) + " sat";

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset? time) => time is { } t ? Time(t) : "-";

    public static string State<TEnum>(TEnum state) where TEnum : struct, Enum =>
        System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(state.ToString());

    public static NodeId ParseNodeId(string text) =>
        NodeId.TryParse(text, out var id) ? id : throw new CliException($"'{text}' is not a node id (66 hex characters of a compressed public key)");

    public static long ParseAmount(string text, string unit, long max)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1 || value > max)
        {
            throw new CliException($"'{text}' is not an amount in {unit} (a whole number from 1 to {max.ToString(CultureInfo.InvariantCulture)})");
        }
        return value;
    }

    public const long MaxSat = 21_000_000L * 100_000_000L;

    public const long MaxMsat = MaxSat * 1000;

    public static string ParseHash(string text) =>
        text.Length == 64 && Bytes32.TryParse(text, out _) ? text.ToLowerInvariant() : throw new CliException($"'{text}' is not a payment hash (64 hex characters)");

    public static void Payment(TextWriter output, PaymentInfo p)
    {
        CliTable.KeyValues(output,
        [
            ("payment hash", p.PaymentHash.ToString()),
            ("state", State(p.State)),
            ("destination", p.Destination.ToString()),
            ("amount", Msat(p.Amount)),
            ("fee", Msat(p.Fee)),
            ("preimage", p.Preimage?.Value.ToHex()),
            ("failure", p.FailureReason),
            ("created", Time(p.CreatedAt)),
            ("completed", Time(p.CompletedAt)),
        ]);
    }

    public static void Invoice(TextWriter output, InvoiceInfo i)
    {
        CliTable.KeyValues(output,
        [
            ("payment hash", i.PaymentHash.ToString()),
            ("state", State(i.State)),
            ("amount", Msat(i.Amount)),
            ("description", i.Description),
            ("created", Time(i.CreatedAt)),
            ("expires", Time(i.ExpiresAt)),
            ("received", i.AmountReceived is { } r ? Msat(r) : null),
            ("settled", Time(i.SettledAt)),
            ("bolt11", i.Bolt11),
        ]);
    }
}
