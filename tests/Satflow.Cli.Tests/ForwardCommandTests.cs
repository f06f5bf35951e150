using System.Net;
using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Cli.Tests;

/// <summary><c>satflow forwards list</c> and <c>satflow channel policy</c> through the real admin API over the in-memory node.</summary>
[Collection(NodeStartCollection.Name)]
public sealed class ForwardCommandTests : InMemoryApiTests
{
    private static readonly NodeId Peer = new(new Key(Convert.FromHexString(new string('3', 64))).PubKey);

    private async Task<ChannelInfo> OpenAsync()
    {
        await Node.ConnectPeerAsync(Peer, new DnsEndPoint("127.0.0.1", 9735), CancellationToken.None);
        var channel = await Node.OpenChannelAsync(Peer, Money.Satoshis(500_000), CancellationToken.None);
        Node.ConfirmChannels();
        return channel;
    }

    [Fact]
    public async Task Forwards_list_shows_settled_and_failed_forwards_as_a_table_and_as_json()
    {
        var (code, output, error) = await Run("forwards", "list");
        Assert.True(code == 0, error);
        Assert.Contains("0 settled, 0 failed, 0 pending", output, StringComparison.Ordinal);

        var incoming = new ChannelId(new Bytes32(Enumerable.Repeat((byte)1, 32).ToArray()));
        var outgoing = new ChannelId(new Bytes32(Enumerable.Repeat((byte)2, 32).ToArray()));
        var hash = new PaymentHash(new Bytes32(Enumerable.Repeat((byte)3, 32).ToArray()));
        var at = new DateTimeOffset(2026, 11, 26, 6, 0, 0, TimeSpan.Zero);
        Node.Forwards.Add(new ForwardInfo(incoming, ShortChannelId.Parse("101x1x0"), outgoing, ShortChannelId.Parse("102x2x1"), hash,
            new MilliSatoshi(101_100), new MilliSatoshi(100_000), new MilliSatoshi(1_100), ForwardState.Settled, null, at, at.AddSeconds(2)));
        Node.Forwards.Add(new ForwardInfo(incoming, ShortChannelId.Parse("101x1x0"), null, ShortChannelId.Parse("999x9x9"), hash,
            new MilliSatoshi(50_000), new MilliSatoshi(49_000), MilliSatoshi.Zero, ForwardState.Failed, "unknown_next_peer: no channel 999x9x9", at, at));

        (code, output, error) = await Run("forwards", "list");
        Assert.True(code == 0, error);
        Assert.Contains("102x2x1", output, StringComparison.Ordinal);
        Assert.Contains("101,100 msat", output, StringComparison.Ordinal);
        Assert.Contains("unknown_next_peer", output, StringComparison.Ordinal);
        Assert.Contains("1 settled, 1 failed, 0 pending; earned 1,100 msat", output, StringComparison.Ordinal);

        (code, output, error) = await Run("forwards", "list", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, json.GetArrayLength());
        Assert.Equal("settled", json[0].GetProperty("state").GetString());
        Assert.Equal(1_100, json[0].GetProperty("fee_msat").GetInt64());
        Assert.Equal("failed", json[1].GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, json[1].GetProperty("outgoing_channel_id").ValueKind);
    }

    [Fact]
    public async Task Channel_policy_sets_the_policy_by_channel_id_or_short_id_and_refuses_bad_values()
    {
        var channel = await OpenAsync();
        var (code, output, error) = await Run("channel", "policy", channel.ChannelId.ToString(), "--base-fee-msat", "2000", "--fee-ppm", "150", "--cltv-delta", "40", "--htlc-max-msat", "90000000");
        Assert.True(code == 0, error);
        Assert.Contains("base fee 2,000 msat, 150 ppm, CLTV delta 40", output, StringComparison.Ordinal);
        var stored = Node.Policies[channel.ChannelId];
        Assert.Equal(new MilliSatoshi(2_000), stored.BaseFee);
        Assert.Equal(new MilliSatoshi(1), stored.HtlcMinimum);
        Assert.Equal(new MilliSatoshi(90_000_000), stored.HtlcMaximum);

        var scid = (await Node.ListChannelsAsync(CancellationToken.None)).Single().ShortChannelId!.Value.ToString();
        (code, output, error) = await Run("channel", "policy", scid, "--base-fee-msat", "0", "--fee-ppm", "1", "--cltv-delta", "144", "--htlc-min-msat", "1000", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(144, json.GetProperty("cltv_delta").GetInt32());
        Assert.Equal(1000, json.GetProperty("htlc_min_msat").GetInt64());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("htlc_max_msat").ValueKind);

        (code, _, error) = await Run("channel", "policy", channel.ChannelId.ToString(), "--base-fee-msat", "1", "--fee-ppm", "2000000", "--cltv-delta", "40");
        Assert.Equal(1, code);
        Assert.Contains("--fee-ppm", error, StringComparison.Ordinal);
        (code, _, error) = await Run("channel", "policy", new string('f', 64), "--base-fee-msat", "1", "--fee-ppm", "1", "--cltv-delta", "40");
        Assert.Equal(1, code);
        Assert.Contains("no channel", error, StringComparison.Ordinal);
        (code, _, error) = await Run("channel", "policy", channel.ChannelId.ToString(), "--base-fee-msat", "1", "--fee-ppm", "1", "--cltv-delta", "40", "--htlc-min-msat", "10", "--htlc-max-msat", "5");
        Assert.Equal(1, code);
        Assert.Contains("below htlc_min_msat", error, StringComparison.Ordinal);
    }
}
