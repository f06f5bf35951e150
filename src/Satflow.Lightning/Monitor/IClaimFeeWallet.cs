using NBitcoin;
using Satflow.Lightning.Transactions.Sweeps;

namespace Satflow.Lightning.Monitor;

/// <summary>A confirmed wallet coin lent to a claim transaction to pay its fee, and where its change goes.</summary>
/// <param name="Coin">The coin, e.g. <see cref="SweepInput.P2wpkh(OutPoint, Money, PubKey, Func{uint256, NBitcoin.Crypto.ECDSASignature})"/>.</param>
/// <param name="ChangeScript">The wallet script receiving the coin's value minus the fee.</param>
public sealed record ClaimFeeInput(SweepInput Coin, Script ChangeScript);

/// <summary>
/// The wallet seam of the monitor: zero-fee HTLC transactions and anchor CPFP children (<c>option_anchors</c>) need a
/// wallet coin to pay their fee. Implemented by the node over its on-chain wallet; called synchronously.
/// </summary>
public interface IClaimFeeWallet
{
    /// <summary>
    /// A confirmed coin worth at least <paramref name="minimumAmount"/>, not one of <paramref name="exclude"/> (coins
    /// already used by other claims of the same output), or <c>null</c> when the wallet has none.
    /// </summary>
    /// <param name="minimumAmount">The least value the coin must have.</param>
    /// <param name="exclude">Coins not to return.</param>
    ClaimFeeInput? GetFeeInput(Money minimumAmount, IReadOnlyCollection<OutPoint> exclude);
}
