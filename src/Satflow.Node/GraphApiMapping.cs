using NBitcoin;
using Satflow.Lightning.Routing;
using Satflow.Node.Api;

namespace Satflow.Node;

/// <summary>Maps the node's graph summaries to the admin API models.</summary>
internal static class GraphApiMapping
{
    public static GraphInfo ToApi(GraphSummary summary) => new(summary.NodeCount, summary.ChannelCount, summary.AnnouncedChannelCount,
        summary.NodeAnnouncementCount, summary.OurAnnouncedChannels, summary.LastSync, summary.SyncingPeers);

    public static GraphNodeInfo ToApi(GraphNodeSummary node) => new(node.NodeId, node.Alias, node.Color, node.AnnouncedAt, node.Addresses,
        [.. node.Channels.OrderBy(c => c.ShortChannelId).Select(ToApi)]);

    private static GraphChannelInfo ToApi(Lightning.Routing.ChannelInfo channel) => new(channel.ShortChannelId, channel.Node1, channel.Node2,
        Money.Satoshis((long)(channel.Capacity.Value / 1000)), ToApi(channel.Policy1), ToApi(channel.Policy2));

    private static GraphPolicyInfo? ToApi(ChannelPolicy? policy) => policy is not { } p
        ? null
        : new GraphPolicyInfo(new Lightning.Types.MilliSatoshi(p.FeeBaseMsat), p.FeeProportionalMillionths, p.CltvExpiryDelta, p.HtlcMinimum, p.HtlcMaximum,
            p.Disabled, DateTimeOffset.FromUnixTimeSeconds(p.Timestamp));
}
