using Satflow.Lightning.Routing;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// The channel graph used for pathfinding: public channels learned from gossip (BOLT 7) plus this node's own
    /// channels. Read and changed only under the node's lock.
    /// </summary>
    public NetworkGraph Graph { get; } = new();

    /// <summary>What the node has learned about channel liquidity from earlier payment attempts.</summary>
    public ProbabilisticScorer Scorer { get; } = new();
}
