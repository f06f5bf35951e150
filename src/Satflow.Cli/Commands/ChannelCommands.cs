using System.CommandLine;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow channel open|list|close</c>: the node's channels, through its admin API.</summary>
internal static class ChannelCommands
{
    public static Command Create()
    {
        var command = new Command("channel", "The running node's channels (needs `satflow node start`).");
        command.Subcommands.Add(CreateOpen());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateClose());
        command.Subcommands.Add(CreateRestore());
        command.Subcommands.Add(ChannelPolicyCommand.Create());
        return command;
    }

    private static Command CreateOpen()
    {
        var nodeIdArgument = new Argument<string>("nodeid") { Description = "A connected peer." };
        var sats = new Argument<string>("sats") { Description = "The channel capacity in satoshis, funded from the node's on-chain wallet." };
        var command = new Command("open", "Open a channel with a connected peer; confirm the funding transaction by mining blocks.");
        command.Arguments.Add(nodeIdArgument);
        command.Arguments.Add(sats);
        var isPrivate = new Option<bool>("--private") { Description = "Do not announce the channel to the network; invoices then carry a route hint for it." };
        command.Options.Add(isPrivate);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var nodeId = NodeOutput.ParseNodeId(parse.GetValue(nodeIdArgument)!);
            var amount = NodeOutput.ParseAmount(parse.GetValue(sats)!, "satoshis", NodeOutput.MaxSat);
            var body = new OpenChannelRequest(nodeId.ToString(), amount) { Private = parse.GetValue(isPrivate) ? true : null };
            var result = await client.PostAsync<ChannelInfo>("v1/channels", body, ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, c) =>
            {
                output.WriteLine($"channel {c.ChannelId} with {c.PeerNodeId}: {NodeOutput.Sat(c.Capacity)}, {NodeOutput.State(c.State)}{(c.IsPublic ? "" : ", private")}");
                if (c.FundingOutpoint is { } funding)
                {
                    output.WriteLine($"  funding output {funding.Hash}:{funding.N}");
                }
            });
            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List channels with their state and balances.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<List<ChannelInfo>>("v1/channels", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, channels) => CliTable.Rows(output,
                ["channel id", "short id", "peer", "state", "capacity", "local", "remote"],
                channels.Select(c => (IReadOnlyList<string>)
                [
                    c.ChannelId.ToString(),
                    c.ShortChannelId?.ToString() ?? "-",
                    c.PeerNodeId.ToString(),
                    NodeOutput.State(c.State),
                    NodeOutput.Sat(c.Capacity),
                    NodeOutput.Msat(c.LocalBalance),
                    NodeOutput.Msat(c.RemoteBalance),
                ])));
            return 0;
        });
        return command;
    }

    private static Command CreateRestore()
    {
        var backup = new Option<FileInfo>("--backup") { Description = "The static channel backup file (written by the node on every channel open and close).", Required = true };
        var command = new Command("restore", "After losing the node's data: ask each backed-up channel's peer to force close and sweep our funds to the wallet.");
        command.Options.Add(backup);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var bytes = await File.ReadAllBytesAsync(parse.GetValue(backup)!.FullName, ct).ConfigureAwait(false);
            var result = await client.PostAsync<ChannelRestoreResult>("v1/channels/restore", new RestoreChannelsRequest(Convert.ToBase64String(bytes)), ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, r) =>
            {
                output.WriteLine($"{r.Recovering.Count} channel(s) under recovery");
                foreach (var id in r.Recovering)
                {
                    output.WriteLine($"  {id}");
                }
            });
            return 0;
        });
        return command;
    }

    private static Command CreateClose()
    {
        var channel = new Argument<string>("channel") { Description = "The channel id (64 hex characters) or short channel id (BLOCKxTXxOUT)." };
        var force = new Option<bool>("--force") { Description = "Close unilaterally: broadcast our commitment transaction (funds return after the to_self_delay)." };
        var command = new Command("close", "Close a channel cooperatively, or unilaterally with --force.");
        command.Arguments.Add(channel);
        command.Options.Add(force);
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var id = parse.GetValue(channel)!;
            var result = await client.PostAsync<ChannelCloseResult>($"v1/channels/{Uri.EscapeDataString(id)}/close", new CloseChannelRequest(parse.GetValue(force)), ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, r) => output.WriteLine(
                $"channel {r.ChannelId} {NodeOutput.State(r.State)}" + (r.ClosingTxid is { } txid ? $", closing transaction {txid}" : "")));
            return 0;
        });
        return command;
    }
}
