using System.CommandLine;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow pay BOLT11</c> and <c>satflow keysend NODEID AMOUNT_MSAT</c>: outgoing payments through the node's admin API.</summary>
internal static class PayCommands
{
    public static Command CreatePay()
    {
        var bolt11 = new Argument<string>("bolt11") { Description = "The BOLT 11 invoice to pay." };
        var amount = new Option<string?>("--amount-msat") { Description = "The amount in millisatoshis, for an invoice without one." };
        var command = new Command("pay", "Pay a BOLT 11 invoice through the network with the running node (retries, multi-part) and wait for the outcome.");
        command.Arguments.Add(bolt11);
        command.Options.Add(amount);
        var limits = PaymentLimitOptions.AddTo(command, "failed routes");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            long? msat = parse.GetValue(amount) is { } a ? NodeOutput.ParseAmount(a, "millisatoshis", NodeOutput.MaxMsat) : null;
            var (fee, seconds) = limits.Parse(parse);
            var request = new PayInvoiceRequest(parse.GetValue(bolt11)!.Trim(), msat) { MaxFeeMsat = fee, TimeoutSeconds = seconds };
            var result = await client.PostAsync<PaymentInfo>("v1/pay", request, ct).ConfigureAwait(false);
            return Report(parse, result);
        });
        return command;
    }

    public static Command CreateKeysend()
    {
        var nodeIdArgument = new Argument<string>("nodeid") { Description = "The recipient's node id." };
        var amount = new Argument<string>("amount_msat") { Description = "The amount in millisatoshis." };
        var command = new Command("keysend", "Send a spontaneous payment (no invoice) with the running node and wait for the outcome.");
        command.Arguments.Add(nodeIdArgument);
        command.Arguments.Add(amount);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var nodeId = NodeOutput.ParseNodeId(parse.GetValue(nodeIdArgument)!);
            var msat = NodeOutput.ParseAmount(parse.GetValue(amount)!, "millisatoshis", NodeOutput.MaxMsat);
            var result = await client.PostAsync<PaymentInfo>("v1/keysend", new KeysendRequest(nodeId.ToString(), msat), ct).ConfigureAwait(false);
            return Report(parse, result);
        });
        return command;
    }

    /// <summary>Prints the payment; a failed payment is also an error (exit code 1) after its record is printed.</summary>
    /// <param name="parse">The parsed command line (for <c>--json</c>).</param>
    /// <param name="result">The API's answer.</param>
    /// <param name="paidWhat">What the success line says was paid (default: "to DESTINATION").</param>
    internal static int Report(ParseResult parse, ApiResult<PaymentInfo> result, string? paidWhat = null)
    {
        var p = result.Value;
        NodeOutput.Write(parse, result, (output, _) =>
        {
            switch (p.State)
            {
                case PaymentState.Succeeded:
                    output.WriteLine($"paid {NodeOutput.Msat(p.Amount)} (fee {NodeOutput.Msat(p.Fee)}) {paidWhat ?? "to " + p.Destination}");
                    if (p.Parts is { } parts)
                    {
                        output.WriteLine($"  parts        {parts} ({p.Attempts ?? parts} HTLC attempt(s))");
                    }
                    output.WriteLine($"  payment hash {p.PaymentHash}");
                    output.WriteLine($"  preimage     {p.Preimage?.Value.ToHex()}");
                    break;
                case PaymentState.Pending:
                    output.WriteLine($"payment {p.PaymentHash} is still pending; check with `satflow payment lookup {p.PaymentHash}`");
                    break;
                default:
                    break;
            }
        });
        if (p.State == PaymentState.Failed)
        {
            throw new CliException($"payment {p.PaymentHash} failed: {p.FailureReason ?? "no reason given"}");
        }
        return 0;
    }
}
