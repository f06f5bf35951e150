using NBitcoin;

namespace Satflow.Devnet;

/// <summary>A transaction in the devnet mempool.</summary>
public sealed class MempoolEntry
{
    internal MempoolEntry(Transaction tx, Money fee, int weight, long time, long sequence, int height, bool spendsCoinbase)
    {
        Transaction = tx;
        Txid = tx.GetHash();
        Wtxid = tx.GetWitHash();
        Fee = fee;
        Weight = weight;
        VirtualSize = (weight + 3) / 4;
        Time = time;
        Sequence = sequence;
        Height = height;
        SpendsCoinbase = spendsCoinbase;
    }

    /// <summary>The transaction.</summary>
    public Transaction Transaction { get; }

    /// <summary>Its id.</summary>
    public uint256 Txid { get; }

    /// <summary>Its witness id.</summary>
    public uint256 Wtxid { get; }

    /// <summary>The fee it pays.</summary>
    public Money Fee { get; }

    /// <summary>Its weight.</summary>
    public int Weight { get; }

    /// <summary>Its virtual size.</summary>
    public int VirtualSize { get; }

    /// <summary>Entry time (Unix seconds).</summary>
    public long Time { get; }

    /// <summary>Entry order; parents always have a lower sequence than their children.</summary>
    public long Sequence { get; }

    /// <summary>Tip height when it entered.</summary>
    public int Height { get; }

    /// <summary>Whether it spends a coinbase output.</summary>
    public bool SpendsCoinbase { get; }

    /// <summary>The fee rate in sat/vB.</summary>
    public decimal FeeRateSatPerVByte => (decimal)Fee.Satoshi / VirtualSize;
}

/// <summary>The mempool's graph: entries, who spends what, parents and children. Not thread-safe; the chain guards it.</summary>
internal sealed class Mempool
{
    private readonly Dictionary<uint256, MempoolEntry> _entries = [];
    private readonly Dictionary<OutPoint, uint256> _spentBy = [];

    public int Count => _entries.Count;

    public IEnumerable<MempoolEntry> Entries => _entries.Values;

    public bool TryGet(uint256 txid, out MempoolEntry entry) => _entries.TryGetValue(txid, out entry!);

    public bool Contains(uint256 txid) => _entries.ContainsKey(txid);

    public uint256? SpenderOf(OutPoint outPoint) => _spentBy.TryGetValue(outPoint, out var txid) ? txid : null;

    public void Add(MempoolEntry entry)
    {
        _entries.Add(entry.Txid, entry);
        foreach (var input in entry.Transaction.Inputs)
        {
            _spentBy[input.PrevOut] = entry.Txid;
        }
    }

    public void Remove(uint256 txid)
    {
        if (!_entries.Remove(txid, out var entry))
        {
            return;
        }

        foreach (var input in entry.Transaction.Inputs)
        {
            if (_spentBy.TryGetValue(input.PrevOut, out var spender) && spender == txid)
            {
                _spentBy.Remove(input.PrevOut);
            }
        }
    }

    public void Clear()
    {
        _entries.Clear();
        _spentBy.Clear();
    }

    public IEnumerable<uint256> Parents(Transaction tx)
    {
        var seen = new HashSet<uint256>();
        foreach (var input in tx.Inputs)
        {
            if (_entries.ContainsKey(input.PrevOut.Hash) && seen.Add(input.PrevOut.Hash))
            {
                yield return input.PrevOut.Hash;
            }
        }
    }

    public IEnumerable<uint256> Children(MempoolEntry entry)
    {
        var seen = new HashSet<uint256>();
        for (var i = 0; i < entry.Transaction.Outputs.Count; i++)
        {
            if (_spentBy.TryGetValue(new OutPoint(entry.Txid, i), out var child) && seen.Add(child))
            {
                yield return child;
            }
        }
    }

    /// <summary>All in-mempool ancestors of a transaction (which need not be in the mempool itself).</summary>
    public HashSet<uint256> Ancestors(Transaction tx)
    {
        var result = new HashSet<uint256>();
        var stack = new Stack<uint256>(Parents(tx));
        while (stack.Count > 0)
        {
            var txid = stack.Pop();
            if (!result.Add(txid))
            {
                continue;
            }

            foreach (var parent in Parents(_entries[txid].Transaction))
            {
                stack.Push(parent);
            }
        }

        return result;
    }

    /// <summary>All in-mempool descendants of an entry, excluding itself.</summary>
    public HashSet<uint256> Descendants(uint256 txid)
    {
        var result = new HashSet<uint256>();
        if (!_entries.TryGetValue(txid, out var root))
        {
            return result;
        }

        var stack = new Stack<uint256>(Children(root));
        while (stack.Count > 0)
        {
            var next = stack.Pop();
            if (!result.Add(next))
            {
                continue;
            }

            foreach (var child in Children(_entries[next]))
            {
                stack.Push(child);
            }
        }

        return result;
    }

    /// <summary>BIP125: whether the transaction or any in-mempool ancestor signals replaceability.</summary>
    public bool IsReplaceable(MempoolEntry entry)
    {
        if (SignalsOptIn(entry.Transaction))
        {
            return true;
        }

        foreach (var ancestor in Ancestors(entry.Transaction))
        {
            if (SignalsOptIn(_entries[ancestor].Transaction))
            {
                return true;
            }
        }

        return false;
    }

    public static bool SignalsOptIn(Transaction tx) => tx.Inputs.Any(i => (uint)i.Sequence < 0xfffffffe);

    /// <summary>Entries ordered so that parents come before children.</summary>
    public List<MempoolEntry> InTopologicalOrder() => _entries.Values.OrderBy(e => e.Sequence).ToList();
}
