using System.CommandLine;
using System.Globalization;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow channel policy &lt;channel-id&gt; --base-fee-msat N --fee-ppm N --cltv-delta N</c>: a channel's forwarding policy.</summary>
internal static class ChannelPolicyCommand
{
    public static Command Create()
    {
        var channel = new Argument<string>("channel-id") { Description = "The channel id (64 hex characters) or short channel id (BLOCKxTXxOUT)." };
        var baseFee = new Option<string>("--base-fee-msat") { Description = "The fixed fee per forwarded HTLC, in millisatoshis.", Required = true };
        var ppm = new Option<string>("--fee-ppm") { Description = "The proportional fee, in millionths of the forwarded amount.", Required = true };
        var delta = new Option<string>("--cltv-delta") { Description = "Blocks required between the incoming and the outgoing HTLC expiry.", Required = true };
        var min = new Option<string?>("--htlc-min-msat") { Description = "The smallest HTLC forwarded (default 1 msat)." };
        var max = new Option<string?>("--htlc-max-msat") { Description = "The largest HTLC forwarded (default: the channel capacity)." };
        var command = new Command("policy", "Set the forwarding policy (fees, CLTV delta, HTLC limits) of one channel.");
        command.Arguments.Add(channel);
        command.Options.Add(baseFee);
        command.Options.Add(ppm);
        command.Options.Add(delta);
        command.Options.Add(min);
        command.Options.Add(max);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var id = parse.GetValue(channel)!.Trim();
            if (id.Length == 0 || id.Contains('/', StringComparison.Ordinal) || id.Contains('?', StringComparison.Ordinal) || id.Contains('#', StringComparison.Ordinal))
            {
                throw new CliException($"'{id}' is not a channel id or short channel id");
            }
            var request = new SetChannelPolicyRequest(
                Number(parse.GetValue(baseFee)!, "--base-fee-msat", 0, uint.MaxValue),
                Number(parse.GetValue(ppm)!, "--fee-ppm", 0, 1_000_000),
                Number(parse.GetValue(delta)!, "--cltv-delta", 1, ushort.MaxValue),
                parse.GetValue(min) is { } m ? Number(m, "--htlc-min-msat", 1, NodeOutput.MaxMsat) : null,
                parse.GetValue(max) is { } x ? Number(x, "--htlc-max-msat", 1, NodeOutput.MaxMsat) : null);
            var result = await client.PostAsync<ChannelPolicyInfo>($"v1/channels/{Uri.EscapeDataString(id)}/policy", request, ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, p) =>
                output.WriteLine($"channel {p.ChannelId}: base fee {NodeOutput.Msat(p.BaseFee)}, {p.FeePpm.ToString(CultureInfo.InvariantCulture)} ppm, CLTV delta {p.CltvDelta.ToString(CultureInfo.InvariantCulture)}, HTLCs {NodeOutput.Msat(p.HtlcMinimum)} to {(p.HtlcMaximum is { } hm ? NodeOutput.Msat(hm) : "capacity")}"));
            return 0;
        });
        return command;
    }

    private static long Number(string text, string option, long min, long max) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new CliException($"{option} '{text}' must be a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
}
