using System.Globalization;
using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Devnet;

/// <summary>
/// An in-process regtest chain that validates blocks and transactions like Bitcoin Core 27, keeps a mempool, and
/// persists to SQLite. Open one with <see cref="Open"/>; it is thread-safe, owns no threads and reads time only from
/// <see cref="DevnetOptions.TimeProvider"/>. Block listeners are called in chain order after each change, outside the
/// state lock but serialised with every other mutation.
/// </summary>
public sealed partial class DevnetChain : IChainSource, IBroadcaster, IFeeEstimator, IDisposable
{
    private readonly object _sync = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly DevnetStore _store;
    private readonly Dictionary<uint256, BlockEntry> _index = [];
    private readonly List<BlockEntry> _active = [];
    private readonly Dictionary<OutPoint, UtxoCoin> _utxo;
    private readonly Dictionary<uint256, (BlockEntry Block, int Index)> _txIndex = [];
    private readonly Mempool _mempool = new();
    private readonly List<IBlockListener> _listeners = [];
    private long _nextBlockSequence;
    private long _nextMempoolSequence;
    private bool _disposed;

    private DevnetChain(DevnetOptions options, DevnetStore store, Dictionary<OutPoint, UtxoCoin> utxo)
    {
        Options = options;
        _store = store;
        _utxo = utxo;
    }

