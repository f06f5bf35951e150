using System.Security.Cryptography;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Routing;

/// <summary>
/// A deterministic synthetic Lightning graph shaped like the public network: preferential attachment gives a power-law
/// degree distribution (many nodes with one or two channels, a few hubs with hundreds), capacities are log-normal
/// around 2M sat, fees mostly base 0 or 1000 msat with a log-uniform proportional part, CLTV deltas from the common
/// defaults, a couple of percent of directions disabled.
/// </summary>
public static class SyntheticNetwork
{
    /// <summary>Builds the graph and returns it with its node ids (index order of creation).</summary>
    public static (NetworkGraph Graph, NodeId[] Nodes) Generate(int nodeCount = 15_000, int channelCount = 50_000, int seed = 20261126)
    {
        var rng = new Random(seed);
        var nodes = MakeIds(nodeCount, seed);
        var graph = new NetworkGraph();
        var endpoints = new List<int>(channelCount * 2); // each node appears once per channel: picking uniformly is picking by degree
        var scid = 0UL;
        var core = Math.Min(10, nodeCount);

        void Connect(int a, int b)
        {
            scid++;
            var id = new ShortChannelId(700_000 + (uint)(scid / 1000), (uint)(scid % 1000), 0);
            var capacitySat = (ulong)Math.Clamp(Math.Exp(Normal(rng, Math.Log(2_000_000), 1.3)), 20_000, 500_000_000);
            graph.AddChannel(id, nodes[a], nodes[b], MilliSatoshi.FromSatoshis(capacitySat));
            graph.UpdatePolicy(id, nodes[a], RandomPolicy(rng, capacitySat));
            graph.UpdatePolicy(id, nodes[b], RandomPolicy(rng, capacitySat));
            endpoints.Add(a);
            endpoints.Add(b);
        }

        for (var a = 0; a < core; a++)
        {
            for (var b = a + 1; b < core; b++)
            {
                Connect(a, b);
            }
        }

        // Each newcomer opens m channels to nodes picked by degree; m is 1 for ~40% of nodes and heavy-tailed above.
        var averageNew = (double)(channelCount - (int)scid) / Math.Max(1, nodeCount - core);
        for (var n = core; n < nodeCount && (int)scid < channelCount; n++)
        {
            var m = rng.NextDouble() < 0.4 ? 1 : 1 + (int)Math.Round(-Math.Log(1 - rng.NextDouble()) * ((averageNew - 0.4) / 0.6 - 1));
            m = Math.Clamp(m, 1, 200);
            for (var k = 0; k < m && (int)scid < channelCount; k++)
            {
                var peer = endpoints[rng.Next(endpoints.Count)];
                if (peer != n)
                {
                    Connect(n, peer);
                }
            }
        }

        // Top up to the channel count with channels between existing nodes, again by degree on one side.
        while ((int)scid < channelCount)
        {
            var a = endpoints[rng.Next(endpoints.Count)];
            var b = rng.Next(nodeCount);
            if (a != b)
            {
                Connect(a, b);
            }
        }

        return (graph, nodes);
    }

    private static ChannelPolicy RandomPolicy(Random rng, ulong capacitySat)
    {
        var r = rng.NextDouble();
        var baseFee = r < 0.35 ? 0u : r < 0.9 ? 1000u : (uint)rng.Next(0, 5000);
        var ppm = (uint)Math.Round(Math.Exp(rng.NextDouble() * Math.Log(2500)));
        ushort[] deltas = [18, 34, 40, 40, 80, 144, 144];
        var htlcMax = MilliSatoshi.FromSatoshis(capacitySat * 99 / 100);
        return new ChannelPolicy(baseFee, ppm, deltas[rng.Next(deltas.Length)], new MilliSatoshi(1000), htlcMax, rng.NextDouble() < 0.02, 1);
    }

    private static double Normal(Random rng, double mean, double sd) =>
        mean + (sd * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    private static NodeId[] MakeIds(int count, int seed)
    {
        var ids = new NodeId[count];
        var bytes = new byte[33];
        bytes[0] = 3;
        var input = new byte[8];
        BitConverter.TryWriteBytes(input.AsSpan(4), seed);
        var counter = 0;
        for (var i = 0; i < count; i++)
        {
            do
            {
                BitConverter.TryWriteBytes(input.AsSpan(0, 4), counter++);
                SHA256.HashData(input, bytes.AsSpan(1));
            }
            while (!NodeId.TryFromBytes(bytes, out ids[i]));
        }

        return ids;
    }
}
