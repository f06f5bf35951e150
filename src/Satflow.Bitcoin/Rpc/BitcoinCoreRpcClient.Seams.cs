using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Rpc;

public sealed partial class BitcoinCoreRpcClient
{
    /// <inheritdoc />
    public async Task<ChainTip> GetTipAsync(CancellationToken cancellationToken = default)
    {
        // getblockchaininfo reads height and hash under one lock, so the pair is consistent.
        var info = await CallAsync(
            "getblockchaininfo",
            r => new ChainTip(RpcJson.Int(r, "blocks"), RpcJson.Hash(r, "bestblockhash")),
            cancellationToken).ConfigureAwait(false);
        return info;
    }

    /// <summary><c>getblockhash</c>: the hash of the best-chain block at <paramref name="height"/>, or null above the tip.</summary>
    public async Task<uint256?> GetBlockHashAsync(int height, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        try
        {
            return await CallAsync("getblockhash", r => RpcJson.AsHash(r), cancellationToken, height).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.Code == RpcErrorCodes.InvalidParameter)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<ChainHeader?> GetHeaderAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        try
        {
            var info = await GetBlockHeaderAsync(blockHash, cancellationToken).ConfigureAwait(false);
            return new ChainHeader(info.Header, info.Height, info.Confirmations);
        }
        catch (RpcException e) when (e.Code == RpcErrorCodes.InvalidAddressOrKey)
        {
            return null;
        }
    }

    /// <summary><c>getblock &lt;hash&gt; 0</c>: the full block, or null when Core does not know it.</summary>
    /// <exception cref="RpcException">Core knows the block but cannot serve it (for example pruned, code -1).</exception>
    public async Task<Block?> GetBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        try
        {
            return await CallAsync(
                "getblock",
                r =>
                {
                    var block = Block.Load(RpcJson.AsHex(r), Network);
                    return block.GetHash() == blockHash ? block : throw new FormatException($"the block hashes to {block.GetHash()}, not {blockHash}");
                },
                cancellationToken,
                blockHash,
                0).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.Code == RpcErrorCodes.InvalidAddressOrKey)
        {
            return null;
        }
    }

    /// <inheritdoc />
    /// <remarks>Confirmed transactions are found only when Core runs with <c>-txindex</c>.</remarks>
    public async Task<ChainTransaction?> GetTransactionAsync(uint256 txid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(txid);
        RawTransactionInfo raw;
        try
        {
            raw = await GetRawTransactionAsync(txid, null, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.Code == RpcErrorCodes.InvalidAddressOrKey)
        {
            return null;
        }

        if (raw.BlockHash is null)
        {
            return new ChainTransaction(raw.Transaction, 0, null, null);
        }

        // Height and confirmations from the header, so both refer to the same tip; a stale block means "not in the best chain".
        var header = await GetHeaderAsync(raw.BlockHash, cancellationToken).ConfigureAwait(false);
        if (header is null || header.Confirmations < 1)
        {
            return null;
        }

        return new ChainTransaction(raw.Transaction, header.Confirmations, raw.BlockHash, header.Height);
    }

    /// <inheritdoc />
    /// <remarks>
    /// <c>gettxout</c> answers null for spent and unknown outputs alike; the creating transaction is then looked up to
    /// tell them apart (which needs <c>-txindex</c> for confirmed transactions).
    /// </remarks>
    public async Task<OutPointStatus> GetOutPointStatusAsync(OutPoint outpoint, bool includeMempool = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outpoint);
        var txOut = await GetTxOutAsync(outpoint, includeMempool, cancellationToken).ConfigureAwait(false);
        if (txOut is not null)
        {
            return new OutPointStatus(OutPointState.Unspent, txOut.Output, txOut.Confirmations);
        }

        var tx = await GetTransactionAsync(outpoint.Hash, cancellationToken).ConfigureAwait(false);
        if (tx is null || outpoint.N >= tx.Transaction.Outputs.Count)
        {
            return OutPointStatus.Unknown;
        }

        // Without the mempool, an output created by a mempool transaction does not exist yet.
        if (!includeMempool && tx.Confirmations == 0)
        {
            return OutPointStatus.Unknown;
        }

        return OutPointStatus.Spent;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Already-known transactions (code -27, or <c>txn-already-in-mempool</c>/<c>txn-already-known</c>) count as success;
    /// codes -22, -25 and -26 become <see cref="BroadcastRejectedException"/> with Core's message as the reason; other
    /// Core errors stay <see cref="RpcException"/>.
    /// </remarks>
    public async Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        try
        {
            await SendRawTransactionAsync(transaction, null, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (IsAlreadyKnown(e))
        {
            // Already broadcast or already confirmed: the goal is reached.
        }
        catch (RpcException e) when (e.Code is RpcErrorCodes.VerifyError or RpcErrorCodes.VerifyRejected or RpcErrorCodes.DeserializationError)
        {
            throw new BroadcastRejectedException(e.Code, e.Message);
        }
    }

    private static bool IsAlreadyKnown(RpcException e) =>
        e.Code == RpcErrorCodes.VerifyAlreadyInChain
        || (e.Code == RpcErrorCodes.VerifyRejected
            && (e.Message.Contains("txn-already-in-mempool", StringComparison.Ordinal)
                || e.Message.Contains("txn-already-known", StringComparison.Ordinal)));

    /// <inheritdoc />
    /// <remarks>
    /// Uses <c>estimatesmartfee</c>; when Core has no estimate or refuses the call, the configured fallback for the
    /// target is returned. Transport failures still throw <see cref="ChainSourceException"/>.
    /// </remarks>
    public async ValueTask<FeeRatePerKw> EstimateFeeRateAsync(ConfirmationTarget target, CancellationToken cancellationToken = default)
    {
        var blocks = (int)target;
        if (blocks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(target), target, "Unknown confirmation target.");
        }

        try
        {
            var estimate = await EstimateSmartFeeAsync(Math.Min(blocks, 1008), null, cancellationToken).ConfigureAwait(false);
            if (estimate.FeeRate is { } rate)
            {
                return FeeRatePerKw.FromFeeRate(rate);
            }
        }
        catch (RpcException)
        {
            // Core answered but cannot estimate (for example an older or a stub backend): use the fallback.
        }

        return _options.FallbackFeeRates.TryGetValue(target, out var fallback) ? fallback : _options.DefaultFallbackFeeRate;
    }
}
