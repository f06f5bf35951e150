using System.CommandLine;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow peer connect|list|disconnect</c>: the node's Lightning peers, through its admin API.</summary>
internal static class PeerCommands
{
    public static Command Create()
    {
        var command = new Command("peer", "The running node's peers (needs `satflow node start`).");
        command.Subcommands.Add(CreateConnect());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateDisconnect());
        return command;
    }

    private static Command CreateConnect()
    {
        var target = new Argument<string>("nodeid@host:port") { Description = "The peer's node id and address, e.g. 02ab...@127.0.0.1:9735." };
        var command = new Command("connect", "Connect to a peer (BOLT 8 handshake, then init).");
        command.Arguments.Add(target);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var text = parse.GetValue(target)!;
            var at = text.IndexOf('@', StringComparison.Ordinal);
            if (at <= 0 || at == text.Length - 1)
            {
                throw new CliException($"'{text}' is not NODEID@HOST:PORT");
            }
            var nodeId = NodeOutput.ParseNodeId(text[..at]);
            var result = await client.PostAsync<PeerInfo>("v1/peers", new ConnectPeerRequest(nodeId.ToString(), text[(at + 1)..]), ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, peer) => output.WriteLine($"connected to {peer.NodeId} at {peer.Address}"));
            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List connected peers.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<List<PeerInfo>>("v1/peers", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, peers) => CliTable.Rows(output, ["node id", "address", "direction"],
                peers.Select(p => (IReadOnlyList<string>)[p.NodeId.ToString(), p.Address, p.Inbound ? "inbound" : "outbound"])));
            return 0;
        });
        return command;
    }

    private static Command CreateDisconnect()
    {
        var nodeIdArgument = new Argument<string>("nodeid") { Description = "The peer's node id." };
        var command = new Command("disconnect", "Disconnect a peer.");
        command.Arguments.Add(nodeIdArgument);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var nodeId = NodeOutput.ParseNodeId(parse.GetValue(nodeIdArgument)!);
            var result = await client.DeleteAsync<PeerDisconnectResult>("v1/peers/" + nodeId, ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, r) => output.WriteLine($"disconnected {r.NodeId}"));
            return 0;
        });
        return command;
    }
}
