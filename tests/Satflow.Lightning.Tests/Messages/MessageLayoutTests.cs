using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Messages;

/// <summary>Byte layouts assembled by hand from the BOLT 2/7 field lists, to pin field order and widths.</summary>
public sealed class MessageLayoutTests
{
    private static readonly Point P1 = new(new Key(Enumerable.Repeat((byte)1, 32).ToArray()).PubKey);
    private static readonly Point P2 = new(new Key(Enumerable.Repeat((byte)2, 32).ToArray()).PubKey);
    private static readonly ChannelId Cid = ChannelId.Parse(new string('a', 64));
    private static readonly string CidHex = new('a', 64);
    private static readonly Signature64 Sig = Signature64.Parse(new string('5', 128));
    private static readonly string SigHex = new('5', 128);

    private static string H(LightningMessage m) => Convert.ToHexStringLower(m.Encode());

    [Fact]
    public void Open_channel_layout()
    {
        var keys = new ChannelKeys(P1, P2, P1, P2, P1, P2);
        var message = new OpenChannel(
            ChainHash.Regtest, Cid, new Satoshis(0x0102), new MilliSatoshi(0x0304), new Satoshis(0x0506), new MilliSatoshi(0x0708),
            new Satoshis(0x090A), new MilliSatoshi(0x0B0C), 0x0D0E0F10, 0x1112, 0x1314, keys, 1)
        {
            UpfrontShutdownScript = ReadOnlyMemory<byte>.Empty,
            ChannelType = FeatureBits.Of(12, 22),
        };
        var expected = "0020" + Convert.ToHexStringLower(ChainHash.Regtest.Value.ToArray()) + CidHex
            + "0000000000000102" + "0000000000000304" + "0000000000000506" + "0000000000000708" + "000000000000090a" + "0000000000000b0c"
            + "0d0e0f10" + "1112" + "1314" + P1 + P2 + P1 + P2 + P1 + P2 + "01"
            + "0000" + "0103401000";
        Assert.Equal(expected, H(message));
        Assert.True(message.AnnounceChannel);
    }

    [Fact]
    public void Update_add_htlc_with_blinded_path_layout()
    {
        var onion = new byte[UpdateAddHtlc.OnionPacketLength];
        onion[0] = 0x00;
        onion[^1] = 0xEE;
        var hash = PaymentHash.Parse(new string('c', 64));
        var message = new UpdateAddHtlc(Cid, 7, new MilliSatoshi(1000), hash, 800_000, onion) { PathKey = P2 };
        var expected = "0080" + CidHex + "0000000000000007" + "00000000000003e8" + new string('c', 64) + "000c3500"
            + Convert.ToHexStringLower(onion) + "0021" + P2;
        Assert.Equal(expected, H(message));
    }

    [Fact]
    public void Channel_reestablish_with_funding_tlvs_layout()
    {
        var txid = new uint256(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var txidHex = Convert.ToHexStringLower(txid.ToBytes());
        var message = new ChannelReestablish(Cid, 5, 4, Bytes32.Zero, P1)
        {
            NextFunding = new FundingTxidWithFlags(txid, 1),
            MyCurrentFundingLocked = new FundingTxidWithFlags(txid, 0),
        };
        var expected = "0088" + CidHex + "0000000000000005" + "0000000000000004" + new string('0', 64) + P1
            + "0121" + txidHex + "01" + "0521" + txidHex + "00";
        Assert.Equal(expected, H(message));
        Assert.StartsWith("000102", txidHex, StringComparison.Ordinal);
    }

    [Fact]
    public void Commitment_signed_and_tx_signatures_layout()
    {
        var commit = new CommitmentSigned(Cid, Sig, [Sig, Sig]);
        Assert.Equal("0084" + CidHex + SigHex + "0002" + SigHex + SigHex, H(commit));
        var txid = uint256.One;
        var sigs = new TxSignatures(Cid, txid, [new byte[] { 0x02, 0x01, 0xAA, 0x01, 0xBB }]) { SharedInputSignature = Sig };
        Assert.Equal("0047" + CidHex + Convert.ToHexStringLower(txid.ToBytes()) + "0001" + "0005" + "0201aa01bb" + "0040" + SigHex, H(sigs));
    }

    [Fact]
    public void Closing_complete_layout()
    {
        var message = new ClosingComplete
        {
            ChannelId = Cid,
            CloserScriptPubKey = new byte[] { 0x00, 0x14 },
            CloseeScriptPubKey = new byte[] { 0x51 },
            FeeSatoshis = new Satoshis(300),
            Locktime = 800_000,
            CloserAndCloseeOutputs = Sig,
        };
        Assert.Equal("0028" + CidHex + "0002" + "0014" + "0001" + "51" + "000000000000012c" + "000c3500" + "0340" + SigHex, H(message));
    }

    [Fact]
    public void Tx_init_rbf_signed_contribution_layout()
    {
        var message = new TxInitRbf(Cid, 1, 253) { FundingOutputContribution = -1, RequireConfirmedInputs = true };
        Assert.Equal("0048" + CidHex + "00000001" + "000000fd" + "0008ffffffffffffffff" + "0200", H(message));
    }

    [Fact]
    public void Channel_update_layout()
    {
        var message = new ChannelUpdate(Sig, ChainHash.Regtest, new ShortChannelId(1, 2, 3), 0x01020304, 1, 2, 144, new MilliSatoshi(1), 1000, 10, new MilliSatoshi(0xFFFF), ReadOnlyMemory<byte>.Empty);
        Assert.Equal(
            "0102" + SigHex + Convert.ToHexStringLower(ChainHash.Regtest.Value.ToArray()) + "0000010000020003" + "01020304" + "01" + "02" + "0090"
            + "0000000000000001" + "000003e8" + "0000000a" + "000000000000ffff",
            H(message));
        Assert.True(message.IsDisabled);
        Assert.False(message.DontForward);
        Assert.Equal(0, message.Direction);
    }

    [Fact]
    public void Funding_created_carries_the_txid_in_wire_order()
    {
        var txid = uint256.Parse("00000000000000000000000000000000000000000000000000000000000000ff");
        var message = new FundingCreated(Cid, txid, 1, Sig);
        Assert.Equal("0022" + CidHex + "ff" + new string('0', 62) + "0001" + SigHex, H(message));
    }
}
