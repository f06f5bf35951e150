using NBitcoin;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Gossip.GossipTestNetwork;

namespace Satflow.Lightning.Tests.Gossip;

public sealed class GossipStoreTests
{
    private static readonly ShortChannelId Scid = new(500, 3, 1);
    private readonly GossipTestNetwork _net = new();
    private readonly GossipStore _store = new(ChainHash.Regtest);

    private async Task<ChannelAnnouncement> AnnouncedAsync(int a = 1, int b = 2, ShortChannelId? scid = null)
    {
        var ann = _net.Announce(a, b, scid ?? Scid);
        Assert.Equal(GossipVerdict.Accepted, await _store.AddChannelAnnouncementAsync(ann, _net, Now));
        return ann;
    }

    [Fact]
    public async Task Valid_announcement_is_stored_with_the_funding_output_value_as_capacity_and_reaches_the_graph()
    {
        var ann = _net.Announce(1, 2, Scid, capacitySat: 750_000);
        Assert.Equal(GossipVerdict.Accepted, await _store.AddChannelAnnouncementAsync(ann, _net, Now));
        Assert.True(_store.TryGetChannel(Scid, out var stored));
        Assert.Equal(Money.Satoshis(750_000), stored.Capacity);
        Assert.True(_store.Graph.TryGetChannel(Scid, out var info));
        Assert.Equal(MilliSatoshi.FromSatoshis(750_000), info.Capacity);
        Assert.Equal(2, _store.NodeCount);
        Assert.Equal(GossipVerdict.Duplicate, await _store.AddChannelAnnouncementAsync(ann, _net, Now));
        Assert.Equal(1, _net.Lookups); // a duplicate does not ask the chain again
    }

    [Fact]
    public async Task Announcement_rejections_are_typed()
    {
        var good = _net.Announce(1, 2, Scid);
        Assert.Equal(GossipVerdict.WrongChain, await _store.AddChannelAnnouncementAsync(good with { ChainHash = ChainHash.Bitcoin }, _net, Now));
        Assert.Equal(GossipVerdict.NodeIdsNotOrdered, await _store.AddChannelAnnouncementAsync(good with { NodeId1 = good.NodeId2, NodeId2 = good.NodeId1 }, _net, Now));
        Assert.Equal(GossipVerdict.NodeIdsNotOrdered, await _store.AddChannelAnnouncementAsync(good with { NodeId2 = good.NodeId1 }, _net, Now));
        Assert.Equal(GossipVerdict.InvalidSignature, await _store.AddChannelAnnouncementAsync(good with { BitcoinSignature2 = good.BitcoinSignature1 }, _net, Now));
        Assert.Equal(GossipVerdict.InvalidSignature, await _store.AddChannelAnnouncementAsync(good with { ExtraData = new byte[] { 1 } }, _net, Now));
        var required = _net.Announce(1, 2, new ShortChannelId(501, 0, 0), features: [0x01]);
        Assert.Equal(GossipVerdict.UnknownRequiredFeature, await _store.AddChannelAnnouncementAsync(required, _net, Now));
        var optional = _net.Announce(1, 2, new ShortChannelId(502, 0, 0), features: [0x02]);
        Assert.Equal(GossipVerdict.Accepted, await _store.AddChannelAnnouncementAsync(optional, _net, Now));
        Assert.Equal(0, _net.Lookups - 1);
        Assert.False(_store.TryGetChannel(Scid, out _));
    }

