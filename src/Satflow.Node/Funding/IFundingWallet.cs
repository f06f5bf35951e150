using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Node.Funding;

/// <summary>A signed funding transaction not yet broadcast, and the index of its channel output.</summary>
/// <param name="Transaction">The fully signed transaction (segwit inputs only, so its txid is final).</param>
/// <param name="OutputIndex">The index of the 2-of-2 funding output.</param>
public sealed record FundingTransaction(Transaction Transaction, ushort OutputIndex)
{
    /// <summary>The funding outpoint.</summary>
    public OutPoint OutPoint => new(Transaction.GetHash(), OutputIndex);
}

/// <summary>
/// Where channel funding comes from. The node asks for a signed transaction paying the funding script, sends
/// <c>funding_created</c>, and broadcasts only after the peer's <c>funding_signed</c> (so a peer that never signs cannot
/// make us lock coins in a channel we cannot close). Also the node's sweep destination.
/// </summary>
public interface IFundingWallet
{
    /// <summary>Builds and signs (without broadcasting) a transaction paying <paramref name="amount"/> to <paramref name="fundingScriptPubKey"/>.</summary>
    /// <param name="fundingScriptPubKey">The P2WSH of the 2-of-2 funding script.</param>
    /// <param name="amount">The channel capacity.</param>
    /// <param name="feeRate">The funding transaction's feerate.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="Satflow.Bitcoin.Wallet.InsufficientFundsException">Not enough confirmed coins.</exception>
    Task<FundingTransaction> CreateFundingTransactionAsync(Script fundingScriptPubKey, Money amount, FeeRatePerKw feeRate, CancellationToken cancellationToken = default);

    /// <summary>Broadcasts a funding transaction built by <see cref="CreateFundingTransactionAsync"/>.</summary>
    /// <param name="transaction">The transaction.</param>
    /// <param name="cancellationToken">Cancels the broadcast.</param>
    Task BroadcastFundingAsync(Transaction transaction, CancellationToken cancellationToken = default);

    /// <summary>A fresh script of ours that channel closes and sweeps pay to.</summary>
    Script GetSweepScript();
}
