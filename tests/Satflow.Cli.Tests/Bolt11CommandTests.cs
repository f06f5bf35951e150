using System.Text.Json;
using Satflow.TestSupport;

namespace Satflow.Cli.Tests;

public sealed class Bolt11CommandTests
{
    private const string Key = "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734";
    private const string Hash = "0001020304050607080900010203040506070809000102030405060708090102";
    private const string Secret = "1111111111111111111111111111111111111111111111111111111111111111";

    private static readonly JsonElement Examples = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt11-valid.json")).RootElement.GetProperty("examples");

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SatflowCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Invoice(int index) => Examples[index].GetProperty("invoice").GetString()!;

    [Fact]
    public async Task DecodeJsonPrintsTheSpecFields()
    {
        var (code, output, error) = await Run("bolt11", "decode", Invoice(5), "--json");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal("bc", json.GetProperty("network").GetString());
        Assert.Equal(2_000_000_000UL, json.GetProperty("amount_msat").GetUInt64());
        Assert.Equal(1496314658UL, json.GetProperty("timestamp").GetUInt64());
        Assert.Equal(3600UL, json.GetProperty("expiry").GetUInt64());
        Assert.Equal(Hash, json.GetProperty("payment_hash").GetString());
        Assert.Equal(Secret, json.GetProperty("payment_secret").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("description").ValueKind);
        Assert.Equal("3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1", json.GetProperty("description_hash").GetString());
        Assert.Equal("03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad", json.GetProperty("payee").GetString());
        Assert.Equal(18UL, json.GetProperty("min_final_cltv_expiry").GetUInt64());
        Assert.Equal([8, 14], json.GetProperty("features").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["1RustyRX2oai4EYYDpQGWvEL62BBGqN9T"], json.GetProperty("fallbacks").EnumerateArray().Select(e => e.GetString()));
        var hops = json.GetProperty("route_hints")[0];
        Assert.Equal(2, hops.GetArrayLength());
        Assert.Equal("029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", hops[0].GetProperty("pubkey").GetString());
        Assert.Equal("66051x263430x1800", hops[0].GetProperty("short_channel_id").GetString());
        Assert.Equal(1u, hops[0].GetProperty("fee_base_msat").GetUInt32());
        Assert.Equal(20u, hops[0].GetProperty("fee_proportional_millionths").GetUInt32());
        Assert.Equal(3, hops[0].GetProperty("cltv_expiry_delta").GetInt32());
        Assert.Equal(4, hops[1].GetProperty("cltv_expiry_delta").GetInt32());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("metadata").ValueKind);
        Assert.True(json.GetProperty("signature_valid").GetBoolean());
    }

    [Fact]
    public async Task DecodeJsonShowsAnyAmountAsNullAndMetadata()
    {
        var (code, output, _) = await Run("bolt11", "decode", Invoice(0), "--json");
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(JsonValueKind.Null, json.GetProperty("amount_msat").ValueKind);
        Assert.Equal("Please consider supporting this project", json.GetProperty("description").GetString());

        (code, output, _) = await Run("bolt11", "decode", Invoice(14), "--json");
        Assert.Equal(0, code);
        Assert.Equal("01fafaf0", JsonDocument.Parse(output).RootElement.GetProperty("metadata").GetString());
    }

    [Fact]
    public async Task DecodeWithoutJsonPrintsAListing()
    {
        var (code, output, _) = await Run("bolt11", "decode", Invoice(10));
        Assert.Equal(0, code);
        Assert.Contains("payment_hash", output, StringComparison.Ordinal);
        Assert.Contains("462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f", output, StringComparison.Ordinal);
        Assert.Contains("589390x3312x1", output, StringComparison.Ordinal);
        Assert.StartsWith("network", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lnbc1nothing")]
    [InlineData("garbage")]
    [InlineData("lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpusp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qrsgqrrzc4cvfue4zp3hggxp47ag7xnrlr8vgcmkjxk3j5jqethnumgkpqp23z9jclu3v0a7e0aruz366e9wqdykw6dxhdzcjjhldxq0w6wgqcnu43j")]
    public async Task InvalidInvoiceExitsOneWithOneLineOnStderr(string invoice)
    {
        var (code, output, error) = await Run("bolt11", "decode", invoice, "--json");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: invalid invoice: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidMultiplierReasonIsShown()
    {
        var (_, _, error) = await Run("bolt11", "decode", JsonDocument.Parse(TestVectors.ReadText("bolts/bolt11-invalid.json")).RootElement.GetProperty("examples")[6].GetProperty("invoice").GetString()!);
        Assert.Contains("invalid amount multiplier", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EncodeReproducesTheFirstSpecExample()
    {
        var (code, output, error) = await Run("bolt11", "encode", "--key", Key, "--network", "bc", "--payment-hash", Hash, "--payment-secret", Secret,
            "--description", "Please consider supporting this project", "--timestamp", "1496314658");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(Invoice(0), output.Trim());
    }

    [Fact]
    public async Task EncodeReproducesTheCoffeeExampleWithAmountAndExpiry()
    {
        var (code, output, _) = await Run("bolt11", "encode", "--key", Key, "--network", "bc", "--amount-msat", "250000000", "--payment-hash", Hash,
            "--payment-secret", Secret, "--description", "1 cup coffee", "--expiry", "60", "--timestamp", "1496314658");
        Assert.Equal(0, code);
        Assert.Equal(Invoice(1), output.Trim());
    }

    [Fact]
    public async Task EncodeWithRouteHintsAndDescriptionHashRoundTrips()
    {
        var hint = "029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255:66051x263430x1800:1:20:3,"
            + "039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255:197637x395016x2314:2:30:4";
        var (code, output, error) = await Run("bolt11", "encode", "--key", Key, "--network", "bcrt", "--amount-msat", "1234567", "--payment-hash", Hash,
            "--payment-secret", Secret, "--description-hash", "3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1",
            "--min-final-cltv", "40", "--route-hint", hint, "--route-hint", "03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7:589390x3312x1:1000:2500:40");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        var invoice = output.Trim();
        Assert.StartsWith("lnbcrt12345670p1", invoice, StringComparison.Ordinal);

        (code, output, _) = await Run("bolt11", "decode", invoice, "--json");
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal("bcrt", json.GetProperty("network").GetString());
        Assert.Equal(1234567UL, json.GetProperty("amount_msat").GetUInt64());
        Assert.Equal(40UL, json.GetProperty("min_final_cltv_expiry").GetUInt64());
        Assert.Equal(2, json.GetProperty("route_hints").GetArrayLength());
        Assert.Equal(2, json.GetProperty("route_hints")[0].GetArrayLength());
        Assert.Equal("589390x3312x1", json.GetProperty("route_hints")[1][0].GetProperty("short_channel_id").GetString());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(json.GetProperty("timestamp").GetInt64(), now - 600, now + 600);
    }

    [Theory]
    [InlineData("bc", "1RustyRX2oai4EYYDpQGWvEL62BBGqN9T")]
    [InlineData("bc", "3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX")]
    [InlineData("bc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")]
    [InlineData("bc", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3")]
    [InlineData("bc", "bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm")]
    [InlineData("tb", "mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP")]
    public async Task EncodeFallbackRoundTrips(string network, string address)
    {
        var (code, output, error) = await Run("bolt11", "encode", "--key", Key, "--network", network, "--payment-hash", Hash, "--payment-secret", Secret,
            "--description", "f", "--fallback", address, "--timestamp", "1496314658");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        (code, output, _) = await Run("bolt11", "decode", output.Trim(), "--json");
        Assert.Equal(0, code);
        Assert.Equal([address], JsonDocument.Parse(output).RootElement.GetProperty("fallbacks").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("--description", "x", "--fallback", "mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP")]
    [InlineData("--description", "x", "--description-hash", "3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1")]
    [InlineData("--description", "x", "--route-hint", "02ab:1x2x3:1:2:3")]
    [InlineData("--description", "x", "--network", "xx")]
    public async Task EncodeRejectsBadOptions(params string[] extra)
    {
        string[] args = ["bolt11", "encode", "--key", Key, "--payment-hash", Hash, "--payment-secret", Secret, .. extra];
        if (!extra.Contains("--network"))
        {
            args = [.. args, "--network", "bc"];
        }
        var (code, output, error) = await Run(args);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EncodeHelpDocumentsTheRouteHintFormat()
    {
        var (code, output, _) = await Run("bolt11", "encode", "--help");
        Assert.Equal(0, code);
        Assert.Contains("pubkey:scid:fee_base_msat:fee_proportional_millionths:cltv_expiry_delta", output, StringComparison.Ordinal);
    }
}