    [Fact]
    public async Task Announcement_is_checked_against_the_chain()
    {
        var missing = _net.Announce(1, 2, new ShortChannelId(600, 1, 0), onChain: false);
        Assert.Equal(GossipVerdict.FundingOutputMissing, await _store.AddChannelAnnouncementAsync(missing, _net, Now));

        var spent = _net.Announce(1, 3, new ShortChannelId(601, 1, 0));
        _net.Chain[spent.ShortChannelId] = new FundingOutputLookup(FundingOutputState.Spent, OutPointOf(spent.ShortChannelId));
        Assert.Equal(GossipVerdict.FundingOutputSpent, await _store.AddChannelAnnouncementAsync(spent, _net, Now));

        var wrongScript = _net.Announce(1, 4, new ShortChannelId(602, 1, 0));
        var output = _net.Chain[wrongScript.ShortChannelId];
        _net.Chain[wrongScript.ShortChannelId] = output with { Output = new TxOut(output.Output!.Value, new Key().PubKey.WitHash.ScriptPubKey) };
        Assert.Equal(GossipVerdict.FundingScriptMismatch, await _store.AddChannelAnnouncementAsync(wrongScript, _net, Now));

        // The 2-of-2 of other keys (e.g. keys swapped with another channel's) is a mismatch too.
        var other = _net.Announce(1, 5, new ShortChannelId(603, 1, 0));
        _net.Chain[other.ShortChannelId] = _net.Chain[new ShortChannelId(602, 1, 0)] with { Output = _net.Announce(2, 3, new ShortChannelId(604, 0, 0)) is { } x ? _net.Chain[x.ShortChannelId].Output : null };
        Assert.Equal(GossipVerdict.FundingScriptMismatch, await _store.AddChannelAnnouncementAsync(other, _net, Now));

        var down = _net.Announce(1, 6, new ShortChannelId(605, 1, 0));
        _net.Fail = true;
        Assert.Equal(GossipVerdict.ChainUnavailable, await _store.AddChannelAnnouncementAsync(down, _net, Now));
        _net.Fail = false;
        Assert.Equal(GossipVerdict.Accepted, await _store.AddChannelAnnouncementAsync(down, _net, Now));
        Assert.Equal(1, _store.ChannelCount);
    }

