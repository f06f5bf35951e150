using System.Text.Json.Serialization;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>The node's channel graph and gossip state (<c>GET /v1/graph</c>, <c>satflow graph info</c>).</summary>
/// <param name="NodeCount">Nodes in the graph.</param>
/// <param name="ChannelCount">Channels in the graph (announced ones plus this node's own private ones).</param>
/// <param name="AnnouncedChannelCount">Channels learned from (or announced by) BOLT 7 gossip, validated against the chain.</param>
/// <param name="NodeAnnouncementCount">Node announcements held.</param>
/// <param name="OurAnnouncedChannels">This node's own channels that are announced.</param>
/// <param name="LastSyncAt">When a gossip sync with a peer last completed since the node started, if ever.</param>
/// <param name="SyncingPeers">Peers whose gossip sync is still running.</param>
public sealed record GraphInfo(
    int NodeCount,
    int ChannelCount,
    int AnnouncedChannelCount,
    int NodeAnnouncementCount,
    IReadOnlyList<ShortChannelId> OurAnnouncedChannels,
    DateTimeOffset? LastSyncAt,
    int SyncingPeers);

/// <summary>One node of the graph (<c>GET /v1/graph/nodes/{node_id}</c>).</summary>
/// <param name="NodeId">The node.</param>
/// <param name="Alias">Its announced alias, when it announced itself.</param>
/// <param name="Color">Its announced colour (<c>#rrggbb</c>).</param>
/// <param name="AnnouncedAt">Its node announcement's timestamp.</param>
/// <param name="Addresses">Its announced addresses (<c>host:port</c>).</param>
/// <param name="Channels">Its channels in the graph.</param>
public sealed record GraphNodeInfo(
    NodeId NodeId,
    string? Alias,
    string? Color,
    DateTimeOffset? AnnouncedAt,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<GraphChannelInfo> Channels);

/// <summary>One channel of the graph.</summary>
/// <param name="ShortChannelId">The channel.</param>
/// <param name="Node1">The lesser node id (direction 0 starts there).</param>
/// <param name="Node2">The other node.</param>
/// <param name="Capacity">The funding amount.</param>
/// <param name="Policy1">Node 1's forwarding policy (direction 0), if known.</param>
/// <param name="Policy2">Node 2's forwarding policy (direction 1), if known.</param>
public sealed record GraphChannelInfo(
    ShortChannelId ShortChannelId,
    NodeId Node1,
    NodeId Node2,
    [property: JsonPropertyName("capacity_sat")] Money Capacity,
    GraphPolicyInfo? Policy1,
    GraphPolicyInfo? Policy2);

/// <summary>A direction's forwarding policy (the fields of its latest <c>channel_update</c>).</summary>
/// <param name="FeeBase">The base fee.</param>
/// <param name="FeeProportionalMillionths">The proportional fee.</param>
/// <param name="CltvExpiryDelta">The CLTV delta.</param>
/// <param name="HtlcMinimum">The smallest HTLC forwarded.</param>
/// <param name="HtlcMaximum">The largest HTLC forwarded.</param>
/// <param name="Disabled">The direction is announced as disabled.</param>
/// <param name="UpdatedAt">The update's timestamp.</param>
public sealed record GraphPolicyInfo(
    [property: JsonPropertyName("fee_base_msat")] MilliSatoshi FeeBase,
    uint FeeProportionalMillionths,
    ushort CltvExpiryDelta,
    [property: JsonPropertyName("htlc_minimum_msat")] MilliSatoshi HtlcMinimum,
    [property: JsonPropertyName("htlc_maximum_msat")] MilliSatoshi HtlcMaximum,
    bool Disabled,
    DateTimeOffset UpdatedAt);
