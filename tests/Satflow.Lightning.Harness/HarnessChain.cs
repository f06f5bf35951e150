using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Devnet;

namespace Satflow.Lightning.Harness;

/// <summary>
/// The harness's one shared chain: an in-memory <see cref="DevnetChain"/> (full script validation, so every
/// transaction the nodes broadcast is checked like Bitcoin Core would), a broadcaster that records what it is given,
/// and a fixed fee estimate.
/// </summary>
public sealed class HarnessChain : IBroadcaster, IFeeEstimator, IDisposable
{
    private static readonly Script BurnScript = new Key(new byte[32].Select((_, i) => (byte)(i + 1)).ToArray()).PubKey.WitHash.ScriptPubKey;

    /// <summary>Opens an in-memory devnet reading time from <paramref name="time"/>.</summary>
    /// <param name="time">The fake clock.</param>
    /// <param name="feeRate">The feerate every estimate returns.</param>
    public HarnessChain(TimeProvider time, FeeRatePerKw feeRate)
    {
        Devnet = DevnetChain.Open(new DevnetOptions { TimeProvider = time, ScriptVerificationThreads = 1 });
        FeeRate = feeRate;
    }

    /// <summary>The chain.</summary>
    public DevnetChain Devnet { get; }

    /// <summary>The fixed feerate.</summary>
    public FeeRatePerKw FeeRate { get; set; }

    /// <summary>Every transaction broadcast through this broadcaster, accepted or not, in order.</summary>
    public List<Transaction> Broadcasts { get; } = [];

    /// <summary>Broadcasts that the mempool refused (with the reason); a test may assert none happened.</summary>
    public List<(Transaction Transaction, string Reason)> Rejected { get; } = [];

    /// <summary>The chain's height.</summary>
    public int Height => Devnet.Height;

    /// <summary>
    /// While true, broadcasts fail as if the chain backend were down (<see cref="ChainSourceException"/>; they are
    /// still recorded in <see cref="Broadcasts"/>): a lost broadcast, for tests.
    /// </summary>
    public bool BackendDown { get; set; }

    /// <inheritdoc />
    public async Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        Broadcasts.Add(transaction);
        if (BackendDown)
        {
            throw new ChainSourceException("The chain backend is down (harness).");
        }
        try
        {
            await Devnet.BroadcastAsync(transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (BroadcastRejectedException e)
        {
            Rejected.Add((transaction, e.Reason));
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask<FeeRatePerKw> EstimateFeeRateAsync(ConfirmationTarget target, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(FeeRate);

    /// <summary>Mines blocks (paying a burn address) and returns them with their heights.</summary>
    /// <param name="count">How many.</param>
    /// <param name="payTo">Who gets the coinbase (a burn script when null).</param>
    public async Task<IReadOnlyList<(Block Block, int Height)>> MineAsync(int count, Script? payTo = null)
    {
        var hashes = await Devnet.MineBlocksAsync(count, payTo ?? BurnScript).ConfigureAwait(false);
        var result = new List<(Block, int)>(hashes.Count);
        foreach (var hash in hashes)
        {
            var info = Devnet.GetBlockInfo(hash) ?? throw new InvalidOperationException("A mined block vanished.");
            result.Add((info.Block, info.Height));
        }
        return result;
    }

    /// <summary>Whether a transaction is confirmed (in the active chain).</summary>
    public bool IsConfirmed(uint256 txid) => Devnet.GetTransaction(txid) is { BlockHeight: not null };

    /// <summary>Whether an output is unspent in the chain (mempool included).</summary>
    public bool IsUnspent(OutPoint outPoint) => Devnet.GetTxOut(outPoint) is not null;

    /// <inheritdoc />
    public void Dispose() => Devnet.Dispose();
}
