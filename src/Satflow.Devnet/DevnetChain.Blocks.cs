using System.Globalization;
using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Devnet;

public sealed partial class DevnetChain
{
    private abstract record ChainEvent;

    private sealed record ConnectedEvent(Block Block, int Height) : ChainEvent;

    private sealed record DisconnectedEvent(BlockHeader Header, int Height) : ChainEvent;

    private sealed record ConnectPlan(
        List<(OutPoint OutPoint, UtxoCoin Coin)> Spent,
        List<(OutPoint OutPoint, UtxoCoin Coin)> Created,
        List<(long Fee, int VSize)> Fees);

    /// <summary>
    /// Submits a block (Core's <c>submitblock</c>): checks it, stores it, and makes the most-work valid chain the best
    /// chain, reorganising when a side branch becomes longer.
    /// </summary>
    public Task<SubmitBlockResult> SubmitBlockAsync(Block block, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        return MutateAsync(events => ProcessBlock(block, events), cancellationToken);
    }

    /// <summary>
    /// Runs one change of the chain: waits for the mutation gate, applies <paramref name="change"/> under the state lock
    /// (it records the connect/disconnect events it causes), then tells the listeners, in order, outside the lock.
    /// </summary>
    private async Task<T> MutateAsync<T>(Func<List<ChainEvent>, T> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<ChainEvent> events = [];
            T result;
            lock (_sync)
            {
                ThrowIfDisposed();
                result = change(events);
            }

            await NotifyAsync(events, cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Core's <c>invalidateblock</c>: marks the block and its descendants invalid, disconnects them if they are in the
    /// best chain (their transactions return to the mempool when still valid) and activates the best valid chain.
    /// </summary>
    /// <returns>False when the block is unknown.</returns>
    public Task<bool> InvalidateBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        return MutateAsync(events =>
        {
            if (!_index.TryGetValue(blockHash, out var entry))
            {
                return false;
            }

            if (entry.Height == 0)
            {
                throw new DevnetValidationException("Genesis block cannot be invalidated", rpcCode: RpcErrorCodes.InvalidParameter);
            }

            List<List<Transaction>> disconnected = [];
            while (IsActive(entry))
            {
                DisconnectTip(events, disconnected);
            }

            MarkFailed(entry, null);
            ActivateBestChain(events, disconnected);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Core's <c>reconsiderblock</c>: clears the invalid mark of the block, its ancestors and its descendants, then
    /// activates the most-work valid chain (blocks that really are invalid are found invalid again when connected).
    /// </summary>
    /// <returns>False when the block is unknown.</returns>
    public Task<bool> ReconsiderBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        return MutateAsync(events =>
        {
            if (!_index.TryGetValue(blockHash, out var entry))
            {
                return false;
            }

            foreach (var other in _index.Values)
            {
                var related = other.GetAncestor(entry.Height) == entry || entry.GetAncestor(other.Height) == other;
                if (related && other.Failed)
                {
                    other.Failed = false;
                    other.FailureReason = null;
                    _store.SetFailed(other.Hash, false);
                }
            }

            ActivateBestChain(events, []);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Core's <c>TestBlockValidity</c>: runs every check for a block that would extend the current tip, without storing
    /// or connecting it.
    /// </summary>
    /// <exception cref="DevnetValidationException">With Core's reject reason.</exception>
    public void TestBlockValidity(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        lock (_sync)
        {
            ThrowIfDisposed();
            var tip = TipEntry;
            if (block.Header.HashPrevBlock != tip.Hash)
            {
                throw new DevnetValidationException("inconclusive-not-best-prevblk");
            }

            DevnetConsensus.CheckBlock(block);
            ContextualCheckBlockHeader(block.Header, tip);
            ContextualCheckBlock(block, tip);
            PlanConnect(block, tip.Height + 1, tip);
        }
    }

    private async Task NotifyAsync(List<ChainEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        IBlockListener[] listeners;
        lock (_sync)
        {
            listeners = [.. _listeners];
        }

        foreach (var e in events)
        {
            foreach (var listener in listeners)
            {
                if (e is ConnectedEvent c)
                {
                    await listener.BlockConnectedAsync(c.Block, c.Height, cancellationToken).ConfigureAwait(false);
                }
                else if (e is DisconnectedEvent d)
                {
                    await listener.BlockDisconnectedAsync(d.Header, d.Height, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private SubmitBlockResult ProcessBlock(Block block, List<ChainEvent> events)
    {
        var hash = block.GetHash();
        if (_index.TryGetValue(hash, out var existing))
        {
            return new SubmitBlockResult(existing.Failed ? SubmitBlockStatus.DuplicateInvalid : SubmitBlockStatus.Duplicate);
        }

        BlockEntry entry;
        try
        {
            DevnetConsensus.CheckBlock(block);
            if (!_index.TryGetValue(block.Header.HashPrevBlock, out var prev))
            {
                throw new DevnetValidationException("prev-blk-not-found");
            }

            if (prev.Failed)
            {
                throw new DevnetValidationException("bad-prevblk");
            }

            ContextualCheckBlockHeader(block.Header, prev);
            ContextualCheckBlock(block, prev);
            entry = new BlockEntry(block, prev, _nextBlockSequence++);
        }
        catch (DevnetValidationException ex)
        {
            return new SubmitBlockResult(SubmitBlockStatus.Rejected, ex.Reason);
        }

        _store.InsertBlock(entry.Hash, entry.Height, entry.Sequence, block);
        _index[entry.Hash] = entry;
        List<List<Transaction>> disconnected = [];
        ActivateBestChain(events, disconnected);
        if (entry.Failed)
        {
            return new SubmitBlockResult(SubmitBlockStatus.Rejected, entry.FailureReason ?? "bad-prevblk");
        }

        return IsActive(entry) ? new SubmitBlockResult(SubmitBlockStatus.Accepted) : new SubmitBlockResult(SubmitBlockStatus.Inconclusive);
    }

    private void ContextualCheckBlockHeader(BlockHeader header, BlockEntry prev)
    {
        if (header.Bits.ToCompact() != DevnetConsensus.RegtestBits)
        {
            throw new DevnetValidationException("bad-diffbits", "incorrect proof of work");
        }

        var time = header.BlockTime.ToUnixTimeSeconds();
        if (time <= prev.MedianTimePast)
        {
            throw new DevnetValidationException("time-too-old", "block's timestamp is too early");
        }

        if (header.BlockTime > Clock.GetUtcNow() + DevnetConsensus.MaxFutureBlockTime)
        {
            throw new DevnetValidationException("time-too-new", "block timestamp too far in the future");
        }

        if (header.Version < 4)
        {
            throw new DevnetValidationException(
                string.Create(CultureInfo.InvariantCulture, $"bad-version(0x{header.Version:x8})"),
                string.Create(CultureInfo.InvariantCulture, $"rejected nVersion=0x{header.Version:x8} block"));
        }
    }

    private static void ContextualCheckBlock(Block block, BlockEntry prev)
    {
        var height = prev.Height + 1;
        var lockTimeCutoff = prev.MedianTimePast;
        foreach (var tx in block.Transactions)
        {
            if (!DevnetConsensus.IsFinal(tx, height, lockTimeCutoff))
            {
                throw new DevnetValidationException("bad-txns-nonfinal", "non-final transaction");
            }
        }

        var expected = new Script(Op.GetPushOp(height)).ToBytes(true);
        var scriptSig = block.Transactions[0].Inputs[0].ScriptSig.ToBytes(true);
        if (scriptSig.Length < expected.Length || !scriptSig.AsSpan(0, expected.Length).SequenceEqual(expected))
        {
            throw new DevnetValidationException("bad-cb-height", "block height mismatch in coinbase");
        }

        var commitmentIndex = DevnetConsensus.GetWitnessCommitmentIndex(block);
        if (commitmentIndex >= 0)
        {
            var witness = block.Transactions[0].Inputs[0].WitScript;
            if (witness.PushCount != 1 || witness[0].Length != 32)
            {
                throw new DevnetValidationException("bad-witness-nonce-size", "invalid witness reserved value size");
            }

            var commitment = DevnetConsensus.ComputeWitnessCommitment(DevnetConsensus.ComputeWitnessMerkleRoot(block), witness[0]);
            var script = block.Transactions[0].Outputs[commitmentIndex].ScriptPubKey.ToBytes(true);
            if (!script.AsSpan(6, 32).SequenceEqual(commitment))
            {
                throw new DevnetValidationException("bad-witness-merkle-match", "witness merkle commitment mismatch");
            }
        }
        else if (block.Transactions.Any(t => t.HasWitness))
        {
            throw new DevnetValidationException("unexpected-witness", "unexpected witness data found");
        }

        if (DevnetConsensus.BlockWeight(block) > DevnetConsensus.MaxBlockWeight)
        {
            throw new DevnetValidationException("bad-blk-weight", "weight limit failed");
        }
    }

    /// <summary>Core's ConnectBlock checks against the UTXO set; returns the coin changes without applying them.</summary>
    private ConnectPlan PlanConnect(Block block, int height, BlockEntry prev)
    {
        var spent = new List<(OutPoint, UtxoCoin)>();
        var created = new Dictionary<OutPoint, UtxoCoin>();
        var spentSet = new HashSet<OutPoint>();
        var fees = new List<(long, int)>();
        long totalFees = 0;
        long sigOpCost = 0;
        var prevMtp = prev.MedianTimePast;
        var validators = new List<(Transaction Tx, TxOut[] Spent)>();

        foreach (var tx in block.Transactions)
        {
            if (!tx.IsCoinBase)
            {
                var coins = new UtxoCoin[tx.Inputs.Count];
                for (var i = 0; i < tx.Inputs.Count; i++)
                {
                    var prevOut = tx.Inputs[i].PrevOut;
                    if (spentSet.Contains(prevOut))
                    {
                        throw new DevnetValidationException("bad-txns-inputs-missingorspent", "CheckTxInputs: inputs missing/spent", RpcErrorCodes.TransactionError);
                    }

                    if (created.TryGetValue(prevOut, out var coin) || _utxo.TryGetValue(prevOut, out coin))
                    {
                        coins[i] = coin;
                    }
                    else
                    {
                        throw new DevnetValidationException("bad-txns-inputs-missingorspent", "CheckTxInputs: inputs missing/spent", RpcErrorCodes.TransactionError);
                    }
                }

                var fee = CheckTxInputs(tx, coins, height);
                if (!SequenceLocksSatisfied(tx, coins.Select(c => c.Height).ToArray(), height, prevMtp, prev))
                {
                    throw new DevnetValidationException("bad-txns-nonfinal", "contains a non-BIP68-final transaction");
                }

                for (var i = 0; i < tx.Inputs.Count; i++)
                {
                    var prevOut = tx.Inputs[i].PrevOut;
                    spentSet.Add(prevOut);
                    if (!created.Remove(prevOut))
                    {
                        spent.Add((prevOut, coins[i]));
                    }
                }

                totalFees += fee;
                fees.Add((fee, DevnetConsensus.VirtualSize(tx)));
                var spentOutputs = coins.Select(c => c.Output).ToArray();
                validators.Add((tx, spentOutputs));
                sigOpCost += DevnetConsensus.SigOpCost(tx, spentOutputs);
            }
            else
            {
                sigOpCost += DevnetConsensus.SigOpCost(tx, []);
            }

            if (sigOpCost > DevnetConsensus.MaxBlockSigOpsCost)
            {
                throw new DevnetValidationException("bad-blk-sigops", "too many sigops");
            }

            var txid = tx.GetHash();
            for (var o = 0; o < tx.Outputs.Count; o++)
            {
                if (!tx.Outputs[o].ScriptPubKey.IsUnspendable)
                {
                    created[new OutPoint(txid, o)] = new UtxoCoin(tx.Outputs[o], height, tx.IsCoinBase);
                }
            }
        }

        var reward = block.Transactions[0].TotalOut.Satoshi;
        var limit = totalFees + DevnetConsensus.GetBlockSubsidy(height).Satoshi;
        if (reward > limit)
        {
            throw new DevnetValidationException(
                "bad-cb-amount",
                string.Create(CultureInfo.InvariantCulture, $"coinbase pays too much (actual={reward} vs limit={limit})"));
        }

        VerifyBlockScripts(validators, Options.ScriptVerificationThreads);

        return new ConnectPlan(spent, created.Select(kv => (kv.Key, kv.Value)).ToList(), fees);
    }

    private static long CheckTxInputs(Transaction tx, UtxoCoin[] coins, int spendHeight)
    {
        long valueIn = 0;
        foreach (var coin in coins)
        {
            if (coin.IsCoinbase && spendHeight - coin.Height < DevnetConsensus.CoinbaseMaturity)
            {
                throw new DevnetValidationException(
                    "bad-txns-premature-spend-of-coinbase",
                    string.Create(CultureInfo.InvariantCulture, $"tried to spend coinbase at depth {spendHeight - coin.Height}"));
            }

            var value = coin.Output.Value.Satoshi;
            valueIn += value;
            if (value < 0 || value > DevnetConsensus.MaxMoney || valueIn > DevnetConsensus.MaxMoney)
            {
                throw new DevnetValidationException("bad-txns-inputvalues-outofrange");
            }
        }

        var valueOut = tx.TotalOut.Satoshi;
        if (valueIn < valueOut)
        {
            throw new DevnetValidationException(
                "bad-txns-in-belowout",
                string.Create(CultureInfo.InvariantCulture, $"value in ({FormatAmount(Money.Satoshis(valueIn))}) < value out ({FormatAmount(Money.Satoshis(valueOut))})"));
        }

        return valueIn - valueOut;
    }

    /// <summary>BIP68 relative lock-times, evaluated for a block at <paramref name="height"/> whose parent has <paramref name="prevMtp"/>.</summary>
    private bool SequenceLocksSatisfied(Transaction tx, int[] coinHeights, int height, long prevMtp, BlockEntry prev)
    {
        if (tx.Version < 2)
        {
            return true;
        }

        long minHeight = -1;
        long minTime = -1;
        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            var sequence = (uint)tx.Inputs[i].Sequence;
            if ((sequence & DevnetConsensus.SequenceLockTimeDisableFlag) != 0)
            {
                continue;
            }

            var coinHeight = coinHeights[i];
            if ((sequence & DevnetConsensus.SequenceLockTimeTypeFlag) != 0)
            {
                var ancestor = prev.GetAncestor(Math.Max(coinHeight - 1, 0)) ?? prev;
                var coinTime = ancestor.MedianTimePast;
                minTime = Math.Max(minTime, coinTime + ((long)(sequence & DevnetConsensus.SequenceLockTimeMask) << 9) - 1);
            }
            else
            {
                minHeight = Math.Max(minHeight, coinHeight + (long)(sequence & DevnetConsensus.SequenceLockTimeMask) - 1);
            }
        }

        return minHeight < height && minTime < prevMtp;
    }

    /// <summary>
    /// Verifies every script of a block, spreading transactions over up to <paramref name="threads"/> cores the way
    /// Bitcoin Core's script-check queue does (signature checks dominate block validation). The call returns only
    /// when all checks are done; the error reported is always the first failing transaction in block order, so the
    /// result does not depend on scheduling.
    /// </summary>
    private static void VerifyBlockScripts(List<(Transaction Tx, TxOut[] Spent)> validators, int threads)
    {
        if (threads <= 1 || validators.Count < 2)
        {
            foreach (var (tx, spentOutputs) in validators)
            {
                VerifyScripts(tx, spentOutputs, DevnetConsensus.ConsensusFlags, policy: false);
            }
            return;
        }

        var failures = new DevnetValidationException?[validators.Count];
        Parallel.For(0, validators.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, (i, state) =>
        {
            try
            {
                VerifyScripts(validators[i].Tx, validators[i].Spent, DevnetConsensus.ConsensusFlags, policy: false);
            }
            catch (DevnetValidationException ex)
            {
                failures[i] = ex;
                state.Break(); // earlier transactions still finish, so the first failure in block order is known
            }
        });
        foreach (var failure in failures)
        {
            if (failure is not null)
            {
                throw failure;
            }
        }
    }

    private static void VerifyScripts(Transaction tx, TxOut[] spentOutputs, ScriptVerify flags, bool policy)
    {
        var validator = tx.CreateValidator(spentOutputs);
        validator.ScriptVerify = flags;
        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            if (validator.TryValidateInput(i, out var result))
            {
                continue;
            }

            if (policy)
            {
                var consensus = tx.CreateValidator(spentOutputs);
                consensus.ScriptVerify = DevnetConsensus.ConsensusFlags;
                if (consensus.TryValidateInput(i, out _))
                {
                    throw new DevnetValidationException(
                        $"non-mandatory-script-verify-flag ({DevnetConsensus.ScriptErrorText(result.Error)})");
                }
            }

            throw new DevnetValidationException(
                $"mandatory-script-verify-flag-failed ({DevnetConsensus.ScriptErrorText(result.Error)})");
        }
    }

    private void MarkFailed(BlockEntry entry, string? reason)
    {
        entry.Failed = true;
        entry.FailureReason = reason;
        _store.SetFailed(entry.Hash, true);
        foreach (var other in _index.Values)
        {
            if (!other.Failed && other.Height > entry.Height && other.GetAncestor(entry.Height) == entry)
            {
                other.Failed = true;
                _store.SetFailed(other.Hash, true);
            }
        }
    }

    private BlockEntry FindMostWorkValid()
    {
        BlockEntry? best = null;
        foreach (var e in _index.Values)
        {
            if (e.Failed)
            {
                continue;
            }

            if (best is null || e.Height > best.Height || (e.Height == best.Height && e.Sequence < best.Sequence))
            {
                best = e;
            }
        }

        return best!;
    }

    private void ActivateBestChain(List<ChainEvent> events, List<List<Transaction>> disconnected)
    {
        while (true)
        {
            var best = FindMostWorkValid();
            var tip = TipEntry;
            if (best == tip || best.Height < tip.Height || (best.Height == tip.Height && best.Sequence > tip.Sequence))
            {
                break;
            }

            var fork = best.GetAncestor(Math.Min(best.Height, tip.Height))!;
            while (!IsActive(fork))
            {
                fork = fork.Prev!;
            }

            while (TipEntry != fork)
            {
                DisconnectTip(events, disconnected);
            }

            var path = new List<BlockEntry>();
            for (var e = best; e != fork; e = e.Prev!)
            {
                path.Add(e);
            }

            path.Reverse();
            foreach (var e in path)
            {
                try
                {
                    ConnectTip(e, events);
                }
                catch (DevnetValidationException ex)
                {
                    MarkFailed(e, ex.Reason);
                    break;
                }
            }
        }

        if (disconnected.Count > 0)
        {
            ResubmitAfterReorg(disconnected);
        }
    }

    private void ConnectTip(BlockEntry entry, List<ChainEvent> events)
    {
        var plan = PlanConnect(entry.Block, entry.Height, entry.Prev!);
        var blockTxids = entry.Block.Transactions.Select(t => t.GetHash()).ToHashSet();
        var evicted = new HashSet<uint256>();
        foreach (var tx in entry.Block.Transactions)
        {
            if (_mempool.Contains(tx.GetHash()))
            {
                evicted.Add(tx.GetHash());
            }

            if (tx.IsCoinBase)
            {
                continue;
            }

            foreach (var input in tx.Inputs)
            {
                if (_mempool.SpenderOf(input.PrevOut) is { } spender && !blockTxids.Contains(spender))
                {
                    evicted.Add(spender);
                    evicted.UnionWith(_mempool.Descendants(spender));
                }
            }
        }

        _store.Begin();
        try
        {
            foreach (var (outPoint, _) in plan.Spent)
            {
                _store.RemoveCoin(outPoint);
            }

            foreach (var (outPoint, coin) in plan.Created)
            {
                _store.AddCoin(outPoint, coin);
            }

            _store.PutUndo(entry.Hash, plan.Spent);
            _store.SetMeta("tip", entry.Hash.ToString());
            foreach (var txid in evicted)
            {
                _store.RemoveMempoolTx(txid);
            }

            _store.Commit();
        }
        catch
        {
            _store.Rollback();
            throw;
        }

        foreach (var (outPoint, _) in plan.Spent)
        {
            _utxo.Remove(outPoint);
        }

        foreach (var (outPoint, coin) in plan.Created)
        {
            _utxo[outPoint] = coin;
        }

        for (var i = 0; i < entry.Block.Transactions.Count; i++)
        {
            _txIndex[entry.Block.Transactions[i].GetHash()] = (entry, i);
        }

        foreach (var txid in evicted)
        {
            _mempool.Remove(txid);
        }

        entry.TxFees = plan.Fees;
        _active.Add(entry);
        events.Add(new ConnectedEvent(entry.Block, entry.Height));
    }

    private void DisconnectTip(List<ChainEvent> events, List<List<Transaction>> disconnected)
    {
        var entry = TipEntry;
        var undo = _store.GetUndo(entry.Hash);
        var createdOutPoints = new List<OutPoint>();
        foreach (var tx in entry.Block.Transactions)
        {
            var txid = tx.GetHash();
            for (var o = 0; o < tx.Outputs.Count; o++)
            {
                var outPoint = new OutPoint(txid, o);
                if (_utxo.ContainsKey(outPoint))
                {
                    createdOutPoints.Add(outPoint);
                }
            }
        }

        _store.Begin();
        try
        {
            foreach (var outPoint in createdOutPoints)
            {
                _store.RemoveCoin(outPoint);
            }

            foreach (var (outPoint, coin) in undo)
            {
                _store.AddCoin(outPoint, coin);
            }

            _store.DeleteUndo(entry.Hash);
            _store.SetMeta("tip", entry.Prev!.Hash.ToString());
            _store.Commit();
        }
        catch
        {
            _store.Rollback();
            throw;
        }

        foreach (var outPoint in createdOutPoints)
        {
            _utxo.Remove(outPoint);
        }

        foreach (var (outPoint, coin) in undo)
        {
            _utxo[outPoint] = coin;
        }

        foreach (var tx in entry.Block.Transactions)
        {
            _txIndex.Remove(tx.GetHash());
        }

        _active.RemoveAt(_active.Count - 1);
        entry.TxFees = null;
        disconnected.Add(entry.Block.Transactions.Where(t => !t.IsCoinBase).ToList());
        events.Add(new DisconnectedEvent(entry.Header, entry.Height));
    }

    /// <summary>After a reorg: disconnected transactions go back to the mempool, then every mempool entry is re-checked.</summary>
    private void ResubmitAfterReorg(List<List<Transaction>> disconnected)
    {
        var candidates = new List<(Transaction Tx, long Time)>();
        for (var i = disconnected.Count - 1; i >= 0; i--)
        {
            foreach (var tx in disconnected[i])
            {
                candidates.Add((tx, Clock.GetUtcNow().ToUnixTimeSeconds()));
            }
        }

        foreach (var entry in _mempool.InTopologicalOrder())
        {
            candidates.Add((entry.Transaction, entry.Time));
        }

        disconnected.Clear();
        _store.Begin();
        try
        {
            foreach (var entry in _mempool.Entries)
            {
                _store.RemoveMempoolTx(entry.Txid);
            }

            _mempool.Clear();
            var seen = new HashSet<uint256>();
            foreach (var (tx, time) in candidates)
            {
                var txid = tx.GetHash();
                if (!seen.Add(txid) || _txIndex.ContainsKey(txid))
                {
                    continue;
                }

                try
                {
                    AcceptCore(tx, testOnly: false, bypassFeeChecks: true, maxFee: null, entryTime: time);
                }
                catch (DevnetValidationException)
                {
                    // No longer valid on the new chain: dropped like Core's MaybeUpdateMempoolForReorg.
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
}
