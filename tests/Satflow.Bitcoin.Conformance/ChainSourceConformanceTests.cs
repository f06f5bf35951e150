using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Conformance;

/// <summary>
/// The chain-source conformance kit. Every backend (the embedded devnet, the Bitcoin Core RPC client, ...) inherits this
/// class in its own test project, supplies a fresh controllable regtest chain per test, and so runs every test below.
/// xunit creates one instance per test; <see cref="InitializeAsync"/> creates the source, broadcaster and fee estimator.
/// </summary>
/// <remarks>
/// The tests assume a regtest chain: coinbase maturity 100, mining on demand, Bitcoin Core's relay policy and reject
/// reasons. Mined blocks include the mempool (as <c>generatetoaddress</c> does).
/// </remarks>
public abstract class ChainSourceConformanceTests : IAsyncLifetime
{
    private IChainSource? _source;
    private IBroadcaster? _broadcaster;
    private IFeeEstimator? _feeEstimator;

    /// <summary>The chain source under test.</summary>
    protected IChainSource Source => _source ?? throw new InvalidOperationException("InitializeAsync has not run.");

    /// <summary>The broadcaster under test (feeding the same chain).</summary>
    protected IBroadcaster Broadcaster => _broadcaster ?? throw new InvalidOperationException("InitializeAsync has not run.");

    /// <summary>The fee estimator under test.</summary>
    protected IFeeEstimator FeeEstimator => _feeEstimator ?? throw new InvalidOperationException("InitializeAsync has not run.");

    /// <summary>The chain's network.</summary>
    protected Network Network => Source.Network;

    /// <summary>Creates a fresh chain (regtest rules) and returns its source. Called first, once per test.</summary>
    protected abstract Task<IChainSource> CreateSourceAsync();

    /// <summary>Returns the broadcaster feeding the chain made by <see cref="CreateSourceAsync"/>.</summary>
    protected abstract Task<IBroadcaster> CreateBroadcasterAsync();

    /// <summary>Returns the fee estimator of that chain.</summary>
    protected abstract Task<IFeeEstimator> CreateFeeEstimatorAsync();

    /// <summary>
    /// Mines <paramref name="blocks"/> blocks on the tip, including the mempool, paying the coinbase to
    /// <paramref name="payTo"/> (any script when null), and returns their hashes in order.
    /// </summary>
    protected abstract Task<IReadOnlyList<uint256>> MineAsync(int blocks, Script? payTo = null);

    /// <summary>Marks a block invalid so the chain reorganises away from it (Core's <c>invalidateblock</c>).</summary>
    protected abstract Task InvalidateBlockAsync(uint256 hash);

    /// <summary>Releases the chain made by <see cref="CreateSourceAsync"/> (servers, files). Called once per test.</summary>
    protected virtual Task DisposeChainAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _source = await CreateSourceAsync().ConfigureAwait(false);
        _broadcaster = await CreateBroadcasterAsync().ConfigureAwait(false);
        _feeEstimator = await CreateFeeEstimatorAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task DisposeAsync() => DisposeChainAsync();

    // ---- helpers -------------------------------------------------------------------------------------------------

    /// <summary>A fresh P2WPKH script nobody else pays to (keeps mined blocks distinct after an invalidation).</summary>
    protected static Script FreshScript() => new Key().PubKey.WitHash.ScriptPubKey;

    /// <summary>Mines blocks to a fresh script.</summary>
    protected Task<IReadOnlyList<uint256>> MineFreshAsync(int blocks) => MineAsync(blocks, FreshScript());

    /// <summary>Mines one block to <paramref name="key"/>'s P2WPKH and 100 more on top, and returns its mature coinbase coin.</summary>
    protected async Task<Coin> CreateSpendableCoinAsync(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var script = key.PubKey.WitHash.ScriptPubKey;
        var mined = await MineAsync(1, script).ConfigureAwait(false);
        Assert.Single(mined);
        await MineFreshAsync(100).ConfigureAwait(false);
        var block = await Source.GetBlockAsync(mined[0]).ConfigureAwait(false);
        Assert.NotNull(block);
        var coinbase = block.Transactions[0];
        var index = coinbase.Outputs.FindIndex(o => o.ScriptPubKey == script);
        Assert.True(index >= 0, "the coinbase does not pay the requested script");
        return new Coin(coinbase, (uint)index);
    }

