using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Types;

namespace Satflow.Cli.Tests;

/// <summary><c>satflow offer create|list</c> and <c>satflow pay-offer</c> through the real admin API over the in-memory node.</summary>
[Collection(NodeStartCollection.Name)]
public sealed class OfferCommandTests : InMemoryApiTests
{
    private static readonly string Peer = new NodeId(new Key(Convert.FromHexString(new string('2', 64))).PubKey).ToString();

    [Fact]
    public async Task An_offer_is_created_listed_and_paid_from_the_command_line()
    {
        var (code, output, error) = await Run("offer", "create", "--description", "coffee", "--amount-msat", "21000", "--expiry", "600");
        Assert.True(code == 0, error);
        var lno = output.Trim();
        Assert.StartsWith("lno1", lno, StringComparison.Ordinal);
        var offer = Offer.Decode(lno);
        Assert.Equal("coffee", offer.Offer.Description);
        Assert.Equal(21_000UL, offer.Offer.Amount);

        (code, output, error) = await Run("offer", "list", "--json");
        Assert.True(code == 0, error);
        var listed = Assert.Single(JsonDocument.Parse(output).RootElement.EnumerateArray());
        Assert.Equal(lno, listed.GetProperty("offer").GetString());
        (code, output, _) = await Run("offer", "list");
        Assert.Equal(0, code);
        Assert.Contains("coffee", output, StringComparison.Ordinal);

        // Without a channel the payment fails: one line on stderr, exit 1.
        (code, _, error) = await Run("pay-offer", lno);
        Assert.Equal(1, code);
        Assert.Contains("no route", error, StringComparison.Ordinal);

        Assert.Equal(0, (await Run("peer", "connect", $"{Peer}@127.0.0.1:9735")).Code);
        Assert.Equal(0, (await Run("channel", "open", Peer, "250000")).Code);
        Node.ConfirmChannels();
        (code, output, error) = await Run("pay-offer", lno, "--payer-note", "thanks", "--json");
        Assert.True(code == 0, error);
        var payment = JsonDocument.Parse(output).RootElement;
        Assert.Equal("succeeded", payment.GetProperty("state").GetString());
        Assert.Equal(21_000, payment.GetProperty("amount_msat").GetInt64());
        (code, output, _) = await Run("pay-offer", lno);
        Assert.Equal(0, code);
        Assert.StartsWith("paid 21,000 msat", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_offer_arguments_are_one_line_errors()
    {
        var (code, _, error) = await Run("pay-offer", "lnbcrt1nonsense");
        Assert.Equal(1, code);
        Assert.Contains("is not a BOLT 12 offer", error, StringComparison.Ordinal);
        (code, _, error) = await Run("pay-offer", "lno1qqqq");
        Assert.Equal(1, code);
        Assert.Contains("not a valid BOLT 12 offer", error, StringComparison.Ordinal);
        (code, _, error) = await Run("offer", "create", "--description", "x", "--amount-msat", "-5");
        Assert.Equal(1, code);
        Assert.Contains("is not an amount in millisatoshis", error, StringComparison.Ordinal);
        (code, _, error) = await Run("offer", "create", "--description", new string('x', 2000));
        Assert.Equal(1, code);
        Assert.Contains("at most 1024", error, StringComparison.Ordinal);
        (code, _, error) = await Run("pay-offer", "lno1qqqq", "--timeout", "soon");
        Assert.Equal(1, code);
        Assert.Contains("seconds", error, StringComparison.Ordinal);
        (code, _, error) = await Run("pay-offer", "lno1qqqq", "--max-fee-msat", "-1");
        Assert.Equal(1, code);
        Assert.Contains("millisatoshis", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pay_offer_takes_the_fee_limit_and_retry_window_of_pay()
    {
        var (code, output, error) = await Run("offer", "create", "--description", "tea", "--amount-msat", "5000");
        Assert.True(code == 0, error);
        Assert.Equal(0, (await Run("peer", "connect", $"{Peer}@127.0.0.1:9735")).Code);
        Assert.Equal(0, (await Run("channel", "open", Peer, "250000")).Code);
        Node.ConfirmChannels();

        (code, output, error) = await Run("pay-offer", output.Trim(), "--timeout", "30", "--max-fee-msat", "1000", "--json");
        Assert.True(code == 0, error);
        Assert.Equal("succeeded", JsonDocument.Parse(output).RootElement.GetProperty("state").GetString());
    }
}
