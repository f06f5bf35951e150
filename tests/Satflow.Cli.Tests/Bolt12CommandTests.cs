using System.Text.Json;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Features;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Cli.Tests;

public sealed class Bolt12CommandTests
{
    private static readonly JsonElement Offers = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/offers-test.json")).RootElement;
    private static readonly JsonElement Signatures = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/signature-test.json")).RootElement;

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SatflowCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string OfferVector(string description) =>
        Offers.EnumerateArray().First(e => e.GetProperty("description").GetString() == description).GetProperty("bolt12").GetString()!;

    [Fact]
    public async Task DecodeOfferJson()
    {
        var (code, output, error) = await Run("bolt12", "decode", OfferVector("with currency"), "--json");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal("offer", json.GetProperty("type").GetString());
        Assert.Equal("USD", json.GetProperty("offer_currency").GetString());
        Assert.Equal(10000UL, json.GetProperty("offer_amount").GetUInt64());
        Assert.Equal("Test vectors", json.GetProperty("offer_description").GetString());
        Assert.Equal("02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619", json.GetProperty("offer_issuer_id").GetString());
        Assert.Equal(64, json.GetProperty("offer_id").GetString()!.Length);
        Assert.False(json.TryGetProperty("signature_valid", out _));
    }

    [Fact]
    public async Task DecodeOfferWithPathsAndUnknownFields()
    {
        var (code, output, _) = await Run("bolt12", "decode", OfferVector("same, with blinded path first_node_id using sciddir"), "--json");
        Assert.Equal(0, code);
        var path = JsonDocument.Parse(output).RootElement.GetProperty("offer_paths")[0];
        Assert.Equal("0x0x42/0", path.GetProperty("first_node_id").GetString());
        Assert.Equal(2, path.GetProperty("hops").GetArrayLength());
        Assert.Equal("1111111111111111", path.GetProperty("hops")[1].GetProperty("encrypted_recipient_data").GetString());

        (code, output, _) = await Run("bolt12", "decode", OfferVector("unknown odd experimental field"), "--json");
        Assert.Equal(0, code);
        var unknown = JsonDocument.Parse(output).RootElement.GetProperty("unknown_fields")[0];
        Assert.Equal(1000000033UL, unknown.GetProperty("type").GetUInt64());
        Assert.Equal("68656c6c6f776f726c64", unknown.GetProperty("hex").GetString());
    }

    [Fact]
    public async Task DecodeInvoiceRequestJsonChecksTheSignature()
    {
        var (code, output, _) = await Run("bolt12", "decode", Signatures[3].GetProperty("bolt12").GetString()!, "--json");
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal("invoice_request", json.GetProperty("type").GetString());
        Assert.Equal("A Mathematical Treatise", json.GetProperty("offer_description").GetString());
        Assert.Equal(100UL, json.GetProperty("offer_amount").GetUInt64());
        Assert.Equal("0000000000000000", json.GetProperty("invreq_metadata").GetString());
        Assert.Equal("0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c", json.GetProperty("invreq_payer_id").GetString());
        Assert.Equal(Signatures[3].GetProperty("signature").GetString(), json.GetProperty("signature").GetString());
        Assert.True(json.GetProperty("signature_valid").GetBoolean());
    }

    [Fact]
    public async Task DecodeInvoiceJson()
    {
        var alice = ECPrivKey.Create(Enumerable.Repeat((byte)0x41, 32).ToArray());
        var bob = ECPrivKey.Create(Enumerable.Repeat((byte)0x42, 32).ToArray());
        var aliceId = NodeIdOf(alice);
        var offer = new OfferContent { Description = "tea", Amount = 2000, IssuerId = aliceId };
        var request = new InvoiceRequestContent { Metadata = new byte[] { 7, 7 }, PayerId = NodeIdOf(bob) };
        var path = new BlindedPath(SciddirOrPubkey.FromNodeId(aliceId), aliceId, [new BlindedHop(aliceId, new byte[] { 1 })]);
        var invoice = Bolt12Invoice.CreateSigned(offer, request, new InvoiceContent
        {
            Paths = [path],
            BlindedPay = [new BlindedPayInfo(1, 2, 3, new MilliSatoshi(4), new MilliSatoshi(5), FeatureBits.Empty)],
            CreatedAt = 1_700_000_000,
            PaymentHash = PaymentHash.Parse(new string('b', 64)),
            Amount = new MilliSatoshi(2000),
            NodeId = aliceId,
        }, alice);

        var (code, output, error) = await Run("bolt12", "decode", invoice.Encode(), "--json");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal("invoice", json.GetProperty("type").GetString());
        Assert.Equal(2000UL, json.GetProperty("invoice_amount").GetUInt64());
        Assert.Equal(1_700_000_000UL, json.GetProperty("invoice_created_at").GetUInt64());
        Assert.Equal(new string('b', 64), json.GetProperty("invoice_payment_hash").GetString());
        Assert.Equal(aliceId.ToString(), json.GetProperty("invoice_node_id").GetString());
        Assert.Equal(3, json.GetProperty("invoice_blindedpay")[0].GetProperty("cltv_expiry_delta").GetInt32());
        Assert.True(json.GetProperty("signature_valid").GetBoolean());

        (code, output, _) = await Run("bolt12", "decode", invoice.Encode());
        Assert.Equal(0, code);
        Assert.Contains("invoice_payment_hash", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lno1pgx9getnwss8vetrw3hhyuc")]
    [InlineData("lno1qcp4256ypgx9getnwss8vetrw3hhyuckyypwa3eyt44h6txtxquqh7lz5djge4afgfjn7k4rgrkuag0jsd5xvxg")]
    [InlineData("lnz1qqqq")]
    [InlineData("not bolt12")]
    public async Task InvalidStringExitsOneWithOneLineOnStderr(string text)
    {
        var (code, output, error) = await Run("bolt12", "decode", text, "--json");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: invalid bolt12 string: ", line, StringComparison.Ordinal);
    }

    private static NodeId NodeIdOf(ECPrivKey key)
    {
        var bytes = new byte[33];
        key.CreatePubKey().WriteToSpan(true, bytes, out _);
        return NodeId.FromBytes(bytes);
    }
}
