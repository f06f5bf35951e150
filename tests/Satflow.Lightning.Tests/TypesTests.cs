using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests;

public sealed class TypesTests
{
    [Fact]
    public void ShortChannelIdRoundTripsTextForm()
    {
        var scid = ShortChannelId.Parse("539268x845x1");
        Assert.Equal(539268u, scid.BlockHeight);
        Assert.Equal(845u, scid.TxIndex);
        Assert.Equal((ushort)1, scid.OutputIndex);
        Assert.Equal("539268x845x1", scid.ToString());
        Assert.False(ShortChannelId.TryParse("16777216x0x0", out _));
        Assert.False(ShortChannelId.TryParse("1x2", out _));
    }

    [Fact]
    public void PreimageHashesToPaymentHash()
    {
        var preimage = PaymentPreimage.Parse(new string('0', 64));
        Assert.Equal("66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925", preimage.Hash.ToString());
        Assert.DoesNotContain("0000", preimage.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void RegtestChainHashIsWireOrder()
    {
        Assert.Equal("06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f", ChainHash.Regtest.Value.ToHex());
    }

    [Fact]
    public void ChainHashesMatchNBitcoinGenesisBlocks()
    {
        Assert.Equal(NBitcoin.Network.Main.GenesisHash.ToString(), ChainHash.Bitcoin.ToDisplayHex());
        Assert.Equal(NBitcoin.Network.TestNet.GenesisHash.ToString(), ChainHash.Testnet.ToDisplayHex());
        Assert.Equal(NBitcoin.Network.RegTest.GenesisHash.ToString(), ChainHash.Regtest.ToDisplayHex());
        Assert.Equal(NBitcoin.Bitcoin.Instance.Signet.GenesisHash.ToString(), ChainHash.Signet.ToDisplayHex());
    }

    [Fact]
    public void NodeIdRejectsOffCurveBytes()
    {
        Assert.False(NodeId.TryParse("02" + new string('f', 64), out _));
        Assert.True(NodeId.TryParse("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", out var g));
        Assert.Equal("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", g.ToString());
    }

    [Fact]
    public void TlvStreamRejectsUnknownEvenAndDisorder()
    {
        Assert.Equal("unknown even tlv type", Assert.Throws<WireFormatException>(() => TlvStream.Parse([0x02, 0x00], _ => false)).Reason);
        Assert.Equal("tlv types out of order", Assert.Throws<WireFormatException>(() => TlvStream.Parse([0x03, 0x00, 0x01, 0x00], _ => true)).Reason);
        var stream = TlvStream.Parse([0x01, 0x01, 0x2a, 0x03, 0x00], _ => false);
        Assert.Equal(2, stream.Records.Count);
        Assert.Equal([0x01, 0x01, 0x2a, 0x03, 0x00], stream.ToBytes());
    }
}
