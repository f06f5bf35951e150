using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Tests.Chain;

/// <summary>An in-memory block tree whose best chain the test picks; enough to drive <see cref="ChainSync"/>.</summary>
internal sealed class FakeChainSource : IChainSource
{
    private readonly Dictionary<uint256, (Block Block, int Height)> _blocks = [];
    private readonly List<uint256> _best = [];
    private int _counter;

    public FakeChainSource()
    {
        var genesis = Network.GetGenesis();
        _blocks[genesis.GetHash()] = (genesis, 0);
        _best.Add(genesis.GetHash());
    }

    public Network Network => Network.RegTest;

    public ChainTip Tip => new(_best.Count - 1, _best[^1]);

    /// <summary>Mines blocks on top of <paramref name="parent"/> (default: the tip) and makes the new branch the best chain.</summary>
    public IReadOnlyList<uint256> Mine(int count, uint256? parent = null)
    {
        var tip = parent ?? _best[^1];
        var mined = new List<uint256>();
        for (var i = 0; i < count; i++)
        {
            var (parentBlock, height) = _blocks[tip];
            var address = new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network);
            var block = parentBlock.CreateNextBlockWithCoinbase(address, height + 1);
            block.Header.Nonce = (uint)Interlocked.Increment(ref _counter);
            tip = block.GetHash();
            _blocks[tip] = (block, height + 1);
            mined.Add(tip);
        }

        SetBest(tip);
        return mined;
    }

    /// <summary>Makes <paramref name="tip"/> the best block (like invalidating the blocks above a fork point).</summary>
    public void SetBest(uint256 tip)
    {
        var chain = new List<uint256>();
        for (var h = tip; ; h = _blocks[h].Block.Header.HashPrevBlock)
        {
            chain.Add(h);
            if (_blocks[h].Height == 0)
            {
                break;
            }
        }

        chain.Reverse();
        _best.Clear();
        _best.AddRange(chain);
    }

    public Task<ChainTip> GetTipAsync(CancellationToken cancellationToken = default)
    {
        return Task.FromResult(Tip);
    }

    public Task<uint256?> GetBlockHashAsync(int height, CancellationToken cancellationToken = default)
    {
        return Task.FromResult(height < _best.Count ? _best[height] : null);
    }

    public Task<ChainHeader?> GetHeaderAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        if (!_blocks.TryGetValue(blockHash, out var entry))
        {
            return Task.FromResult<ChainHeader?>(null);
        }

        var inBest = entry.Height < _best.Count && _best[entry.Height] == blockHash;
        return Task.FromResult<ChainHeader?>(new ChainHeader(entry.Block.Header, entry.Height, inBest ? _best.Count - entry.Height : -1));
    }

    public Task<Block?> GetBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        return Task.FromResult(_blocks.TryGetValue(blockHash, out var entry) ? entry.Block : null);
    }

    public Task<ChainTransaction?> GetTransactionAsync(uint256 txid, CancellationToken cancellationToken = default)
    {
        for (var height = 0; height < _best.Count; height++)
        {
            var tx = _blocks[_best[height]].Block.Transactions.FirstOrDefault(t => t.GetHash() == txid);
            if (tx is not null)
            {
                return Task.FromResult<ChainTransaction?>(new ChainTransaction(tx, _best.Count - height, _best[height], height));
            }
        }

        return Task.FromResult<ChainTransaction?>(null);
    }

    public Task<OutPointStatus> GetOutPointStatusAsync(OutPoint outpoint, bool includeMempool = true, CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException("ChainSync never asks for outpoints; this fake does not track the UTXO set.");
}

/// <summary>Records the events it receives as "+height:hash" and "-height:hash".</summary>
internal sealed class RecordingListener : IBlockListener
{
    public List<string> Events { get; } = [];

    public Func<int, bool>? FailOnConnect { get; set; }

    public ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
    {
        if (FailOnConnect?.Invoke(height) == true)
        {
            throw new InvalidOperationException($"listener failed at {height}");
        }

        Events.Add($"+{height}:{block.GetHash()}");
        return ValueTask.CompletedTask;
    }

    public ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default)
    {
        Events.Add($"-{height}:{header.GetHash()}");
        return ValueTask.CompletedTask;
    }
}
