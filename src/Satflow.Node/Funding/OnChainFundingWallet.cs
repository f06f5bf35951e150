using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Node.Funding;

/// <summary><see cref="IFundingWallet"/> over the node's <see cref="OnChainWallet"/>: a funded PSBT, signed, finalized and extracted.</summary>
public sealed class OnChainFundingWallet : IFundingWallet
{
    private readonly OnChainWallet _wallet;
    private readonly IBroadcaster _broadcaster;

    /// <summary>How many blocks the inputs of a funding transaction stay out of coin selection (about a day).</summary>
    public const int FundingLeaseBlocks = 144;

    /// <summary>Wraps a wallet.</summary>
    /// <param name="wallet">The on-chain wallet.</param>
    /// <param name="broadcaster">Where funding transactions go.</param>
    public OnChainFundingWallet(OnChainWallet wallet, IBroadcaster broadcaster)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        ArgumentNullException.ThrowIfNull(broadcaster);
        _wallet = wallet;
        _broadcaster = broadcaster;
    }

    /// <inheritdoc />
    public Task<FundingTransaction> CreateFundingTransactionAsync(Script fundingScriptPubKey, Money amount, FeeRatePerKw feeRate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fundingScriptPubKey);
        ArgumentNullException.ThrowIfNull(amount);
        // Not replaceable: the channel is bound to this exact txid.
        // Its inputs stay leased while the channel opens and the funding transaction confirms, so neither a send nor the
        // claim-fee lender spends them meanwhile; an abandoned opening frees them when the lease ends.
        var funded = _wallet.CreateFundedPsbt([new PaymentOutput(fundingScriptPubKey, amount)], feeRate, rbf: false, leaseBlocks: FundingLeaseBlocks);
        try
        {
            var signed = _wallet.SignPsbt(funded.Psbt);
            if (signed != funded.Psbt.Inputs.Count)
            {
                throw new WalletException($"the wallet signed {signed} of the funding transaction's {funded.Psbt.Inputs.Count} inputs");
            }
            funded.Psbt.Finalize();
            var tx = funded.Psbt.ExtractTransaction();
            var index = tx.Outputs.FindIndex(o => o.ScriptPubKey == fundingScriptPubKey && o.Value == amount);
            if (index < 0)
            {
                throw new WalletException("the funded transaction lost its funding output");
            }
            return Task.FromResult(new FundingTransaction(tx, checked((ushort)index)));
        }
        catch
        {
            _wallet.ReleaseCoins(funded.Psbt.Inputs.Select(i => i.PrevOut));
            throw;
        }
    }

    /// <inheritdoc />
    public Task BroadcastFundingAsync(Transaction transaction, CancellationToken cancellationToken = default) =>
        _broadcaster.BroadcastAsync(transaction, cancellationToken);

    /// <inheritdoc />
    public Script GetSweepScript() => _wallet.GetNewAddress(AddressType.P2wpkh).ScriptPubKey;
}
