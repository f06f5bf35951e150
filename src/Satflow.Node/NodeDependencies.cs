using Microsoft.Extensions.Logging;
using Satflow.Bitcoin.Chain;
using Satflow.Lightning.Monitor;
using Satflow.Node.Funding;
using Satflow.Node.Transport;
using Satflow.Payments;
using Satflow.Storage;

namespace Satflow.Node;

/// <summary>Everything a <see cref="LightningNode"/> is composed from (the hosts build these; the harness fakes some).</summary>
public sealed record NodeDependencies
{
    /// <summary>The node seed (32..64 bytes): the node key and every channel key derive from it.</summary>
    public required byte[] Seed { get; init; }

    /// <summary>Where channels, monitors, invoices and payments are persisted.</summary>
    public required IKeyValueStore Store { get; init; }

    /// <summary>How peers are reached.</summary>
    public required IPeerTransport Transport { get; init; }

    /// <summary>Where channel funding comes from and sweeps go.</summary>
    public required IFundingWallet FundingWallet { get; init; }

    /// <summary>Wallet coins paying for anchor CPFP and zero-fee HTLC claims (optional).</summary>
    public IClaimFeeWallet? ClaimFeeWallet { get; init; }

    /// <summary>Hands transactions to the network.</summary>
    public required IBroadcaster Broadcaster { get; init; }

    /// <summary>Feerates.</summary>
    public required IFeeEstimator FeeEstimator { get; init; }

    /// <summary>The clock.</summary>
    public required TimeProvider Time { get; init; }

    /// <summary>Randomness (session keys, preimages, temporary channel ids); the OS generator when null.</summary>
    public RandomFill? Random { get; init; }

    /// <summary>
    /// The chain, for validating other nodes' <c>channel_announcement</c>s (funding output exists, unspent, right
    /// script). Without it, channels are learned only from this node's own channels.
    /// </summary>
    public IChainSource? ChainSource { get; init; }

    /// <summary>Loggers (optional).</summary>
    public ILoggerFactory? Loggers { get; init; }
}
