using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions.Sweeps;

namespace Satflow.Node;

/// <summary>
/// The monitor's <see cref="IClaimFeeWallet"/> over the node's <see cref="OnChainWallet"/>: each loan is a confirmed
/// P2WPKH wallet coin, leased for <see cref="LeaseBlocks"/> blocks so sends, channel funding and other claims leave it
/// alone while the claim is in the mempool, signed by the wallet's key through a delegate, with change to the wallet's
/// change chain.
/// </summary>
public sealed class WalletClaimFeeWallet : IClaimFeeWallet
{
    /// <summary>The default lease: a claim not confirmed within this many blocks is rebuilt with another coin anyway.</summary>
    public const int DefaultLeaseBlocks = 6;

    private readonly OnChainWallet _wallet;

    /// <summary>Wraps the wallet.</summary>
    /// <param name="wallet">The node's on-chain wallet.</param>
    /// <param name="leaseBlocks">How many blocks a lent coin stays leased (at least 1).</param>
    public WalletClaimFeeWallet(OnChainWallet wallet, int leaseBlocks = DefaultLeaseBlocks)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        ArgumentOutOfRangeException.ThrowIfLessThan(leaseBlocks, 1);
        _wallet = wallet;
        LeaseBlocks = leaseBlocks;
    }

    /// <summary>How many blocks a lent coin stays leased.</summary>
    public int LeaseBlocks { get; }

    /// <inheritdoc />
    public ClaimFeeInput? GetFeeInput(Money minimumAmount, IReadOnlyCollection<OutPoint> exclude)
    {
        ArgumentNullException.ThrowIfNull(minimumAmount);
        ArgumentNullException.ThrowIfNull(exclude);
        var coin = _wallet.LendCoin(minimumAmount, exclude, LeaseBlocks);
        return coin is null ? null : new ClaimFeeInput(SweepInput.P2wpkh(coin.OutPoint, coin.Amount, coin.PubKey, coin.Signer), coin.ChangeScript);
    }
}
