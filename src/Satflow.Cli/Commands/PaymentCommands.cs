using System.CommandLine;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow payment list|lookup</c>: the node's outgoing payments, through its admin API.</summary>
internal static class PaymentCommands
{
    public static Command Create()
    {
        var command = new Command("payment", "Outgoing payments of the running node (needs `satflow node start`).");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateLookup());
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List outgoing payments, newest first.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<List<PaymentInfo>>("v1/payments", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, payments) => CliTable.Rows(output,
                ["payment hash", "destination", "amount", "fee", "state"],
                payments.Select(p => (IReadOnlyList<string>)
                    [p.PaymentHash.ToString(), p.Destination.ToString(), NodeOutput.Msat(p.Amount), NodeOutput.Msat(p.Fee), NodeOutput.State(p.State)])));
            return 0;
        });
        return command;
    }

    private static Command CreateLookup()
    {
        var hash = new Argument<string>("payment_hash") { Description = "The payment hash (64 hex characters)." };
        var command = new Command("lookup", "Show one outgoing payment.");
        command.Arguments.Add(hash);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<PaymentInfo>("v1/payments/" + NodeOutput.ParseHash(parse.GetValue(hash)!), ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, NodeOutput.Payment);
            return 0;
        });
        return command;
    }
}
