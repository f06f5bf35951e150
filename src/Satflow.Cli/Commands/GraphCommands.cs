using System.CommandLine;
using System.Globalization;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow graph info|node</c>: the running node's channel graph (BOLT 7 gossip), through its admin API.</summary>
internal static class GraphCommands
{
    public static Command Create()
    {
        var command = new Command("graph", "The channel graph the running node learned from gossip (needs `satflow node start`).");
        command.Subcommands.Add(CreateInfo());
        command.Subcommands.Add(CreateNode());
        return command;
    }

    private static Command CreateInfo()
    {
        var command = new Command("info", "Show the graph's node and channel counts, our announced channels and the last gossip sync.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<GraphInfo>("v1/graph", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, g) => CliTable.KeyValues(output,
            [
                ("nodes", g.NodeCount.ToString(CultureInfo.InvariantCulture)),
                ("channels", g.ChannelCount.ToString(CultureInfo.InvariantCulture)),
                ("announced channels", g.AnnouncedChannelCount.ToString(CultureInfo.InvariantCulture)),
                ("node announcements", g.NodeAnnouncementCount.ToString(CultureInfo.InvariantCulture)),
                ("our announced channels", g.OurAnnouncedChannels.Count == 0 ? "-" : string.Join(", ", g.OurAnnouncedChannels)),
                ("last sync", NodeOutput.Time(g.LastSyncAt)),
                ("syncing peers", g.SyncingPeers.ToString(CultureInfo.InvariantCulture)),
            ]));
            return 0;
        });
        return command;
    }

    private static Command CreateNode()
    {
        var nodeId = new Argument<string>("node_id") { Description = "The node id (66 hex characters)." };
        var command = new Command("node", "Show one node of the graph: alias, addresses and channels with their policies.");
        command.Arguments.Add(nodeId);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var id = NodeOutput.ParseNodeId(parse.GetValue(nodeId)!);
            var result = await client.GetAsync<GraphNodeInfo>("v1/graph/nodes/" + id, ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, n) =>
            {
                CliTable.KeyValues(output,
                [
                    ("node id", n.NodeId.ToString()),
                    ("alias", n.Alias ?? "-"),
                    ("color", n.Color ?? "-"),
                    ("announced at", NodeOutput.Time(n.AnnouncedAt)),
                    ("addresses", n.Addresses.Count == 0 ? "-" : string.Join(", ", n.Addresses)),
                ]);
                CliTable.Rows(output, ["short channel id", "peer", "capacity", "fee out", "fee in"],
                    n.Channels.Select(c => (IReadOnlyList<string>)
                    [
                        c.ShortChannelId.ToString(),
                        (c.Node1 == n.NodeId ? c.Node2 : c.Node1).ToString(),
                        NodeOutput.Sat(c.Capacity),
                        Fee(c.Node1 == n.NodeId ? c.Policy1 : c.Policy2),
                        Fee(c.Node1 == n.NodeId ? c.Policy2 : c.Policy1),
                    ]));
            });
            return 0;
        });
        return command;
    }

    private static string Fee(GraphPolicyInfo? policy) => policy is null
        ? "-"
        : $"{policy.FeeBase.Value.ToString(CultureInfo.InvariantCulture)} msat + {policy.FeeProportionalMillionths.ToString(CultureInfo.InvariantCulture)} ppm{(policy.Disabled ? " (disabled)" : "")}";
}
