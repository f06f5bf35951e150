using NBitcoin;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Monitor;

/// <summary>A confirmed transaction of the channel's spend tree.</summary>
/// <param name="Transaction">The transaction.</param>
/// <param name="TxId">Its id.</param>
/// <param name="Height">The height of its block.</param>
/// <param name="BlockHash">Its block.</param>
/// <param name="Depth">1 for the funding spend, 2 for its children, 3 for grandchildren.</param>
internal sealed record SeenTransaction(Transaction Transaction, uint256 TxId, uint Height, uint256 BlockHash, int Depth);

/// <summary>
/// The confirmed transactions descending from one watched output (up to <see cref="MaxDepth"/> levels), per block, so a
/// disconnected block simply removes what it brought and everything derived from it is recomputed.
/// </summary>
internal sealed class ChainLog
{
    /// <summary>Funding spend, its outputs' spends, and their outputs' spends.</summary>
    public const int MaxDepth = 3;

    private readonly List<SeenTransaction> _seen = [];
    private readonly Dictionary<OutPoint, (SeenTransaction Tx, int Input)> _spends = [];

    public ChainLog(OutPoint watched) => Watched = watched;

    public OutPoint Watched { get; }

    public uint TipHeight { get; private set; }

    public uint256 TipHash { get; private set; } = uint256.Zero;

    public IReadOnlyList<SeenTransaction> Seen => _seen;

    /// <summary>Records the block's transactions that belong to the spend tree; a height at or below the tip replaces the blocks from there.</summary>
    /// <returns>Whether any transaction was recorded.</returns>
    public bool Connect(uint height, uint256 blockHash, IReadOnlyList<Transaction> transactions)
    {
        if (height <= TipHeight)
        {
            Disconnect(height);
        }
        var added = false;
        foreach (var tx in transactions)
        {
            var depth = 0;
            for (var i = 0; i < tx.Inputs.Count; i++)
            {
                var prev = tx.Inputs[i].PrevOut;
                if (prev == Watched)
                {
                    depth = Math.Max(depth, 1);
                }
                else if (FindTx(prev.Hash) is { } parent && parent.Depth < MaxDepth)
                {
                    depth = Math.Max(depth, parent.Depth + 1);
                }
            }
            if (depth > 0)
            {
                Add(new SeenTransaction(tx, tx.GetHash(), height, blockHash, depth));
                added = true;
            }
        }
        TipHeight = height;
        TipHash = blockHash;
        return added;
    }

    /// <summary>Removes the block at <paramref name="height"/> and everything above it.</summary>
    public void Disconnect(uint height)
    {
        _seen.RemoveAll(s => s.Height >= height);
        Reindex();
        TipHeight = height == 0 ? 0 : height - 1;
        TipHash = uint256.Zero;
    }

    /// <summary>The confirmed transaction with this id, if recorded.</summary>
    public SeenTransaction? FindTx(uint256 txId)
    {
        foreach (var s in _seen)
        {
            if (s.TxId == txId)
            {
                return s;
            }
        }
        return null;
    }

    /// <summary>The recorded transaction spending <paramref name="outPoint"/> and the spending input index.</summary>
    public (SeenTransaction Tx, int Input)? SpendOf(OutPoint outPoint) => _spends.TryGetValue(outPoint, out var s) ? s : null;

    /// <summary>Confirmations of a block at <paramref name="height"/> at the current tip.</summary>
    public uint Confirmations(uint height) => TipHeight >= height ? TipHeight - height + 1 : 0;

    public void Write(WireWriter writer)
    {
        writer.WriteUInt32(TipHeight);
        writer.WriteBytes(TipHash.ToBytes());
        writer.WriteUInt32((uint)_seen.Count);
        foreach (var s in _seen)
        {
            writer.WriteUInt32(s.Height);
            writer.WriteBytes(s.BlockHash.ToBytes());
            writer.WriteByte((byte)s.Depth);
            var bytes = s.Transaction.ToBytes();
            writer.WriteUInt32((uint)bytes.Length);
            writer.WriteBytes(bytes);
        }
    }

    /// <summary>Loads what <see cref="Write"/> wrote into this empty log.</summary>
    public void ReadFrom(ref WireReader reader)
    {
        var log = this;
        log.TipHeight = reader.ReadUInt32();
        log.TipHash = new uint256(reader.ReadSpan(32));
        var count = reader.ReadUInt32();
        for (var i = 0u; i < count; i++)
        {
            var height = reader.ReadUInt32();
            var hash = new uint256(reader.ReadSpan(32));
            var depth = reader.ReadByte();
            var length = reader.ReadUInt32();
            if (length > reader.Remaining || depth is 0 or > MaxDepth || height > log.TipHeight)
            {
                throw new ChannelMonitorFormatException("corrupt chain log", "transaction length, depth or height out of range");
            }
            var tx = Transaction.Load(reader.ReadBytes((int)length), Network.Main);
            log.Add(new SeenTransaction(tx, tx.GetHash(), height, hash, depth));
        }
    }

    private void Add(SeenTransaction seen)
    {
        _seen.Add(seen);
        for (var i = 0; i < seen.Transaction.Inputs.Count; i++)
        {
            _spends[seen.Transaction.Inputs[i].PrevOut] = (seen, i);
        }
    }

    private void Reindex()
    {
        _spends.Clear();
        foreach (var s in _seen)
        {
            for (var i = 0; i < s.Transaction.Inputs.Count; i++)
            {
                _spends[s.Transaction.Inputs[i].PrevOut] = (s, i);
            }
        }
    }
}
