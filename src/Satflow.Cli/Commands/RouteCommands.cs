using System.CommandLine;
using System.Globalization;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow route NODEID AMOUNT_MSAT</c>: the route a payment would take now, through the node's admin API.</summary>
internal static class RouteCommands
{
    public static Command Create()
    {
        var nodeIdArgument = new Argument<string>("nodeid") { Description = "The recipient's node id." };
        var amount = new Argument<string>("amount_msat") { Description = "What the recipient should receive, in millisatoshis." };
        var command = new Command("route", "Show the route the running node would use to pay a node now: hops, fees and CLTV (nothing is sent).");
        command.Arguments.Add(nodeIdArgument);
        command.Arguments.Add(amount);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var nodeId = NodeOutput.ParseNodeId(parse.GetValue(nodeIdArgument)!);
            var msat = NodeOutput.ParseAmount(parse.GetValue(amount)!, "millisatoshis", NodeOutput.MaxMsat);
            var path = string.Create(CultureInfo.InvariantCulture, $"v1/route?node={nodeId}&amount_msat={msat}");
            var result = await client.GetAsync<RouteInfo>(path, ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, route) =>
            {
                CliTable.Rows(output,
                    ["hop", "node", "channel", "amount", "fee", "cltv"],
                    route.Hops.Select((h, i) => (IReadOnlyList<string>)
                    [
                        (i + 1).ToString(CultureInfo.InvariantCulture),
                        h.Node.ToString(),
                        h.ShortChannelId.ToString(),
                        NodeOutput.Msat(h.Amount),
                        NodeOutput.Msat(h.Fee),
                        h.CltvExpiryDelta.ToString(CultureInfo.InvariantCulture),
                    ]));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{route.Hops.Count} hop(s): send {NodeOutput.Msat(route.TotalAmount)} to deliver {NodeOutput.Msat(route.Amount)}, total fee {NodeOutput.Msat(route.TotalFee)}, total CLTV {route.TotalCltvExpiryDelta} blocks"));
            });
            return 0;
        });
        return command;
    }
}
