using NBitcoin;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Gossip;

/// <summary>Signed gossip for test channels and a fake chain (<see cref="IUtxoLookup"/>) holding their funding outputs.</summary>
internal sealed class GossipTestNetwork : IUtxoLookup
{
    public static readonly DateTimeOffset Now = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public Dictionary<ShortChannelId, FundingOutputLookup> Chain { get; } = [];

    public bool Fail { get; set; }

    public int Lookups { get; private set; }

    public static uint NowUnix => (uint)Now.ToUnixTimeSeconds();

    public static Key NodeKey(int i) => new(Seeded(0x10, i));

    public static Key BitcoinKey(int i, int channel) => new(Seeded(0x20 + channel, i));

    private static byte[] Seeded(int tag, int i)
    {
        var bytes = new byte[32];
        bytes[0] = (byte)tag;
        bytes[30] = (byte)(i >> 8);
        bytes[31] = (byte)(i + 1);
        return bytes;
    }

    public static NodeId Id(int i) => new(NodeKey(i).PubKey);

    /// <summary>A signed announcement of a channel between nodes <paramref name="a"/> and <paramref name="b"/>, with its funding output on the fake chain.</summary>
    public ChannelAnnouncement Announce(int a, int b, ShortChannelId scid, long capacitySat = 1_000_000, bool onChain = true, byte[]? features = null)
    {
        var (n1, n2) = Id(a) < Id(b) ? (a, b) : (b, a);
        var channel = (int)(scid.Value % 200);
        var (bk1, bk2) = (BitcoinKey(n1, channel), BitcoinKey(n2, channel));
        var unsigned = new ChannelAnnouncement(default, default, default, default, features ?? [], ChainHash.Regtest, scid,
            Id(n1), Id(n2), new Point(bk1.PubKey), new Point(bk2.PubKey), Array.Empty<byte>());
        var signed = GossipSignatures.Sign(unsigned, NodeKey(n1), NodeKey(n2), bk1, bk2);
        if (onChain)
        {
            var script = Bolt3Scripts.Funding(bk1.PubKey, bk2.PubKey).WitHash.ScriptPubKey;
            Chain[scid] = new FundingOutputLookup(FundingOutputState.Unspent, OutPointOf(scid), new TxOut(Money.Satoshis(capacitySat), script));
        }
        return signed;
    }

    public static OutPoint OutPointOf(ShortChannelId scid) => new(new uint256(Seeded(0x77, (int)(scid.Value % 60_000))), scid.OutputIndex);

    /// <summary>A channel_update from node <paramref name="from"/> (direction from the announcement's ordering).</summary>
    public static ChannelUpdate Update(ChannelAnnouncement announcement, int from, uint timestamp, uint feeBase = 1000, bool disabled = false, ulong htlcMax = 500_000_000, Key? signer = null, ChainHash? chain = null)
    {
        var direction = announcement.NodeId1 == Id(from) ? 0 : 1;
        var unsigned = new ChannelUpdate(default, chain ?? ChainHash.Regtest, announcement.ShortChannelId, timestamp, 1,
            (byte)(direction | (disabled ? 2 : 0)), 40, new MilliSatoshi(1), feeBase, 10, new MilliSatoshi(htlcMax), Array.Empty<byte>());
        return GossipSignatures.Sign(unsigned, signer ?? NodeKey(from));
    }

    public static NodeAnnouncement NodeAnnouncement(int node, uint timestamp, string alias = "node", Key? signer = null)
    {
        var unsigned = new NodeAnnouncement(default, Array.Empty<byte>(), timestamp, Id(node), new RgbColor(1, 2, 3),
            Satflow.Lightning.Messages.NodeAnnouncement.EncodeAlias(alias), [], Array.Empty<byte>(), Array.Empty<byte>());
        return signer is null
            ? GossipSignatures.Sign(unsigned, NodeKey(node))
            : unsigned with { Signature = GossipSignatures.Sign(signer, GossipSignatures.NodeAnnouncementHash(unsigned)) };
    }

    public Task<FundingOutputLookup> LookupAsync(ShortChannelId shortChannelId, CancellationToken cancellationToken = default)
    {
        Lookups++;
        if (Fail)
        {
            throw new UtxoLookupException("backend down");
        }
        return Task.FromResult(Chain.TryGetValue(shortChannelId, out var found) ? found : FundingOutputLookup.Missing);
    }
}
