using NBitcoin;

namespace Satflow.Bitcoin.Chain;

/// <summary>
/// Read access to a Bitcoin chain: the tip, headers, blocks, transactions and outpoint status.
/// Implementations: the embedded devnet and the Bitcoin Core JSON-RPC client. Every implementation runs the
/// chain-source conformance kit. Methods return null (or <see cref="OutPointStatus.Unknown"/>) for things the chain
/// does not know, and throw <see cref="ChainSourceException"/> when the backend itself fails.
/// </summary>
public interface IChainSource
{
    /// <summary>The network whose rules this chain follows.</summary>
    Network Network { get; }

    /// <summary>The current best block.</summary>
    Task<ChainTip> GetTipAsync(CancellationToken cancellationToken = default);

    /// <summary>The hash of the best-chain block at <paramref name="height"/>, or null above the tip.</summary>
    Task<uint256?> GetBlockHashAsync(int height, CancellationToken cancellationToken = default);

    /// <summary>A header by hash (best chain or not), or null when unknown.</summary>
    Task<ChainHeader?> GetHeaderAsync(uint256 blockHash, CancellationToken cancellationToken = default);

    /// <summary>A full block by hash, or null when unknown.</summary>
    Task<Block?> GetBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default);

    /// <summary>A transaction by id, from the mempool or the best chain, with its confirmations; null when unknown.</summary>
    Task<ChainTransaction?> GetTransactionAsync(uint256 txid, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether an outpoint is unspent in the best chain. With <paramref name="includeMempool"/> a mempool spend counts as
    /// spent and a mempool output counts as unspent with 0 confirmations (Bitcoin Core's <c>gettxout</c> semantics).
    /// </summary>
    Task<OutPointStatus> GetOutPointStatusAsync(OutPoint outpoint, bool includeMempool = true, CancellationToken cancellationToken = default);
}

/// <summary>
/// Receives the best chain's changes in order: blocks are connected one at a time in height order, and on a reorg the
/// abandoned blocks are disconnected from the tip downwards before the new branch is connected.
/// </summary>
public interface IBlockListener
{
    /// <summary>A block became part of the best chain at <paramref name="height"/>.</summary>
    ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default);

    /// <summary>The block at <paramref name="height"/> left the best chain (a reorg or <c>invalidateblock</c>).</summary>
    ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default);
}

/// <summary>Hands transactions to the network.</summary>
public interface IBroadcaster
{
    /// <summary>
    /// Broadcasts a transaction. Succeeds when the backend accepted it or already has it;
    /// throws <see cref="BroadcastRejectedException"/> with the backend's reject reason otherwise.
    /// </summary>
    Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default);
}

/// <summary>Estimates fee rates. Every result is at least <see cref="FeeRatePerKw.Floor"/> (253 sat/kw).</summary>
public interface IFeeEstimator
{
    /// <summary>The rate for a confirmation target.</summary>
    ValueTask<FeeRatePerKw> EstimateFeeRateAsync(ConfirmationTarget target, CancellationToken cancellationToken = default);
}

/// <summary>A chain backend failed (unreachable, bad credentials, malformed answer).</summary>
public class ChainSourceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChainSourceException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public ChainSourceException() { }

    /// <summary>Creates the exception.</summary>
    public ChainSourceException(string message) : base(message) { }
}

/// <summary>A transaction was refused by the backend's mempool or consensus rules.</summary>
public sealed class BroadcastRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">Bitcoin Core RPC error code (-25 verify error, -26 rejected, -27 already in chain).</param>
    /// <param name="reason">Bitcoin Core's reject reason, for example <c>bad-txns-inputs-missingorspent</c>.</param>
    public BroadcastRejectedException(int code, string reason) : base(reason)
    {
        Code = code;
        Reason = reason;
    }

    /// <summary>Bitcoin Core RPC error code.</summary>
    public int Code { get; }

    /// <summary>Bitcoin Core reject reason.</summary>
    public string Reason { get; }
}