    [Fact]
    public async Task Channel_updates_set_both_directions_in_the_graph_and_newer_ones_replace_older()
    {
        var ann = await AnnouncedAsync();
        var t = NowUnix - 100;
        Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 1, t, feeBase: 5), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 2, t, feeBase: 7, disabled: true), Now));
        Assert.True(_store.Graph.TryGetChannel(Scid, out var info));
        var from1 = info.Node1 == Id(1) ? info.Policy1 : info.Policy2;
        var from2 = info.Node1 == Id(2) ? info.Policy1 : info.Policy2;
        Assert.Equal(5u, from1!.Value.FeeBaseMsat);
        Assert.Equal(7u, from2!.Value.FeeBaseMsat);
        Assert.True(from2.Value.Disabled);

        Assert.Equal(GossipVerdict.Duplicate, _store.AddChannelUpdate(Update(ann, 1, t, feeBase: 5), Now));
        Assert.Equal(GossipVerdict.Outdated, _store.AddChannelUpdate(Update(ann, 1, t, feeBase: 6), Now));
        Assert.Equal(GossipVerdict.Outdated, _store.AddChannelUpdate(Update(ann, 1, t - 1, feeBase: 6), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 1, t + 1, feeBase: 9), Now));
        Assert.True(_store.Graph.TryGetChannel(Scid, out info));
        Assert.Equal(9u, (info.Node1 == Id(1) ? info.Policy1 : info.Policy2)!.Value.FeeBaseMsat);
    }

    [Fact]
    public async Task Channel_update_rejections_are_typed()
    {
        var ann = _net.Announce(1, 2, Scid);
        Assert.Equal(GossipVerdict.UnknownChannel, _store.AddChannelUpdate(Update(ann, 1, NowUnix), Now));
        await _store.AddChannelAnnouncementAsync(ann, _net, Now);
        Assert.Equal(GossipVerdict.WrongChain, _store.AddChannelUpdate(Update(ann, 1, NowUnix, chain: ChainHash.Bitcoin), Now));
        Assert.Equal(GossipVerdict.InvalidSignature, _store.AddChannelUpdate(Update(ann, 1, NowUnix, signer: NodeKey(2)), Now));
        Assert.Equal(GossipVerdict.InvalidSignature, _store.AddChannelUpdate(Update(ann, 1, NowUnix) with { FeeBaseMsat = 1 }, Now));
        Assert.Equal(GossipVerdict.TimestampInFuture, _store.AddChannelUpdate(Update(ann, 1, NowUnix + 7200), Now));
        Assert.Equal(GossipVerdict.TimestampTooOld, _store.AddChannelUpdate(Update(ann, 1, NowUnix - (15 * 86400)), Now));
        Assert.Equal(GossipVerdict.InvalidHtlcLimits, _store.AddChannelUpdate(Update(ann, 1, NowUnix, htlcMax: 1_000_000_001), Now));
        Assert.Equal(GossipVerdict.InvalidHtlcLimits, _store.AddChannelUpdate(Update(ann, 1, NowUnix, htlcMax: 0), Now));
        Assert.True(_store.TryGetChannel(Scid, out var stored));
        Assert.Null(stored.Update1);
        Assert.Null(stored.Update2);
    }

    [Fact]
    public async Task Updates_of_one_direction_are_rate_limited_by_a_token_bucket()
    {
        var ann = await AnnouncedAsync();
        var t = NowUnix - 1000;
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 1, t + (uint)i), Now));
        }
        Assert.Equal(GossipVerdict.RateLimited, _store.AddChannelUpdate(Update(ann, 1, t + 3), Now));
        // The other direction has its own bucket; our own updates are never limited.
        Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 2, t), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 1, t + 4), Now, local: true));
        // One token comes back per minute.
        Assert.Equal(GossipVerdict.RateLimited, _store.AddChannelUpdate(Update(ann, 1, t + 5), Now.AddSeconds(59)));
        Assert.Equal(GossipVerdict.Accepted, _store.AddChannelUpdate(Update(ann, 1, t + 6), Now.AddSeconds(60)));
        Assert.Equal(GossipVerdict.RateLimited, _store.AddChannelUpdate(Update(ann, 1, t + 7), Now.AddSeconds(61)));
        Assert.True(_store.TryGetChannel(Scid, out var stored));
        Assert.Equal(t + 6, stored.Update1 is { } u && ann.NodeId1 == Id(1) ? u.Timestamp : stored.Update2!.Timestamp);
    }

    [Fact]
    public async Task Node_announcements_need_a_channel_a_valid_signature_and_a_newer_timestamp()
    {
        Assert.Equal(GossipVerdict.NodeWithoutChannel, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix), Now));
        await AnnouncedAsync();
        Assert.Equal(GossipVerdict.InvalidSignature, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix, signer: NodeKey(2)), Now));
        Assert.Equal(GossipVerdict.TimestampInFuture, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix + 7200), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix - 10, "alice"), Now));
        Assert.Equal(GossipVerdict.Duplicate, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix - 10, "alice"), Now));
        Assert.Equal(GossipVerdict.Outdated, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix - 10, "bob"), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix - 5, "alice2"), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix - 4, "alice3"), Now));
        Assert.Equal(GossipVerdict.RateLimited, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix - 3, "alice4"), Now));
        Assert.True(_store.TryGetNodeAnnouncement(Id(1), out var stored));
        Assert.Equal("alice3", stored.AliasText);
    }

    [Fact]
    public async Task A_block_spending_the_funding_output_removes_the_channel_and_its_lonely_nodes()
    {
        var ann = await AnnouncedAsync();
        await AnnouncedAsync(2, 3, new ShortChannelId(501, 0, 0));
        _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix), Now);
        _store.AddNodeAnnouncement(NodeAnnouncement(2, NowUnix), Now);
        _store.TakeChanges();
        var spend = Network.RegTest.CreateTransaction();
        spend.Inputs.Add(new TxIn(new OutPoint(uint256.One, 0)));
        Assert.Empty(_store.BlockConnected([spend]));
        spend.Inputs.Add(new TxIn(OutPointOf(ann.ShortChannelId)));
        Assert.Equal([Scid], _store.BlockConnected([spend]));
        Assert.False(_store.TryGetChannel(Scid, out _));
        Assert.False(_store.Graph.TryGetChannel(Scid, out _));
        Assert.False(_store.TryGetNodeAnnouncement(Id(1), out _)); // node 1 has no channel left
        Assert.True(_store.TryGetNodeAnnouncement(Id(2), out _));
        var changes = _store.TakeChanges();
        Assert.Equal([Scid], changes.RemovedChannels);
        Assert.Equal([Id(1)], changes.RemovedNodes);
        Assert.True(_store.TakeChanges().IsEmpty);
    }

    [Fact]
    public async Task Channels_whose_updates_are_two_weeks_old_are_pruned()
    {
        var fresh = await AnnouncedAsync(1, 2, new ShortChannelId(500, 0, 0));
        var halfStale = await AnnouncedAsync(1, 3, new ShortChannelId(500, 1, 0));
        var stale = await AnnouncedAsync(1, 4, new ShortChannelId(500, 2, 0));
        await AnnouncedAsync(1, 5, new ShortChannelId(500, 3, 0)); // no update at all: aged by its announcement time
        _store.AddChannelUpdate(Update(fresh, 1, NowUnix), Now);
        _store.AddChannelUpdate(Update(halfStale, 1, NowUnix - (13 * 86400)), Now);
        _store.AddChannelUpdate(Update(halfStale, 3, NowUnix), Now);
        _store.AddChannelUpdate(Update(stale, 1, NowUnix - (13 * 86400)), Now);
        _store.AddChannelUpdate(Update(stale, 4, NowUnix - (13 * 86400)), Now);
        Assert.Empty(_store.PruneStale(Now.AddDays(1)));
        var pruned = _store.PruneStale(Now.AddDays(2), keep: s => s == new ShortChannelId(500, 3, 0));
        Assert.Equal([stale.ShortChannelId], pruned);
        Assert.True(_store.TryGetChannel(fresh.ShortChannelId, out _));
        Assert.True(_store.TryGetChannel(halfStale.ShortChannelId, out _));
        // Two weeks after the announcement, the channel without updates goes too (and, by then, every other one).
        Assert.Equal([fresh.ShortChannelId, halfStale.ShortChannelId, new ShortChannelId(500, 3, 0)], _store.PruneStale(Now.AddDays(15)));
        Assert.Equal(0, _store.ChannelCount);
    }

    [Fact]
    public async Task Local_channels_skip_the_chain_but_not_the_signatures()
    {
        var ann = _net.Announce(1, 2, Scid, onChain: false);
        Assert.Equal(GossipVerdict.InvalidSignature, _store.AddLocalChannel(ann with { NodeSignature1 = ann.NodeSignature2 }, Money.Satoshis(10_000), OutPointOf(Scid), Now));
        Assert.Equal(GossipVerdict.Accepted, _store.AddLocalChannel(ann, Money.Satoshis(10_000), OutPointOf(Scid), Now));
        Assert.Equal(0, _net.Lookups);
    }

    [Fact]
    public void Verdict_classification()
    {
        Assert.True(GossipVerdict.Accepted.IsAccepted());
        Assert.True(GossipVerdict.InvalidSignature.IsMisbehaviour());
        Assert.False(GossipVerdict.Outdated.IsMisbehaviour());
        Assert.False(GossipVerdict.RateLimited.IsAccepted());
    }

    [Fact]
    public async Task Invalid_public_keys_are_malformed_not_an_exception()
    {
        var ann = _net.Announce(1, 2, Scid);
        Assert.Equal(GossipVerdict.Malformed, await _store.AddChannelAnnouncementAsync(ann with { BitcoinKey1 = default }, _net, Now));
        Assert.Equal(GossipVerdict.NodeIdsNotOrdered, await _store.AddChannelAnnouncementAsync(ann with { NodeId2 = default }, _net, Now));
        await _store.AddChannelAnnouncementAsync(ann, _net, Now);
        Assert.Equal(GossipVerdict.NodeWithoutChannel, _store.AddNodeAnnouncement(NodeAnnouncement(1, NowUnix) with { NodeId = default }, Now));
    }
}
