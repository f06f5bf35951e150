using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node;

namespace Satflow.Lightning.Harness;

/// <summary>One channel of a topology: who funded it, the other end, and what the chain says about it.</summary>
/// <param name="Funder">The index of the funder.</param>
/// <param name="Fundee">The index of the other end.</param>
/// <param name="ChannelId">The channel id.</param>
/// <param name="ShortChannelId">The short channel id (the funding transaction's place in the chain).</param>
/// <param name="Capacity">The funding amount.</param>
public sealed record TopologyChannel(int Funder, int Fundee, ChannelId ChannelId, ShortChannelId ShortChannelId, Money Capacity)
{
    /// <summary>Whether the channel joins <paramref name="a"/> and <paramref name="b"/> (either order).</summary>
    public bool Joins(int a, int b) => (Funder == a && Fundee == b) || (Funder == b && Fundee == a);
}

/// <summary>A channel to open: funder, fundee, capacity and what the funder pushes to the fundee at open.</summary>
/// <param name="Funder">The index of the funder.</param>
/// <param name="Fundee">The index of the fundee.</param>
/// <param name="Capacity">The funding amount.</param>
/// <param name="Push">What the funder gives the fundee at open.</param>
public sealed record ChannelSpec(int Funder, int Fundee, Money Capacity, MilliSatoshi Push = default);

/// <summary>An in-process network of <see cref="LightningHarness"/> nodes with its channels open and every node's graph filled.</summary>
public sealed class HarnessTopology : IAsyncDisposable
{
    internal HarnessTopology(LightningHarness harness, IReadOnlyList<TopologyChannel> channels)
    {
        Harness = harness;
        Channels = channels;
    }

    /// <summary>The harness (nodes, chain, clock, delivery).</summary>
    public LightningHarness Harness { get; }

    /// <summary>The channels, in the order they were opened.</summary>
    public IReadOnlyList<TopologyChannel> Channels { get; }

    /// <summary>Node <paramref name="index"/>.</summary>
    public HarnessNode this[int index] => Harness[index];

    /// <summary>The channel between two nodes.</summary>
    /// <exception cref="InvalidOperationException">No channel joins them.</exception>
    public TopologyChannel Between(int a, int b) =>
        Channels.FirstOrDefault(c => c.Joins(a, b)) ?? throw new InvalidOperationException($"No channel between node{a} and node{b}.");

    /// <summary>What node <paramref name="node"/> holds in its channel with <paramref name="peer"/> (its latest commitment, HTLCs excluded).</summary>
    public MilliSatoshi LocalBalance(int node, int peer) =>
        Harness[node].Node.GetChannel(Between(node, peer).ChannelId)?.LocalBalance ?? throw new InvalidOperationException($"node{node} no longer has its channel with node{peer}.");

    /// <summary>
    /// Fills every running node's <see cref="LightningNode.Graph"/> with every channel of the topology and the policy
    /// each end announces (its <see cref="NodeOptions.DefaultForwardingPolicy"/>), as gossip would.
    /// <paramref name="advertised"/> may replace what a given end announces (e.g. a node that lies about its fees).
    /// </summary>
    public void FillGraphs(Func<int, TopologyChannel, ChannelPolicy, ChannelPolicy>? advertised = null)
    {
        foreach (var node in Harness.Nodes.Where(n => n.IsRunning))
        {
            Topologies.FillGraph(node.Node.Graph, Channels, i => Harness[i].NodeId, Harness.Options.Node.DefaultForwardingPolicy, advertised);
        }
    }

    /// <summary>Every pending HTLC on any channel of a running node (what "no HTLC stuck" checks).</summary>
    public int PendingHtlcCount() =>
        Harness.Nodes.Where(n => n.IsRunning).Sum(n => n.Node.ListChannels().Sum(c => c.PendingHtlcs));