    /// <summary>Opens (or creates) a devnet. With no data directory the chain lives in memory.</summary>
    /// <exception cref="InvalidOperationException">The database has an unsupported schema version or is inconsistent.</exception>
    public static DevnetChain Open(DevnetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var store = DevnetStore.Open(options.DataDirectory);
        try
        {
            var chain = new DevnetChain(options, store, store.LoadCoins());
            chain.Load();
            return chain;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The options the chain was opened with.</summary>
    public DevnetOptions Options { get; }

    /// <inheritdoc />
    public Network Network => Network.RegTest;

    private TimeProvider Clock => Options.TimeProvider;

    private BlockEntry TipEntry => _active[^1];

    /// <summary>The current best block.</summary>
    public ChainTip Tip
    {
        get
        {
            lock (_sync)
            {
                return new ChainTip(TipEntry.Height, TipEntry.Hash);
            }
        }
    }

    /// <summary>Height of the best block.</summary>
    public int Height
    {
        get
        {
            lock (_sync)
            {
                return TipEntry.Height;
            }
        }
    }

    /// <summary>Number of transactions in the mempool.</summary>
    public int MempoolCount
    {
        get
        {
            lock (_sync)
            {
                return _mempool.Count;
            }
        }
    }

    /// <summary>
    /// Registers a listener for connected and disconnected blocks. Listeners run while the chain's mutation gate is
    /// held, so they may read the chain but must not await a mutating call (mining, submitting, invalidating).
    /// </summary>
    public void AddListener(IBlockListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_sync)
        {
            _listeners.Add(listener);
        }
    }

    /// <summary>Removes a listener.</summary>
    public void RemoveListener(IBlockListener listener)
    {
        lock (_sync)
        {
            _listeners.Remove(listener);
        }
    }

    private void Load()
    {
        var blocks = _store.LoadBlocks().ToList();
        if (blocks.Count == 0)
        {
            var genesis = Network.RegTest.GetGenesis();
            var entry = new BlockEntry(genesis, null, _nextBlockSequence++);
            _store.Begin();
            _store.InsertBlock(entry.Hash, 0, entry.Sequence, genesis);
            _store.SetMeta("tip", entry.Hash.ToString());
            _store.Commit();
            _index[entry.Hash] = entry;
            _active.Add(entry);
            entry.TxFees = [];
            return;
        }

        foreach (var (seq, failed, block) in blocks)
        {
            var prevHash = block.Header.HashPrevBlock;
            BlockEntry? prev = null;
            if (_index.Count > 0 && !_index.TryGetValue(prevHash, out prev))
            {
                throw new InvalidOperationException($"Devnet database is inconsistent: block {block.GetHash()} has no parent.");
            }

            var entry = new BlockEntry(block, prev, seq) { Failed = failed };
            _index[entry.Hash] = entry;
            _nextBlockSequence = Math.Max(_nextBlockSequence, seq + 1);
        }

        var tipHash = uint256.Parse(_store.GetMeta("tip") ?? throw new InvalidOperationException("Devnet database has no tip."));
        var tip = _index[tipHash];
        for (var e = tip; e is not null; e = e.Prev)
        {
            _active.Add(e);
        }

        _active.Reverse();
        foreach (var e in _active)
        {
            for (var i = 0; i < e.Block.Transactions.Count; i++)
            {
                _txIndex[e.Block.Transactions[i].GetHash()] = (e, i);
            }

            e.TxFees = ComputeFeesFromUndo(e);
        }

        // A block stored just before a crash may not have been connected yet: finish activating the best chain.
        ActivateBestChain([], []);

        var mempool = _store.LoadMempool();
        foreach (var (seq, time, tx) in mempool)
        {
            _nextMempoolSequence = Math.Max(_nextMempoolSequence, seq + 1);
        }

        _store.Begin();
        try
        {
            foreach (var (_, time, tx) in mempool)
            {
                _store.RemoveMempoolTx(tx.GetHash());
                try
                {
                    AcceptCore(tx, testOnly: false, bypassFeeChecks: true, maxFee: null, entryTime: time);
                }
                catch (DevnetValidationException)
                {
                    // No longer valid against the restored chain: dropped, as Core does when loading mempool.dat.
                }
            }

            _store.Commit();
        }
        catch
        {
            _store.Rollback();
            throw;
        }
    }

    private List<(long Fee, int VSize)> ComputeFeesFromUndo(BlockEntry entry)
    {
        if (entry.Height == 0)
        {
            return [];
        }

        var undo = _store.GetUndo(entry.Hash);
        var values = new Dictionary<OutPoint, long>();
        foreach (var (outPoint, coin) in undo)
        {
            values[outPoint] = coin.Output.Value.Satoshi;
        }

        var created = new Dictionary<OutPoint, long>();
        var list = new List<(long, int)>();
        foreach (var tx in entry.Block.Transactions)
        {
            if (!tx.IsCoinBase)
            {
                long input = 0;
                foreach (var i in tx.Inputs)
                {
                    input += values.TryGetValue(i.PrevOut, out var v) ? v : created.GetValueOrDefault(i.PrevOut);
                }

                list.Add((input - tx.TotalOut.Satoshi, DevnetConsensus.VirtualSize(tx)));
            }

            for (var o = 0; o < tx.Outputs.Count; o++)
            {
                created[new OutPoint(tx, o)] = tx.Outputs[o].Value.Satoshi;
            }
        }

        return list;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _store.Dispose();
        }

        _gate.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    // ---------------------------------------------------------------- queries

    /// <summary>The best-chain block hash at a height, or null when out of range.</summary>
    public uint256? GetBlockHash(int height)
    {
        lock (_sync)
        {
            return height >= 0 && height < _active.Count ? _active[height].Hash : null;
        }
    }

    /// <summary>A block with its position, or null when unknown.</summary>
    public DevnetBlockInfo? GetBlockInfo(uint256 hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        lock (_sync)
        {
            if (!_index.TryGetValue(hash, out var entry))
            {
                return null;
            }

            var inActive = IsActive(entry);
            var confirmations = inActive ? TipEntry.Height - entry.Height + 1 : -1;
            uint256? next = inActive && entry.Height + 1 < _active.Count ? _active[entry.Height + 1].Hash : null;
            return new DevnetBlockInfo(entry.Block, entry.Height, confirmations, entry.MedianTimePast, next, entry.Failed);
        }
    }

    private bool IsActive(BlockEntry entry) => entry.Height < _active.Count && _active[entry.Height] == entry;

    /// <summary>Median time past of the tip.</summary>
    public long TipMedianTimePast
    {
        get
        {
            lock (_sync)
            {
                return TipEntry.MedianTimePast;
            }
        }
    }

    /// <summary>A transaction from the mempool or the best chain; <paramref name="blockHash"/> restricts the lookup to one block.</summary>
    public ChainTransaction? GetTransaction(uint256 txid, uint256? blockHash = null)
    {
        ArgumentNullException.ThrowIfNull(txid);
        lock (_sync)
        {
            if (blockHash is not null)
            {
                if (!_index.TryGetValue(blockHash, out var block))
                {
                    return null;
                }

                var tx = block.Block.Transactions.FirstOrDefault(t => t.GetHash() == txid);
                if (tx is null)
                {
                    return null;
                }

                var active = IsActive(block);
                return new ChainTransaction(tx, active ? TipEntry.Height - block.Height + 1 : 0, block.Hash, block.Height);
            }

            if (_mempool.TryGet(txid, out var entry))
            {
                return new ChainTransaction(entry.Transaction, 0, null, null);
            }

            if (_txIndex.TryGetValue(txid, out var location))
            {
                return new ChainTransaction(
                    location.Block.Block.Transactions[location.Index],
                    TipEntry.Height - location.Block.Height + 1,
                    location.Block.Hash,
                    location.Block.Height);
            }

            return null;
        }
    }

    /// <summary>Core's <c>gettxout</c>: an unspent output, or null when spent or unknown.</summary>
    public DevnetTxOut? GetTxOut(OutPoint outPoint, bool includeMempool = true)
    {
        ArgumentNullException.ThrowIfNull(outPoint);
        lock (_sync)
        {
            if (includeMempool)
            {
                if (_mempool.SpenderOf(outPoint) is not null)
                {
                    return null;
                }

                if (_mempool.TryGet(outPoint.Hash, out var entry))
                {
                    return outPoint.N < entry.Transaction.Outputs.Count
                        ? new DevnetTxOut(entry.Transaction.Outputs[(int)outPoint.N], 0, false)
                        : null;
                }
            }

            return _utxo.TryGetValue(outPoint, out var coin)
                ? new DevnetTxOut(coin.Output, TipEntry.Height - coin.Height + 1, coin.IsCoinbase)
                : null;
        }
    }

    /// <summary>Number of unspent outputs in the best chain.</summary>
    public int UtxoCount
    {
        get
        {
            lock (_sync)
            {
                return _utxo.Count;
            }
        }
    }

    /// <summary>The mempool's entries in entry order.</summary>
    public IReadOnlyList<MempoolEntry> GetMempool()
    {
        lock (_sync)
        {
            return _mempool.InTopologicalOrder();
        }
    }

    /// <summary>A mempool entry with ancestor/descendant statistics, or null when not in the mempool.</summary>
    public MempoolEntryInfo? GetMempoolEntry(uint256 txid)
    {
        ArgumentNullException.ThrowIfNull(txid);
        lock (_sync)
        {
            if (!_mempool.TryGet(txid, out var entry))
            {
                return null;
            }

            var ancestors = _mempool.Ancestors(entry.Transaction).Select(a => { _mempool.TryGet(a, out var e); return e; }).ToList();
            var descendants = _mempool.Descendants(txid).Select(d => { _mempool.TryGet(d, out var e); return e; }).ToList();
            return new MempoolEntryInfo(
                entry,
                ancestors.Count + 1,
                ancestors.Sum(a => (long)a.VirtualSize) + entry.VirtualSize,
                ancestors.Aggregate(entry.Fee, (s, a) => s + a.Fee),
                descendants.Count + 1,
                descendants.Sum(d => (long)d.VirtualSize) + entry.VirtualSize,
                descendants.Aggregate(entry.Fee, (s, d) => s + d.Fee),
                _mempool.Parents(entry.Transaction).ToList(),
                _mempool.Children(entry).ToList(),
                _mempool.IsReplaceable(entry));
        }
    }

    /// <summary>Fees of a best-chain block's non-coinbase transactions in block order, or null when not in the best chain.</summary>
    public IReadOnlyList<long>? GetBlockFees(uint256 blockHash)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        lock (_sync)
        {
            return _index.TryGetValue(blockHash, out var entry) && IsActive(entry) && entry.TxFees is { } fees
                ? fees.Select(f => f.Fee).ToList()
                : null;
        }
    }

    internal static string FormatAmount(Money money) => money.ToDecimal(MoneyUnit.BTC).ToString("0.00000000", CultureInfo.InvariantCulture);
}
