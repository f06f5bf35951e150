using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Devnet;

public sealed partial class DevnetChain
{
    /// <inheritdoc />
    public Task<ChainTip> GetTipAsync(CancellationToken cancellationToken = default) => Task.FromResult(Tip);

    /// <inheritdoc />
    public Task<uint256?> GetBlockHashAsync(int height, CancellationToken cancellationToken = default) => Task.FromResult(GetBlockHash(height));

    /// <inheritdoc />
    public Task<ChainHeader?> GetHeaderAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        var info = GetBlockInfo(blockHash);
        return Task.FromResult(info is null ? null : new ChainHeader(info.Block.Header, info.Height, info.Confirmations));
    }

    /// <inheritdoc />
    public Task<Block?> GetBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default) => Task.FromResult(GetBlockInfo(blockHash)?.Block);

    /// <inheritdoc />
    public Task<ChainTransaction?> GetTransactionAsync(uint256 txid, CancellationToken cancellationToken = default) => Task.FromResult(GetTransaction(txid));

    /// <inheritdoc />
    public Task<OutPointStatus> GetOutPointStatusAsync(OutPoint outpoint, bool includeMempool = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outpoint);
        lock (_sync)
        {
            var output = GetTxOut(outpoint, includeMempool);
            if (output is not null)
            {
                return Task.FromResult(new OutPointStatus(OutPointState.Unspent, output.Output, output.Confirmations));
            }

            var known = _txIndex.TryGetValue(outpoint.Hash, out var location)
                && outpoint.N < location.Block.Block.Transactions[location.Index].Outputs.Count;
            if (!known && includeMempool && _mempool.TryGet(outpoint.Hash, out var entry))
            {
                known = outpoint.N < entry.Transaction.Outputs.Count;
            }

            return Task.FromResult(known ? OutPointStatus.Spent : OutPointStatus.Unknown);
        }
    }

    /// <inheritdoc />
    public Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        try
        {
            SendRawTransaction(transaction, FeeRate.Zero);
        }
        catch (DevnetValidationException ex) when (ex.RpcCode == RpcErrorCodes.TransactionAlreadyInChain)
        {
            // Already confirmed: IBroadcaster counts "the backend already has it" as success.
        }
        catch (DevnetValidationException ex)
        {
            throw new BroadcastRejectedException(ex.RpcCode, ex.Reason);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<FeeRatePerKw> EstimateFeeRateAsync(ConfirmationTarget target, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(FeeRatePerKw.FromFeeRate(EstimateSmartFee((int)target)));
}
