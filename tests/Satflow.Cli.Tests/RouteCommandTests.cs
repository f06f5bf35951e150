using System.Net;
using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Cli.Tests;

/// <summary><c>satflow route</c> and the limits of <c>satflow pay</c> through the real admin API over the in-memory node.</summary>
[Collection(NodeStartCollection.Name)]
public sealed class RouteCommandTests : InMemoryApiTests
{
    private static readonly NodeId Peer = new(new Key(Convert.FromHexString(new string('3', 64))).PubKey);

    [Fact]
    public async Task Route_prints_the_hops_fee_and_cltv_as_a_table_and_as_json()
    {
        var (code, _, error) = await Run("route", Peer.ToString(), "5000");
        Assert.Equal(1, code);
        Assert.Contains("no route with enough liquidity", error, StringComparison.Ordinal);

        await Node.ConnectPeerAsync(Peer, new DnsEndPoint("127.0.0.1", 9735), CancellationToken.None);
        var channel = await Node.OpenChannelAsync(Peer, Money.Satoshis(500_000), CancellationToken.None);
        Node.ConfirmChannels();

        (code, var output, error) = await Run("route", Peer.ToString(), "5000");
        Assert.True(code == 0, error);
        Assert.Contains(channel.ShortChannelId!.Value.ToString(), output, StringComparison.Ordinal);
        Assert.Contains("1 hop(s): send 5,000 msat to deliver 5,000 msat, total fee 0 msat, total CLTV 18 blocks", output, StringComparison.Ordinal);

        (code, output, error) = await Run("route", Peer.ToString(), "5000", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(5000, json.GetProperty("total_amount_msat").GetInt64());
        Assert.Equal(Peer.ToString(), json.GetProperty("hops")[0].GetProperty("node_id").GetString());

        (code, _, error) = await Run("route", Peer.ToString(), "-5");
        Assert.Equal(1, code);
        Assert.Contains("not an amount", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pay_passes_its_fee_limit_and_timeout_to_the_node()
    {
        await Node.ConnectPeerAsync(Peer, new DnsEndPoint("127.0.0.1", 9735), CancellationToken.None);
        await Node.OpenChannelAsync(Peer, Money.Satoshis(500_000), CancellationToken.None);
        Node.ConfirmChannels();
        var invoice = await Node.CreateInvoiceAsync(new MilliSatoshi(9000), "limits", TimeSpan.FromHours(1), CancellationToken.None);

        var (code, output, error) = await Run("pay", invoice.Bolt11, "--max-fee-msat", "250", "--timeout", "30");
        Assert.True(code == 0, error);
        Assert.Contains("paid 9,000 msat", output, StringComparison.Ordinal);
        Assert.Equal(new PaymentLimits(new MilliSatoshi(250), TimeSpan.FromSeconds(30)), Node.LastLimits);

        (code, _, error) = await Run("pay", invoice.Bolt11, "--timeout", "forever");
        Assert.Equal(1, code);
        Assert.Contains("seconds", error, StringComparison.Ordinal);
    }
}
