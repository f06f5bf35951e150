using System.CommandLine;

namespace Satflow.Cli.Commands;

/// <summary>The <c>--max-fee-msat</c> and <c>--timeout</c> options shared by <c>pay</c> and <c>pay-offer</c>.</summary>
/// <param name="MaxFee">The fee limit option.</param>
/// <param name="Timeout">The retry deadline option.</param>
internal sealed record PaymentLimitOptions(Option<string?> MaxFee, Option<string?> Timeout)
{
    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    /// <param name="command">The payment command.</param>
    /// <param name="retries">What the command retries, for the help text.</param>
    /// <returns>The options, to parse them.</returns>
    public static PaymentLimitOptions AddTo(Command command, string retries)
    {
        var limits = new PaymentLimitOptions(
            new Option<string?>("--max-fee-msat") { Description = "The largest total routing fee in millisatoshis (default: 1 % + 5 sat)." },
            new Option<string?>("--timeout") { Description = $"How long to keep retrying {retries}, in seconds (default: 60)." });
        command.Options.Add(limits.MaxFee);
        command.Options.Add(limits.Timeout);
        return limits;
    }

    /// <summary>The fee limit (msat) and the timeout (seconds) given, null where not given.</summary>
    /// <param name="parse">The parse result.</param>
    /// <returns>The limits.</returns>
    public (long? MaxFeeMsat, long? TimeoutSeconds) Parse(ParseResult parse) => (
        parse.GetValue(MaxFee) is { } f ? NodeOutput.ParseAmount(f, "millisatoshis", NodeOutput.MaxMsat) : null,
        parse.GetValue(Timeout) is { } t ? NodeOutput.ParseAmount(t, "seconds", 86_400) : null);
}