    /// <summary>
    /// Delivers queued messages one at a time (flushing every node when none is queued) and stops right after
    /// delivering the first message <paramref name="stopAfter"/> accepts: a way to freeze the network mid-payment.
    /// </summary>
    /// <exception cref="InvalidOperationException">The network went quiet first.</exception>
    public async Task<(NodeId From, NodeId To, Messages.LightningMessage Message)> StepUntilAsync(Func<(NodeId From, NodeId To, Messages.LightningMessage Message), bool> stopAfter, int maxMessages = 100_000)
    {
        ArgumentNullException.ThrowIfNull(stopAfter);
        var network = Harness.Network;
        for (var i = 0; i < maxMessages; i++)
        {
            var seen = network.Delivered.Count;
            if (!await network.DeliverOneAsync().ConfigureAwait(false))
            {
                var signed = 0;
                foreach (var node in Harness.Nodes.Where(n => n.IsRunning))
                {
                    signed += await node.Node.FlushAsync().ConfigureAwait(false);
                }
                if (signed == 0 && network.PendingCount == 0)
                {
                    throw new InvalidOperationException("The network went quiet before the awaited message was delivered.");
                }
                continue;
            }
            if (network.Delivered.Count > seen && stopAfter(network.Delivered[^1]))
            {
                return network.Delivered[^1];
            }
        }
        throw new InvalidOperationException($"No awaited message in {maxMessages} deliveries.");
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Harness.DisposeAsync();
}

/// <summary>
/// Builders of multi-node topologies on the in-process harness: a line (0 → 1 → … → n-1) and a diamond (two
/// branches from node 0 that meet again before the last node), channels opened in one funding block and confirmed
/// together, each node's routing graph filled from the known topology.
/// </summary>
public static class Topologies
{
    /// <summary>
    /// A line of <paramref name="count"/> nodes: node i funds a channel of <paramref name="capacity"/> to node i+1 (all
    /// the liquidity on the funder's side, so payments flow from node 0 towards the end).
    /// </summary>
    public static async Task<HarnessTopology> CreateLineAsync(int count, Money capacity, HarnessOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        var specs = Enumerable.Range(0, count - 1).Select(i => new ChannelSpec(i, i + 1, capacity)).ToList();
        return await CreateAsync(count, specs, options).ConfigureAwait(false);
    }

