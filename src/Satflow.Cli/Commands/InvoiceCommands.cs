using System.CommandLine;
using System.Globalization;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow invoice create|list|lookup</c>: invoices the running node issues, through its admin API.</summary>
internal static class InvoiceCommands
{
    public static Command Create()
    {
        var command = new Command("invoice", "Invoices issued by the running node (needs `satflow node start`).");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateLookup());
        return command;
    }

    private static Command CreateCreate()
    {
        var amount = new Argument<string>("amount_msat") { Description = "The amount in millisatoshis." };
        var description = new Option<string?>("--description") { Description = "What the payment is for (at most 639 bytes)." };
        var expiry = new Option<string?>("--expiry") { Description = "Seconds until the invoice expires (default 3600)." };
        var command = new Command("create", "Create a BOLT 11 invoice; prints it (or the full record with --json).");
        command.Arguments.Add(amount);
        command.Options.Add(description);
        command.Options.Add(expiry);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var msat = NodeOutput.ParseAmount(parse.GetValue(amount)!, "millisatoshis", NodeOutput.MaxMsat);
            long? seconds = parse.GetValue(expiry) is { } e
                ? long.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : throw new CliException($"--expiry '{e}' is not a number of seconds")
                : null;
            var result = await client.PostAsync<InvoiceInfo>("v1/invoices", new CreateInvoiceRequest(msat, parse.GetValue(description), seconds), ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, i) => output.WriteLine(i.Bolt11));
            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List issued invoices, newest first.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<List<InvoiceInfo>>("v1/invoices", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, invoices) => CliTable.Rows(output,
                ["payment hash", "amount", "state", "description", "expires"],
                invoices.Select(i => (IReadOnlyList<string>)
                    [i.PaymentHash.ToString(), NodeOutput.Msat(i.Amount), NodeOutput.State(i.State), i.Description ?? "", NodeOutput.Time(i.ExpiresAt)])));
            return 0;
        });
        return command;
    }

    private static Command CreateLookup()
    {
        var hash = new Argument<string>("payment_hash") { Description = "The invoice's payment hash (64 hex characters)." };
        var command = new Command("lookup", "Show one invoice and whether it was paid.");
        command.Arguments.Add(hash);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<InvoiceInfo>("v1/invoices/" + NodeOutput.ParseHash(parse.GetValue(hash)!), ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, NodeOutput.Invoice);
            return 0;
        });
        return command;
    }
}
