using System.Security.Cryptography;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Routing;

/// <summary>Helpers to build small graphs with named nodes.</summary>
internal static class RoutingTestGraph
{
    private static readonly NodeId[] Pool = MakeIds(64);

    public static DateTimeOffset Now { get; } = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public static NodeId Id(int i) => Pool[i];

    /// <summary>Deterministic valid node ids (x coordinates hashed until on the curve; no scalar multiplications).</summary>
    public static NodeId[] MakeIds(int count)
    {
        var ids = new NodeId[count];
        var bytes = new byte[33];
        bytes[0] = 2;
        var counter = 0;
        for (var i = 0; i < count; i++)
        {
            while (true)
            {
                SHA256.HashData(BitConverter.GetBytes(counter++), bytes.AsSpan(1));
                if (NodeId.TryFromBytes(bytes, out ids[i]))
                {
                    break;
                }
            }
        }

        return ids;
    }

    public static ChannelPolicy Policy(uint baseMsat, uint ppm, ushort cltv, ulong htlcMin = 0, ulong htlcMax = 0, bool disabled = false) =>
        new(baseMsat, ppm, cltv, new MilliSatoshi(htlcMin), new MilliSatoshi(htlcMax), disabled);

    /// <summary>Adds a channel with a policy for each direction.</summary>
    public static void Channel(this NetworkGraph graph, ulong scid, NodeId from, NodeId to, ulong capacitySat, ChannelPolicy forward, ChannelPolicy? backward = null)
    {
        var id = new ShortChannelId(scid);
        graph.AddChannel(id, from, to, MilliSatoshi.FromSatoshis(capacitySat));
        Assert.True(graph.UpdatePolicy(id, from, forward));
        Assert.True(graph.UpdatePolicy(id, to, backward ?? Policy(1000, 1, 40)));
    }
}