    /// <summary>
    /// A diamond: node 0 opens two branches of <paramref name="branchLength"/> forwarding nodes each that both reach the
    /// meeting node, which has a channel to the last node (the payee). With branch length 2: 0 → 1 → 2 → 5 and
    /// 0 → 3 → 4 → 5, then 5 → 6 (7 nodes). <paramref name="upper"/> and <paramref name="lower"/> are the capacities of
    /// the two branches' channels, <paramref name="tail"/> that of the meeting node's channel to the payee.
    /// </summary>
    public static async Task<HarnessTopology> CreateDiamondAsync(int branchLength, Money upper, Money lower, Money tail, HarnessOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(branchLength, 1);
        var meet = (2 * branchLength) + 1;
        var payee = meet + 1;
        var specs = new List<ChannelSpec>();
        foreach (var (first, capacity) in new[] { (1, upper), (1 + branchLength, lower) })
        {
            var previous = 0;
            for (var i = 0; i < branchLength; i++)
            {
                specs.Add(new ChannelSpec(previous, first + i, capacity));
                previous = first + i;
            }
            specs.Add(new ChannelSpec(previous, meet, capacity));
        }
        specs.Add(new ChannelSpec(meet, payee, tail));
        return await CreateAsync(payee + 1, specs, options).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates <paramref name="count"/> harness nodes (each wallet holding enough coins for the channels it funds),
    /// opens every channel of <paramref name="specs"/> (all fundings in one block), confirms them to the minimum depth,
    /// checks each is normal on both sides and fills every node's graph.
    /// </summary>
    public static async Task<HarnessTopology> CreateAsync(int count, IReadOnlyList<ChannelSpec> specs, HarnessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(specs);
        options ??= new HarnessOptions();
        var mostFunded = specs.GroupBy(s => s.Funder).Select(g => g.Count()).DefaultIfEmpty(0).Max();
        options = options with { WalletCoins = Math.Max(options.WalletCoins, mostFunded) };
        var harness = await LightningHarness.CreateAsync(count, options).ConfigureAwait(false);
        try
        {
            var channels = await OpenChannelsAsync(harness, specs).ConfigureAwait(false);
            var topology = new HarnessTopology(harness, channels);
            topology.FillGraphs();
            return topology;
        }
        catch
        {
            await harness.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens channels between harness nodes: every funding transaction is broadcast first, then one round of
    /// <see cref="NodeOptions.MinimumDepth"/> blocks confirms them all; returns them with their short channel ids.
    /// </summary>
    public static async Task<IReadOnlyList<TopologyChannel>> OpenChannelsAsync(LightningHarness harness, IReadOnlyList<ChannelSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(harness);
        ArgumentNullException.ThrowIfNull(specs);
        var opened = new List<(ChannelSpec Spec, ChannelId ChannelId)>();
        foreach (var spec in specs)
        {
            var funder = harness[spec.Funder];
            var fundee = harness[spec.Fundee];
            if (!harness.Network.AreConnected(funder.NodeId, fundee.NodeId))
            {
                await harness.ConnectAsync(funder, fundee).ConfigureAwait(false);
            }
            var temporary = await funder.Node.OpenChannelAsync(fundee.NodeId, spec.Capacity, spec.Push).ConfigureAwait(false);
            await harness.SettleAsync().ConfigureAwait(false);
            opened.Add((spec, await funder.Node.WaitForChannelAsync(temporary).ConfigureAwait(false)));
        }
        await harness.MineBlocksAsync((int)harness.Options.Node.MinimumDepth).ConfigureAwait(false);
        var result = new List<TopologyChannel>();
        foreach (var (spec, channelId) in opened)
        {
            var a = harness[spec.Funder].Node.GetChannel(channelId);
            var b = harness[spec.Fundee].Node.GetChannel(channelId);
            if (a is not { State: ChannelState.Normal, ShortChannelId: { } scid } || b is not { State: ChannelState.Normal })
            {
                throw new InvalidOperationException($"Channel node{spec.Funder} → node{spec.Fundee} is {a?.State} / {b?.State} after {harness.Options.Node.MinimumDepth} confirmations.");
            }
            result.Add(new TopologyChannel(spec.Funder, spec.Fundee, channelId, scid, spec.Capacity));
        }
        return result;
    }

    /// <summary>The routing policy a node announces for its channels, from its forwarding policy and the channel's capacity.</summary>
    public static ChannelPolicy PolicyOf(ForwardingPolicy policy, Money capacity)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(capacity);
        var capacityMsat = new MilliSatoshi(checked((ulong)capacity.Satoshi * 1000));
        return new ChannelPolicy(
            checked((uint)policy.BaseFee.Value),
            policy.FeeProportionalMillionths,
            policy.CltvExpiryDelta,
            policy.HtlcMinimum,
            policy.HtlcMaximum is { } max && max.Value < capacityMsat.Value ? max : capacityMsat,
            Disabled: false,
            Timestamp: 1);
    }

    /// <summary>
    /// Adds every channel and both directions' policies to <paramref name="graph"/> (what gossip would have taught the
    /// node). <paramref name="nodeId"/> maps an index to its node id; <paramref name="advertised"/> may replace what
    /// the end with the given index announces.
    /// </summary>
    public static void FillGraph(NetworkGraph graph, IEnumerable<TopologyChannel> channels, Func<int, NodeId> nodeId, ForwardingPolicy policy, Func<int, TopologyChannel, ChannelPolicy, ChannelPolicy>? advertised = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(nodeId);
        foreach (var channel in channels)
        {
            graph.AddChannel(channel.ShortChannelId, nodeId(channel.Funder), nodeId(channel.Fundee), new MilliSatoshi(checked((ulong)channel.Capacity.Satoshi * 1000)));
            foreach (var end in new[] { channel.Funder, channel.Fundee })
            {
                var announced = PolicyOf(policy, channel.Capacity);
                if (advertised is not null)
                {
                    announced = advertised(end, channel, announced);
                }
                graph.UpdatePolicy(channel.ShortChannelId, nodeId(end), announced);
            }
        }
    }
}
