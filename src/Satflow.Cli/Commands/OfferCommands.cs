using System.CommandLine;
using System.Globalization;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary>
/// <c>satflow offer create|list</c> and <c>satflow pay-offer LNO</c>: BOLT 12 offers of the running node and paying
/// other nodes' offers, through its admin API.
/// </summary>
internal static class OfferCommands
{
    public static Command Create()
    {
        var command = new Command("offer", "BOLT 12 offers of the running node (needs `satflow node start`).");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateList());
        return command;
    }

    private static Command CreateCreate()
    {
        var amount = new Option<string?>("--amount-msat") { Description = "The price in millisatoshis (omit to let the payer choose)." };
        var description = new Option<string>("--description") { Description = "What the offer is for.", Required = true };
        var expiry = new Option<string?>("--expiry") { Description = "Seconds until the offer expires (default: never)." };
        var issuer = new Option<string?>("--issuer") { Description = "A human-readable issuer name shown to payers." };
        var plain = new Option<bool>("--no-blinding") { Description = "Name the node id in the offer instead of a blinded path through a peer." };
        var command = new Command("create", "Create a BOLT 12 offer; prints the lno1... string (or the full record with --json).");
        command.Options.Add(amount);
        command.Options.Add(description);
        command.Options.Add(expiry);
        command.Options.Add(issuer);
        command.Options.Add(plain);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            long? msat = parse.GetValue(amount) is { } a ? NodeOutput.ParseAmount(a, "millisatoshis", NodeOutput.MaxMsat) : null;
            long? seconds = parse.GetValue(expiry) is { } e
                ? long.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : throw new CliException($"--expiry '{e}' is not a number of seconds")
                : null;
            bool? blinded = parse.GetValue(plain) ? false : null;
            var request = new CreateOfferRequest(parse.GetValue(description), msat, seconds, parse.GetValue(issuer), blinded);
            var result = await client.PostAsync<OfferInfo>("v1/offers", request, ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, o) => output.WriteLine(o.Offer));
            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List the node's offers, newest first, with the invoices issued and paid for each.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<List<OfferInfo>>("v1/offers", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, offers) => CliTable.Rows(output,
                ["offer id", "amount", "description", "paid", "received", "expires", "offer"],
                offers.Select(o => (IReadOnlyList<string>)
                [
                    o.OfferId, NodeOutput.Msat(o.AmountMsat), o.Description,
                    $"{o.InvoicesPaid.ToString(CultureInfo.InvariantCulture)}/{o.InvoicesIssued.ToString(CultureInfo.InvariantCulture)}",
                    NodeOutput.Msat(o.ReceivedMsat), NodeOutput.Time(o.ExpiresAt), o.Offer,
                ])));
            return 0;
        });
        return command;
    }

    public static Command CreatePayOffer()
    {
        var offer = new Argument<string>("offer") { Description = "The BOLT 12 offer (lno1...)." };
        var amount = new Option<string?>("--amount-msat") { Description = "The amount in millisatoshis, for an offer without one." };
        var note = new Option<string?>("--payer-note") { Description = "A note for the offer's issuer." };
        var command = new Command("pay-offer", "Pay a BOLT 12 offer with the running node (fetches an invoice over onion messages; retries, multi-part) and wait for the outcome.");
        command.Arguments.Add(offer);
        command.Options.Add(amount);
        command.Options.Add(note);
        var limits = PaymentLimitOptions.AddTo(command, "other routes and blinded paths");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            long? msat = parse.GetValue(amount) is { } a ? NodeOutput.ParseAmount(a, "millisatoshis", NodeOutput.MaxMsat) : null;
            var (fee, seconds) = limits.Parse(parse);
            var request = new PayOfferRequest(parse.GetValue(offer)!.Trim(), msat, parse.GetValue(note)) { MaxFeeMsat = fee, TimeoutSeconds = seconds };
            var result = await client.PostAsync<PaymentInfo>("v1/offers/pay", request, ct).ConfigureAwait(false);
            return PayCommands.Report(parse, result, "for the offer");
        });
        return command;
    }
}
