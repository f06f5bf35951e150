using System.Net;
using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Cli.Tests;

public sealed class GraphCommandTests : InMemoryApiTests
{
    private static readonly NodeId Peer = new(new Key(Convert.FromHexString(new string('2', 64))).PubKey);

    [Fact]
    public async Task Graph_info_and_node_show_the_graph_as_json_and_as_text()
    {
        var (code, output, error) = await NodeCommandTests.Run("graph", "info", "--datadir", Dir, "--json");
        Assert.True(code == 0, error);
        var empty = JsonDocument.Parse(output).RootElement;
        Assert.Equal(0, empty.GetProperty("channel_count").GetInt32());
        Assert.Equal(JsonValueKind.Null, empty.GetProperty("last_sync_at").ValueKind);

        await Node.ConnectPeerAsync(Peer, new DnsEndPoint("127.0.0.1", 9735), default);
        var channel = await Node.OpenChannelAsync(Peer, Money.Satoshis(300_000), default);
        Node.ConfirmChannels();

        (code, output, error) = await NodeCommandTests.Run("graph", "info", "--datadir", Dir, "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, json.GetProperty("node_count").GetInt32());
        Assert.Equal(channel.ShortChannelId.ToString(), Assert.Single(json.GetProperty("our_announced_channels").EnumerateArray()).GetString());

        (code, output, error) = await NodeCommandTests.Run("graph", "info", "--datadir", Dir);
        Assert.True(code == 0, error);
        Assert.Contains("announced channels", output, StringComparison.Ordinal);
        Assert.Contains(channel.ShortChannelId.ToString()!, output, StringComparison.Ordinal);

        (code, output, error) = await NodeCommandTests.Run("graph", "node", Peer.ToString(), "--datadir", Dir);
        Assert.True(code == 0, error);
        Assert.Contains(channel.ShortChannelId.ToString()!, output, StringComparison.Ordinal);
        Assert.Contains("300,000 sat", output, StringComparison.Ordinal);
        Assert.Contains("1000 msat + 1 ppm", output, StringComparison.Ordinal);

        var unknown = new NodeId(new Key().PubKey).ToString();
        (code, _, error) = await NodeCommandTests.Run("graph", "node", unknown, "--datadir", Dir);
        Assert.Equal(1, code);
        Assert.Contains(unknown, error, StringComparison.Ordinal);
        Assert.Equal(["graph", "connect", "open", "graph", "graph", "graph-node", "graph-node"], Node.Calls.Where(c => c.StartsWith("graph", StringComparison.Ordinal) || c is "connect" or "open"));
    }
}
