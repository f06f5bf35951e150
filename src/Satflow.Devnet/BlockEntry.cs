using NBitcoin;

namespace Satflow.Devnet;

/// <summary>A block the devnet knows: its data, its place in the block tree and whether it is invalid.</summary>
internal sealed class BlockEntry
{
    private long? _medianTimePast;

    public BlockEntry(Block block, BlockEntry? prev, long sequence)
    {
        Block = block;
        Hash = block.GetHash();
        Prev = prev;
        Height = prev is null ? 0 : prev.Height + 1;
        Sequence = sequence;
    }

    public Block Block { get; }

    public BlockHeader Header => Block.Header;

    public uint256 Hash { get; }

    public BlockEntry? Prev { get; }

    public int Height { get; }

    public long Sequence { get; }

    /// <summary>The block, or one of its ancestors, broke a rule or was invalidated.</summary>
    public bool Failed { get; set; }

    /// <summary>The reason it failed validation (null when invalidated by hand or not failed).</summary>
    public string? FailureReason { get; set; }

    /// <summary>Fee and vsize of each non-coinbase transaction, known once the block has been connected.</summary>
    public List<(long Fee, int VSize)>? TxFees { get; set; }

    public long Time => Header.BlockTime.ToUnixTimeSeconds();

    /// <summary>Median of the timestamps of this block and its 10 predecessors.</summary>
    public long MedianTimePast
    {
        get
        {
            if (_medianTimePast is { } cached)
            {
                return cached;
            }

            var times = new List<long>(11);
            for (var e = this; e is not null && times.Count < 11; e = e.Prev)
            {
                times.Add(e.Time);
            }

            times.Sort();
            var median = times[times.Count / 2];
            _medianTimePast = median;
            return median;
        }
    }

    public BlockEntry? GetAncestor(int height)
    {
        if (height > Height || height < 0)
        {
            return null;
        }

        var e = this;
        while (e is not null && e.Height > height)
        {
            e = e.Prev;
        }

        return e;
    }
}
