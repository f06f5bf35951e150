using NBitcoin;

namespace Satflow.Devnet;

/// <summary>What happened to a submitted block, as Core's <c>submitblock</c> reports it.</summary>
public enum SubmitBlockStatus
{
    /// <summary>The block is valid and now part of the best chain.</summary>
    Accepted,

    /// <summary>The block was already known.</summary>
    Duplicate,

    /// <summary>The block was already known and is invalid.</summary>
    DuplicateInvalid,

    /// <summary>The block was stored on a side branch that does not (yet) have the most work.</summary>
    Inconclusive,

    /// <summary>The block broke a rule; see <see cref="SubmitBlockResult.RejectReason"/>.</summary>
    Rejected,
}

/// <summary>The outcome of <see cref="DevnetChain.SubmitBlockAsync"/>.</summary>
/// <param name="Status">What happened.</param>
/// <param name="RejectReason">Core's reject reason when rejected, else null.</param>
public sealed record SubmitBlockResult(SubmitBlockStatus Status, string? RejectReason = null)
{
    /// <summary>The string Core's <c>submitblock</c> returns: null on acceptance, else the reason or status word.</summary>
    public string? ToRpcResult() => Status switch
    {
        SubmitBlockStatus.Accepted => null,
        SubmitBlockStatus.Duplicate => "duplicate",
        SubmitBlockStatus.DuplicateInvalid => "duplicate-invalid",
        SubmitBlockStatus.Inconclusive => "inconclusive",
        _ => RejectReason,
    };
}

/// <summary>The outcome of a mempool acceptance test (Core's <c>testmempoolaccept</c> entry).</summary>
/// <param name="Txid">Transaction id.</param>
/// <param name="Wtxid">Witness transaction id.</param>
/// <param name="Allowed">Whether the mempool would accept it.</param>
/// <param name="VirtualSize">Virtual size, when it got that far.</param>
/// <param name="Fee">Fee, when it got that far.</param>
/// <param name="Rejection">The rejection when not allowed.</param>
public sealed record MempoolAcceptResult(uint256 Txid, uint256 Wtxid, bool Allowed, int? VirtualSize, Money? Fee, DevnetValidationException? Rejection)
{
    /// <summary>Core's reject reason, or null when allowed.</summary>
    public string? RejectReason => Rejection?.Reason;
}

/// <summary>A block and where it sits.</summary>
/// <param name="Block">The block.</param>
/// <param name="Height">Its height.</param>
/// <param name="Confirmations">1 for the tip, -1 when not in the best chain.</param>
/// <param name="MedianTimePast">Median time past of the block (itself and 10 predecessors).</param>
/// <param name="NextBlockHash">The next best-chain block, if any.</param>
/// <param name="Failed">Whether the block is known invalid.</param>
public sealed record DevnetBlockInfo(Block Block, int Height, int Confirmations, long MedianTimePast, uint256? NextBlockHash, bool Failed)
{
    /// <summary>The block hash.</summary>
    public uint256 Hash => Block.GetHash();

    /// <summary>Total work of the chain up to this block: 2 per regtest block.</summary>
    public System.Numerics.BigInteger ChainWork => new System.Numerics.BigInteger(Height + 1) * 2;
}

/// <summary>A mempool entry with its ancestor and descendant statistics (Core's <c>getmempoolentry</c>).</summary>
/// <param name="Entry">The entry.</param>
/// <param name="AncestorCount">Number of in-mempool ancestors including itself.</param>
/// <param name="AncestorSize">Their total virtual size.</param>
/// <param name="AncestorFees">Their total fees.</param>
/// <param name="DescendantCount">Number of in-mempool descendants including itself.</param>
/// <param name="DescendantSize">Their total virtual size.</param>
/// <param name="DescendantFees">Their total fees.</param>
/// <param name="Depends">In-mempool parents.</param>
/// <param name="SpentBy">In-mempool children.</param>
/// <param name="Bip125Replaceable">Whether it or an ancestor signals BIP125.</param>
public sealed record MempoolEntryInfo(
    MempoolEntry Entry,
    int AncestorCount,
    long AncestorSize,
    Money AncestorFees,
    int DescendantCount,
    long DescendantSize,
    Money DescendantFees,
    IReadOnlyList<uint256> Depends,
    IReadOnlyList<uint256> SpentBy,
    bool Bip125Replaceable);

/// <summary>An unspent output as <c>gettxout</c> reports it.</summary>
/// <param name="Output">The output.</param>
/// <param name="Confirmations">0 for a mempool output, else 1 + tip height - creation height.</param>
/// <param name="IsCoinbase">Whether a coinbase created it.</param>
public sealed record DevnetTxOut(TxOut Output, int Confirmations, bool IsCoinbase);

/// <summary>The outcome of testing several transactions as a package (Core's multi-transaction <c>testmempoolaccept</c>).</summary>
/// <param name="PackageError">A package-level policy failure (for example <c>conflict-in-package</c>), or null.</param>
/// <param name="Results">One entry per transaction; null where validation did not finish because another transaction failed.</param>
public sealed record PackageAcceptResult(string? PackageError, IReadOnlyList<MempoolAcceptResult?> Results);
