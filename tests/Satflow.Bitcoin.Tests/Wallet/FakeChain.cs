using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Tests.Wallet;

/// <summary>
/// An in-memory regtest chain for wallet tests: builds blocks with NBitcoin (no proof of work), keeps a mempool, feeds
/// <see cref="IBlockListener"/>s in order (disconnects from the tip down on a reorg) and serves <see cref="IChainSource"/>.
/// </summary>
internal sealed class FakeChain : IChainSource
{
    private readonly List<Block> _best = [];
    private readonly Dictionary<uint256, (Block Block, int Height)> _known = [];
    private readonly Dictionary<OutPoint, TxOut> _outputs = [];
    private readonly List<IBlockListener> _listeners = [];
    private uint _nonce;

    public FakeChain()
    {
        var genesis = Network.GetGenesis();
        _best.Add(genesis);
        _known[genesis.GetHash()] = (genesis, 0);
    }

    public Network Network { get; } = Network.RegTest;

    public List<Transaction> Mempool { get; } = [];

    public int Height => _best.Count - 1;

    public Block TipBlock => _best[^1];

    /// <summary>A script nobody in the tests owns.</summary>
    public static Script Burn { get; } = new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Segwit);

    public void Subscribe(IBlockListener listener) => _listeners.Add(listener);

    public void Unsubscribe(IBlockListener listener) => _listeners.Remove(listener);

    /// <summary>A transaction from "someone else" paying <paramref name="to"/> (its input is made up).</summary>
    public Transaction Pay(Script to, Money amount, int extraOutputs = 0)
    {
        var tx = Network.CreateTransaction();
        tx.Inputs.Add(new TxIn(new OutPoint(RandomUtils.GetUInt256(), 0)));
        tx.Outputs.Add(new TxOut(amount, to));
        for (var i = 0; i < extraOutputs; i++)
        {
            tx.Outputs.Add(new TxOut(Money.Coins(1), Burn));
        }
        Remember(tx);
        return tx;
    }

    /// <summary>Mines one block holding the mempool (when asked) and <paramref name="txs"/>, with a coinbase to <paramref name="coinbaseTo"/>.</summary>
    public async Task<Block> MineAsync(IEnumerable<Transaction>? txs = null, bool includeMempool = true, Script? coinbaseTo = null)
    {
        var block = BuildBlock(TipBlock, Height + 1, txs, includeMempool, coinbaseTo);
        await ConnectAsync(block);
        return block;
    }

    /// <summary>Mines <paramref name="count"/> empty blocks.</summary>
    public async Task MineEmptyAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await MineAsync(includeMempool: false);
        }
    }

    /// <summary>Disconnects the top <paramref name="depth"/> blocks (telling the listeners), returning their transactions to nobody.</summary>
    public async Task DisconnectAsync(int depth)
    {
        for (var i = 0; i < depth; i++)
        {
            var block = _best[^1];
            var height = Height;
            _best.RemoveAt(_best.Count - 1);
            foreach (var l in _listeners)
            {
                await l.BlockDisconnectedAsync(block.Header, height);
            }
        }
    }

    public Block BuildBlock(Block parent, int height, IEnumerable<Transaction>? txs, bool includeMempool, Script? coinbaseTo)
    {
        var block = Network.Consensus.ConsensusFactory.CreateBlock();
        block.Header.HashPrevBlock = parent.GetHash();
        block.Header.BlockTime = parent.Header.BlockTime + TimeSpan.FromMinutes(10);
        block.Header.Bits = parent.Header.Bits;
        block.Header.Nonce = ++_nonce;
        var coinbase = Network.CreateTransaction();
        coinbase.Inputs.Add(new TxIn(new Script(Op.GetPushOp(height), Op.GetPushOp(_nonce))));
        coinbase.Outputs.Add(new TxOut(Money.Coins(50), coinbaseTo ?? Burn));
        block.Transactions.Add(coinbase);
        Remember(coinbase);
        if (includeMempool)
        {
            block.Transactions.AddRange(Mempool);
            Mempool.Clear();
        }
        foreach (var tx in txs ?? [])
        {
            Remember(tx);
            block.Transactions.Add(tx);
        }
        block.UpdateMerkleRoot();
        return block;
    }

    public async Task ConnectAsync(Block block)
    {
        _best.Add(block);
        _known[block.GetHash()] = (block, Height);
        foreach (var l in _listeners)
        {
            await l.BlockConnectedAsync(block, Height);
        }
    }

    /// <summary>Accepts a transaction into the mempool after checking inputs, scripts and BIP125 replacement fees.</summary>
    public void Accept(Transaction tx)
    {
        var spent = new TxOut[tx.Inputs.Count];
        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            if (!_outputs.TryGetValue(tx.Inputs[i].PrevOut, out var o))
            {
                throw new BroadcastRejectedException(-25, "bad-txns-inputs-missingorspent");
            }
            spent[i] = o;
        }
        var validator = tx.CreateValidator(spent);
        foreach (var result in validator.ValidateInputs())
        {
            if (result.Error is { } error)
            {
                throw new BroadcastRejectedException(-26, $"mandatory-script-verify-flag-failed ({error})");
            }
        }
        var fee = spent.Sum(o => o.Value.Satoshi) - tx.Outputs.Sum(o => o.Value.Satoshi);
        if (fee * 1000 < tx.GetVirtualSize() * 1000L)
        {
            throw new BroadcastRejectedException(-26, "min relay fee not met");
        }
        var conflicts = Mempool.Where(m => m.Inputs.Any(mi => tx.Inputs.Any(ti => ti.PrevOut == mi.PrevOut))).ToList();
        if (conflicts.Count > 0)
        {
            var replacedFee = conflicts.Sum(Fee);
            if (conflicts.Any(c => !c.Inputs.Any(i => (uint)i.Sequence < 0xFFFFFFFE)))
            {
                throw new BroadcastRejectedException(-26, "txn-mempool-conflict");
            }
            if (fee < replacedFee + tx.GetVirtualSize())
            {
                throw new BroadcastRejectedException(-26, "insufficient fee");
            }
            Mempool.RemoveAll(conflicts.Contains);
        }
        Remember(tx);
        Mempool.Add(tx);
    }

    public long Fee(Transaction tx) =>
        tx.Inputs.Sum(i => _outputs[i.PrevOut].Value.Satoshi) - tx.Outputs.Sum(o => o.Value.Satoshi);

    private void Remember(Transaction tx)
    {
        var id = tx.GetHash();
        for (var i = 0; i < tx.Outputs.Count; i++)
        {
            _outputs[new OutPoint(id, i)] = tx.Outputs[i];
        }
    }

    public Task<ChainTip> GetTipAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new ChainTip(Height, TipBlock.GetHash()));

    public Task<uint256?> GetBlockHashAsync(int height, CancellationToken cancellationToken = default) =>
        Task.FromResult(height >= 0 && height <= Height ? _best[height].GetHash() : null);

    public Task<ChainHeader?> GetHeaderAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        if (!_known.TryGetValue(blockHash, out var entry))
        {
            return Task.FromResult<ChainHeader?>(null);
        }
        var inBest = entry.Height <= Height && _best[entry.Height].GetHash() == blockHash;
        return Task.FromResult<ChainHeader?>(new ChainHeader(entry.Block.Header, entry.Height, inBest ? Height - entry.Height + 1 : -1));
    }

    public Task<Block?> GetBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default) =>
        Task.FromResult(_known.TryGetValue(blockHash, out var entry) ? entry.Block : null);

    public Task<ChainTransaction?> GetTransactionAsync(uint256 txid, CancellationToken cancellationToken = default)
    {
        if (Mempool.FirstOrDefault(t => t.GetHash() == txid) is { } m)
        {
            return Task.FromResult<ChainTransaction?>(new ChainTransaction(m, 0, null, null));
        }
        for (var h = Height; h >= 0; h--)
        {
            if (_best[h].Transactions.FirstOrDefault(t => t.GetHash() == txid) is { } t)
            {
                return Task.FromResult<ChainTransaction?>(new ChainTransaction(t, Height - h + 1, _best[h].GetHash(), h));
            }
        }
        return Task.FromResult<ChainTransaction?>(null);
    }

    public Task<OutPointStatus> GetOutPointStatusAsync(OutPoint outpoint, bool includeMempool = true, CancellationToken cancellationToken = default)
    {
        bool SpentIn(IEnumerable<Transaction> txs) => txs.Any(t => t.Inputs.Any(i => i.PrevOut == outpoint));
        for (var h = 0; h <= Height; h++)
        {
            var creator = _best[h].Transactions.FirstOrDefault(t => t.GetHash() == outpoint.Hash);
            if (creator is null)
            {
                continue;
            }
            if (outpoint.N >= creator.Outputs.Count)
            {
                return Task.FromResult(OutPointStatus.Unknown);
            }
            var spent = _best.Skip(h).Any(b => SpentIn(b.Transactions)) || (includeMempool && SpentIn(Mempool));
            return Task.FromResult(spent ? OutPointStatus.Spent : new OutPointStatus(OutPointState.Unspent, creator.Outputs[(int)outpoint.N], Height - h + 1));
        }
        if (includeMempool && Mempool.FirstOrDefault(t => t.GetHash() == outpoint.Hash) is { } mtx && outpoint.N < mtx.Outputs.Count)
        {
            return Task.FromResult(SpentIn(Mempool) ? OutPointStatus.Spent : new OutPointStatus(OutPointState.Unspent, mtx.Outputs[(int)outpoint.N], 0));
        }
        return Task.FromResult(OutPointStatus.Unknown);
    }
}

/// <summary>A broadcaster that records every transaction and hands it to the fake chain's mempool.</summary>
internal sealed class RecordingBroadcaster(FakeChain? chain = null) : IBroadcaster
{
    public List<Transaction> Broadcast { get; } = [];

    public Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default)
    {
        chain?.Accept(transaction);
        Broadcast.Add(transaction);
        return Task.CompletedTask;
    }
}
