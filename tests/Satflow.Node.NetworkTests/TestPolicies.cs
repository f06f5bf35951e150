using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;

namespace Satflow.Node.NetworkTests;

/// <summary>Shared settings: a forwarding policy with both a base and a proportional fee, so fee arithmetic is visible.</summary>
internal static class TestPolicies
{
    /// <summary>2 sat base, 1,000 ppm (0.1 %), 40 blocks CLTV delta.</summary>
    public static ForwardingPolicy Forwarding { get; } = new(new MilliSatoshi(2_000), 1_000, 40, new MilliSatoshi(1));

    /// <summary>Harness options with <see cref="Forwarding"/> on every node.</summary>
    public static HarnessOptions Harness { get; } = new()
    {
        Node = new NodeOptions { AutoFlush = false, MinimumDepth = 3, DefaultForwardingPolicy = Forwarding },
    };

    /// <summary>
    /// What leaves each node of a route ending with <paramref name="amount"/> at the payee, when every forwarder charges
    /// <paramref name="policy"/>: element i is what node i of the path sends (the last is the amount itself).
    /// </summary>
    public static MilliSatoshi[] SentAlong(int forwarders, MilliSatoshi amount, ForwardingPolicy policy)
    {
        var sent = new MilliSatoshi[forwarders + 1];
        sent[forwarders] = amount;
        for (var i = forwarders - 1; i >= 0; i--)
        {
            sent[i] = sent[i + 1] + policy.FeeFor(sent[i + 1]);
        }
        return sent;
    }
}