    /// <summary>A signed transaction spending <paramref name="coin"/> entirely to <paramref name="to"/>, minus <paramref name="fee"/>.</summary>
    protected Transaction Spend(Coin coin, Key key, Script to, Money fee)
    {
        ArgumentNullException.ThrowIfNull(coin);
        ArgumentNullException.ThrowIfNull(key);
        var tx = Network.CreateTransaction();
        tx.Inputs.Add(coin.Outpoint);
        tx.Outputs.Add(coin.Amount - fee, to);
        tx.Sign(key.GetBitcoinSecret(Network), coin);
        return tx;
    }

    // ---- tip, hashes, headers, blocks ----------------------------------------------------------------------------

    [Fact]
    public async Task Tip_follows_mining()
    {
        var before = await Source.GetTipAsync();
        var mined = await MineFreshAsync(3);

        Assert.Equal(3, mined.Count);
        Assert.Equal(new ChainTip(before.Height + 3, mined[2]), await Source.GetTipAsync());
    }

    [Fact]
    public async Task Block_hash_by_height_and_null_above_the_tip()
    {
        var before = await Source.GetTipAsync();
        var mined = await MineFreshAsync(3);

        Assert.Equal(before.Hash, await Source.GetBlockHashAsync(before.Height));
        for (var i = 0; i < mined.Count; i++)
        {
            Assert.Equal(mined[i], await Source.GetBlockHashAsync(before.Height + 1 + i));
        }

        Assert.Null(await Source.GetBlockHashAsync(before.Height + 4));
        Assert.Null(await Source.GetBlockHashAsync(before.Height + 1000));
        Assert.NotNull(await Source.GetBlockHashAsync(0));
    }

    [Fact]
    public async Task Headers_report_height_and_confirmations_and_minus_one_once_invalidated()
    {
        var before = await Source.GetTipAsync();
        var mined = await MineFreshAsync(3);

        var first = await Source.GetHeaderAsync(mined[0]);
        Assert.NotNull(first);
        Assert.Equal((mined[0], before.Height + 1, 3, before.Hash), (first.Hash, first.Height, first.Confirmations, first.Header.HashPrevBlock));
        var last = await Source.GetHeaderAsync(mined[2]);
        Assert.NotNull(last);
        Assert.Equal((before.Height + 3, 1), (last.Height, last.Confirmations));
        Assert.Null(await Source.GetHeaderAsync(uint256.One));

        await InvalidateBlockAsync(mined[2]);

        Assert.Equal(new ChainTip(before.Height + 2, mined[1]), await Source.GetTipAsync());
        var stale = await Source.GetHeaderAsync(mined[2]);
        Assert.NotNull(stale);
        Assert.Equal((mined[2], before.Height + 3, -1), (stale.Hash, stale.Height, stale.Confirmations));
        Assert.Equal(2, (await Source.GetHeaderAsync(mined[0]))!.Confirmations);
        Assert.Null(await Source.GetBlockHashAsync(before.Height + 3));
        Assert.Equal(mined[2], (await Source.GetBlockAsync(mined[2]))?.GetHash());
    }

    [Fact]
    public async Task Blocks_round_trip_and_unknown_blocks_are_null()
    {
        var before = await Source.GetTipAsync();
        var payTo = FreshScript();
        var mined = await MineAsync(1, payTo);

        var block = await Source.GetBlockAsync(mined[0]);

        Assert.NotNull(block);
        Assert.Equal(mined[0], block.GetHash());
        Assert.Equal(before.Hash, block.Header.HashPrevBlock);
        Assert.Equal(block.Header.HashMerkleRoot, block.GetMerkleRoot().Hash);
        Assert.True(block.Transactions[0].IsCoinBase);
        Assert.Contains(block.Transactions[0].Outputs, o => o.ScriptPubKey == payTo);
        Assert.Null(await Source.GetBlockAsync(uint256.One));
    }

    // ---- transactions ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Unknown_transaction_is_null()
    {
        await MineFreshAsync(1);

        Assert.Null(await Source.GetTransactionAsync(uint256.One));
    }

    [Fact]
    public async Task Confirmed_coinbase_has_block_and_confirmations()
    {
        var mined = await MineFreshAsync(1);
        var block = await Source.GetBlockAsync(mined[0]);
        var tip = await Source.GetTipAsync();
        await MineFreshAsync(2);

        var tx = await Source.GetTransactionAsync(block!.Transactions[0].GetHash());

        Assert.NotNull(tx);
        Assert.Equal((3, mined[0], (int?)tip.Height), (tx.Confirmations, tx.BlockHash, tx.BlockHeight));
        Assert.Equal(block.Transactions[0].GetHash(), tx.Transaction.GetHash());
    }

    [Fact]
    public async Task Mempool_transaction_has_zero_confirmations_then_one_after_mining()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var spend = Spend(coin, key, FreshScript(), Money.Satoshis(1000));

