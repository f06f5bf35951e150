using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Harness;

/// <summary>
/// Seeded random connected topologies with a realistic (heavy-tailed) degree distribution: preferential attachment
/// (Barabási–Albert), as the public Lightning graph has a few hubs and many nodes with two or three channels.
/// </summary>
public static class RandomTopology
{
    /// <summary>
    /// Nodes 0..<paramref name="linksPerNode"/> form a ring; every later node funds <paramref name="linksPerNode"/>
    /// channels to distinct earlier nodes picked with probability proportional to their degree. Capacities are uniform
    /// in [<paramref name="minCapacity"/>, <paramref name="maxCapacity"/>]; the funder pushes half of each channel to the
    /// fundee so both directions have liquidity. Connected by construction.
    /// </summary>
    public static IReadOnlyList<ChannelSpec> PreferentialAttachment(int count, int linksPerNode, Money minCapacity, Money maxCapacity, Random random)
    {
        ArgumentNullException.ThrowIfNull(minCapacity);
        ArgumentNullException.ThrowIfNull(maxCapacity);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(linksPerNode, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, linksPerNode + 2);
        var specs = new List<ChannelSpec>();
        // Every channel end appears once in this list: a uniform pick from it is a degree-proportional pick of a node.
        var ends = new List<int>();
        void Add(int funder, int fundee)
        {
            var capacity = Money.Satoshis(random.NextInt64(minCapacity.Satoshi, maxCapacity.Satoshi + 1));
            specs.Add(new ChannelSpec(funder, fundee, capacity, new MilliSatoshi(checked((ulong)capacity.Satoshi * 500))));
            ends.Add(funder);
            ends.Add(fundee);
        }
        var seedNodes = linksPerNode + 1;
        for (var i = 0; i < seedNodes; i++)
        {
            Add(i, (i + 1) % seedNodes);
            if (seedNodes == 2)
            {
                break;
            }
        }
        for (var node = seedNodes; node < count; node++)
        {
            var targets = new HashSet<int>();
            while (targets.Count < linksPerNode)
            {
                targets.Add(ends[random.Next(ends.Count)]);
            }
            foreach (var target in targets.Order())
            {
                Add(node, target);
            }
        }
        return specs;
    }

    /// <summary>The fewest channels between two nodes (breadth-first search; -1 when unreachable).</summary>
    public static int HopDistance(IEnumerable<ChannelSpec> specs, int from, int to)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var adjacency = new Dictionary<int, List<int>>();
        foreach (var s in specs)
        {
            (adjacency.TryGetValue(s.Funder, out var a) ? a : adjacency[s.Funder] = []).Add(s.Fundee);
            (adjacency.TryGetValue(s.Fundee, out var b) ? b : adjacency[s.Fundee] = []).Add(s.Funder);
        }
        var distance = new Dictionary<int, int> { [from] = 0 };
        var queue = new Queue<int>([from]);
        while (queue.TryDequeue(out var node))
        {
            if (node == to)
            {
                return distance[node];
            }
            foreach (var next in adjacency.GetValueOrDefault(node) ?? [])
            {
                if (distance.TryAdd(next, distance[node] + 1))
                {
                    queue.Enqueue(next);
                }
            }
        }
        return -1;
    }
}