        await Broadcaster.BroadcastAsync(spend);

        var pending = await Source.GetTransactionAsync(spend.GetHash());
        Assert.NotNull(pending);
        Assert.Equal((0, (uint256?)null, (int?)null), (pending.Confirmations, pending.BlockHash, pending.BlockHeight));
        Assert.Equal(spend.GetHash(), pending.Transaction.GetHash());

        var mined = await MineFreshAsync(1);
        var tip = await Source.GetTipAsync();
        var confirmed = await Source.GetTransactionAsync(spend.GetHash());
        Assert.NotNull(confirmed);
        Assert.Equal((1, mined[0], (int?)tip.Height), (confirmed.Confirmations, confirmed.BlockHash, confirmed.BlockHeight));
        Assert.Contains((await Source.GetBlockAsync(mined[0]))!.Transactions, t => t.GetHash() == spend.GetHash());
    }

    [Fact]
    public async Task Transactions_of_an_invalidated_block_return_to_the_mempool()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var spend = Spend(coin, key, FreshScript(), Money.Satoshis(1000));
        await Broadcaster.BroadcastAsync(spend);
        var mined = await MineFreshAsync(1);

        await InvalidateBlockAsync(mined[0]);

        var back = await Source.GetTransactionAsync(spend.GetHash());
        Assert.NotNull(back);
        Assert.Equal((0, (uint256?)null), (back.Confirmations, back.BlockHash));
        Assert.Equal(OutPointState.Spent, (await Source.GetOutPointStatusAsync(coin.Outpoint, includeMempool: true)).State);
        Assert.Equal(OutPointState.Unspent, (await Source.GetOutPointStatusAsync(coin.Outpoint, includeMempool: false)).State);
    }

    // ---- outpoints ------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Outpoint_status_unknown_unspent_and_spent_with_and_without_mempool()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);

        Assert.Equal(OutPointState.Unknown, (await Source.GetOutPointStatusAsync(new OutPoint(uint256.One, 0))).State);
        Assert.Equal(OutPointState.Unknown, (await Source.GetOutPointStatusAsync(new OutPoint(coin.Outpoint.Hash, 99))).State);
        var unspent = await Source.GetOutPointStatusAsync(coin.Outpoint);
        Assert.Equal(OutPointState.Unspent, unspent.State);
        Assert.Equal(101, unspent.Confirmations);
        Assert.NotNull(unspent.Output);
        Assert.Equal((coin.Amount, coin.ScriptPubKey), (unspent.Output.Value, unspent.Output.ScriptPubKey));

        var spend = Spend(coin, key, FreshScript(), Money.Satoshis(1000));
        await Broadcaster.BroadcastAsync(spend);
        var child = new OutPoint(spend, 0);

        Assert.Equal(OutPointState.Spent, (await Source.GetOutPointStatusAsync(coin.Outpoint, includeMempool: true)).State);
        var stillUnspent = await Source.GetOutPointStatusAsync(coin.Outpoint, includeMempool: false);
        Assert.Equal((OutPointState.Unspent, 101), (stillUnspent.State, stillUnspent.Confirmations));
        var pendingChild = await Source.GetOutPointStatusAsync(child, includeMempool: true);
        Assert.Equal((OutPointState.Unspent, 0, spend.Outputs[0].Value), (pendingChild.State, pendingChild.Confirmations, pendingChild.Output!.Value));
        Assert.Equal(OutPointState.Unknown, (await Source.GetOutPointStatusAsync(child, includeMempool: false)).State);

        await MineFreshAsync(1);

        Assert.Equal(OutPointState.Spent, (await Source.GetOutPointStatusAsync(coin.Outpoint, includeMempool: true)).State);
        Assert.Equal(OutPointState.Spent, (await Source.GetOutPointStatusAsync(coin.Outpoint, includeMempool: false)).State);
        var confirmedChild = await Source.GetOutPointStatusAsync(child, includeMempool: false);
        Assert.Equal((OutPointState.Unspent, 1), (confirmedChild.State, confirmedChild.Confirmations));
    }

    // ---- broadcasting ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Broadcasting_the_same_transaction_again_succeeds_in_mempool_and_in_chain()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var spend = Spend(coin, key, FreshScript(), Money.Satoshis(1000));

        await Broadcaster.BroadcastAsync(spend);
        await Broadcaster.BroadcastAsync(spend);
        await MineFreshAsync(1);
        await Broadcaster.BroadcastAsync(spend);

        Assert.Equal(1, (await Source.GetTransactionAsync(spend.GetHash()))!.Confirmations);
    }

    [Fact]
    public async Task Double_spend_of_a_confirmed_spend_is_rejected_with_cores_reason()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        await Broadcaster.BroadcastAsync(Spend(coin, key, FreshScript(), Money.Satoshis(1000)));
        await MineFreshAsync(1);

        var e = await Assert.ThrowsAsync<BroadcastRejectedException>(() => Broadcaster.BroadcastAsync(Spend(coin, key, FreshScript(), Money.Satoshis(5000))));

        Assert.Contains("bad-txns-inputs-missingorspent", e.Reason, StringComparison.Ordinal);
        Assert.Equal(-25, e.Code);
    }

    [Fact]
    public async Task Mempool_conflict_without_a_higher_fee_is_rejected_and_the_first_stays()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var first = Spend(coin, key, FreshScript(), Money.Satoshis(2000));
        await Broadcaster.BroadcastAsync(first);

        var e = await Assert.ThrowsAsync<BroadcastRejectedException>(() => Broadcaster.BroadcastAsync(Spend(coin, key, FreshScript(), Money.Satoshis(1000))));

        Assert.Equal(-26, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Reason));
        Assert.Equal(0, (await Source.GetTransactionAsync(first.GetHash()))!.Confirmations);
    }

    [Fact]
    public async Task Invalid_signature_is_rejected()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var forged = Spend(coin, new Key(), FreshScript(), Money.Satoshis(1000));

        var e = await Assert.ThrowsAsync<BroadcastRejectedException>(() => Broadcaster.BroadcastAsync(forged));

        Assert.False(string.IsNullOrWhiteSpace(e.Reason));
        Assert.Null(await Source.GetTransactionAsync(forged.GetHash()));
    }

    [Fact]
    public async Task Spending_an_immature_coinbase_is_rejected_with_cores_reason()
    {
        var key = new Key();
        var script = key.PubKey.WitHash.ScriptPubKey;
        var mined = await MineAsync(1, script);
        await MineFreshAsync(98);
        var coinbase = (await Source.GetBlockAsync(mined[0]))!.Transactions[0];
        var coin = new Coin(coinbase, (uint)coinbase.Outputs.FindIndex(o => o.ScriptPubKey == script));

        var e = await Assert.ThrowsAsync<BroadcastRejectedException>(() => Broadcaster.BroadcastAsync(Spend(coin, key, FreshScript(), Money.Satoshis(1000))));

        Assert.Contains("bad-txns-premature-spend-of-coinbase", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_child_of_a_mempool_transaction_is_accepted_and_both_confirm_together()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var parent = Spend(coin, key, key.PubKey.WitHash.ScriptPubKey, Money.Satoshis(1000));
        var child = Spend(new Coin(parent, 0), key, FreshScript(), Money.Satoshis(1000));

        await Broadcaster.BroadcastAsync(parent);
        await Broadcaster.BroadcastAsync(child);
        Assert.Equal(OutPointState.Spent, (await Source.GetOutPointStatusAsync(new OutPoint(parent, 0))).State);
        var mined = await MineFreshAsync(1);

        Assert.Equal(mined[0], (await Source.GetTransactionAsync(parent.GetHash()))!.BlockHash);
        Assert.Equal(mined[0], (await Source.GetTransactionAsync(child.GetHash()))!.BlockHash);
    }

    // ---- fees -----------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Fee_estimates_are_at_least_the_floor_for_every_target()
    {
        foreach (var target in Enum.GetValues<ConfirmationTarget>())
        {
            var rate = await FeeEstimator.EstimateFeeRateAsync(target);
            Assert.True(rate.SatPerKw >= FeeRatePerKw.FloorSatPerKw, $"{target}: {rate}");
        }
    }

    // ---- ChainSync over this source -------------------------------------------------------------------------------

    [Fact]
    public async Task ChainSync_connects_new_blocks_in_order()
    {
        var listener = new RecordingBlockListener();
        var sync = new ChainSync(Source, [listener]);
        await sync.PollAsync();

        var mined = await MineFreshAsync(3);
        var tip = await Source.GetTipAsync();
        var result = await sync.PollAsync();

        Assert.Equal(new ChainSyncResult(0, 3, tip, true), result);
        Assert.Equal(
            mined.Select((h, i) => RecordingBlockListener.Connected(tip.Height - 2 + i, h)),
            listener.Events);
    }

    [Fact]
    public async Task ChainSync_disconnects_then_connects_on_a_reorg()
    {
        var listener = new RecordingBlockListener();
        var sync = new ChainSync(Source, [listener]);
        await sync.PollAsync();
        var a = await MineFreshAsync(3);
        await sync.PollAsync();
        var h1 = (await Source.GetHeaderAsync(a[0]))!.Height;
        listener.Events.Clear();

        await InvalidateBlockAsync(a[1]);
        var b = await MineFreshAsync(3);
        var result = await sync.PollAsync();

        Assert.Equal(new ChainSyncResult(2, 3, new ChainTip(h1 + 3, b[2]), true), result);
        Assert.Equal(
            [
                RecordingBlockListener.Disconnected(h1 + 2, a[2]),
                RecordingBlockListener.Disconnected(h1 + 1, a[1]),
                RecordingBlockListener.Connected(h1 + 1, b[0]),
                RecordingBlockListener.Connected(h1 + 2, b[1]),
                RecordingBlockListener.Connected(h1 + 3, b[2]),
            ],
            listener.Events);
    }

    [Fact]
    public async Task ChainSync_resumes_from_a_stored_checkpoint_across_a_deeper_reorg()
    {
        var a = await MineFreshAsync(3);
        var aTip = await Source.GetTipAsync();
        var store = new InMemoryChainSyncCheckpointStore(aTip);

        await InvalidateBlockAsync(a[0]);
        var b = await MineFreshAsync(4);
        var listener = new RecordingBlockListener();
        var result = await new ChainSync(Source, [listener], store).PollAsync();

        Assert.Equal((3, 4), (result.Disconnected, result.Connected));
        Assert.Equal(new ChainTip(aTip.Height + 1, b[3]), store.Checkpoint);
        Assert.Equal(RecordingBlockListener.Disconnected(aTip.Height, a[2]), listener.Events[0]);
        Assert.Equal(RecordingBlockListener.Connected(aTip.Height + 1, b[3]), listener.Events[^1]);
    }

    [Fact]
    public async Task ChainSync_mirrors_the_best_chain_through_random_reorgs()
    {
        var random = new Random(20261126);
        var mirror = new ChainMirrorListener();
        var sync = new ChainSync(Source, [mirror], options: new ChainSyncOptions { StartHeight = 0 });
        await sync.PollAsync();

        for (var step = 0; step < 25; step++)
        {
            var tip = await Source.GetTipAsync();
            if (tip.Height > 3 && random.Next(3) == 0)
            {
                var depth = random.Next(0, 3);
                await InvalidateBlockAsync((await Source.GetBlockHashAsync(tip.Height - depth))!);
                await MineFreshAsync(random.Next(0, depth + 3));
            }
            else
            {
                await MineFreshAsync(random.Next(1, 4));
            }

            if (random.Next(2) == 0)
            {
                continue;
            }

            await sync.PollAsync();
            await AssertMirrorsBestChainAsync(mirror);
        }

        await sync.PollAsync();
        await AssertMirrorsBestChainAsync(mirror);
    }

    private async Task AssertMirrorsBestChainAsync(ChainMirrorListener mirror)
    {
        var tip = await Source.GetTipAsync();
        Assert.Equal(tip.Height + 1, mirror.Chain.Count);
        for (var height = 0; height <= tip.Height; height++)
        {
            Assert.Equal(await Source.GetBlockHashAsync(height), mirror.Chain[height]);
        }
    }

    /// <summary>Rebuilds the best chain from the events, checking each event fits the chain it has.</summary>
    private sealed class ChainMirrorListener : IBlockListener
    {
        public List<uint256> Chain { get; } = [];

        public ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
        {
            Assert.Equal(Chain.Count, height);
            if (height > 0)
            {
                Assert.Equal(Chain[^1], block.Header.HashPrevBlock);
            }

            Chain.Add(block.GetHash());
            return ValueTask.CompletedTask;
        }

        public ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default)
        {
            Assert.Equal(Chain.Count - 1, height);
            Assert.Equal(Chain[^1], header.GetHash());
            Chain.RemoveAt(Chain.Count - 1);
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>Records block events as "+height:hash" and "-height:hash".</summary>
public sealed class RecordingBlockListener : IBlockListener
{
    /// <summary>The events, in delivery order.</summary>
    public List<string> Events { get; } = [];

    /// <summary>The text of a connect event.</summary>
    public static string Connected(int height, uint256 hash) => $"+{height}:{hash}";

    /// <summary>The text of a disconnect event.</summary>
    public static string Disconnected(int height, uint256 hash) => $"-{height}:{hash}";

    /// <inheritdoc />
    public ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        Events.Add(Connected(height, block.GetHash()));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(header);
        Events.Add(Disconnected(height, header.GetHash()));
        return ValueTask.CompletedTask;
    }
}
