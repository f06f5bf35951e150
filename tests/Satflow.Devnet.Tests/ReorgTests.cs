using NBitcoin;

namespace Satflow.Devnet.Tests;

public sealed class ReorgTests
{
    private static TxOut Out(long sats, Script script) => new(Money.Satoshis(sats), script);

    [Fact]
    public async Task Invalidateblock_disconnects_notifies_and_returns_transactions_to_the_mempool()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var listener = new RecordingListener();
        t.Chain.AddListener(listener);
        var tx = t.Spend(coins, Out(49_9999_0000, t.NewScript()));
        Assert.True(t.Chain.AcceptToMempool(tx).Allowed);
        var mined = await t.MineAsync(2);
        Assert.Equal(0, t.Chain.MempoolCount);
        var height = t.Chain.Height;

        Assert.True(await t.Chain.InvalidateBlockAsync(mined[0]));
        Assert.Equal(height - 2, t.Chain.Height);
        Assert.Equal(
            [$"+{height - 1}:{mined[0]}", $"+{height}:{mined[1]}", $"-{height}:{mined[1]}", $"-{height - 1}:{mined[0]}"],
            listener.Events);
        Assert.Equal(0, t.Chain.GetTransaction(tx.GetHash())!.Confirmations);
        Assert.Equal(1, t.Chain.MempoolCount);
        Assert.True(t.Chain.GetBlockInfo(mined[1])!.Failed);
        Assert.Equal(-1, t.Chain.GetBlockInfo(mined[0])!.Confirmations);
        Assert.False(await t.Chain.InvalidateBlockAsync(uint256.One));

        var again = await t.MineAsync(1);
        Assert.Equal(height - 1, t.Chain.Height);
        Assert.Equal(0, t.Chain.MempoolCount);
        Assert.Equal($"+{height - 1}:{again[0]}", listener.Events[^1]);
    }

    [Fact]
    public async Task Reconsiderblock_restores_an_invalidated_chain()
    {
        using var t = new TestChain();
        var mined = await t.MineAsync(3);
        Assert.True(await t.Chain.InvalidateBlockAsync(mined[1]));
        Assert.Equal(1, t.Chain.Height);
        var listener = new RecordingListener();
        t.Chain.AddListener(listener);
        Assert.True(await t.Chain.ReconsiderBlockAsync(mined[2]));
        Assert.Equal(mined[2], t.Chain.Tip.Hash);
        Assert.Equal([$"+2:{mined[1]}", $"+3:{mined[2]}"], listener.Events);
        Assert.False(t.Chain.GetBlockInfo(mined[1])!.Failed);
        Assert.False(await t.Chain.ReconsiderBlockAsync(uint256.One));
    }

    [Fact]
    public async Task Longer_side_branch_reorganises_the_chain()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(2);
        var forkPoint = t.Chain.Tip.Hash;
        var forkHeight = t.Chain.Height;
        var listener = new RecordingListener();
        t.Chain.AddListener(listener);

        var onlyOnA = t.Spend([coins[0]], Out(49_9999_0000, t.NewScript()));
        Assert.True(t.Chain.AcceptToMempool(onlyOnA).Allowed);
        var a = await t.MineAsync(1);

        var onB = t.Spend([coins[1]], Out(49_9999_0000, t.NewScript()));
        var b1 = t.BuildBlock([onB], prev: forkPoint, height: forkHeight + 1, coinbaseValue: Money.Coins(50));
        Assert.Equal("inconclusive", await t.SubmitAsync(b1));
        Assert.Equal(a[0], t.Chain.Tip.Hash);
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        var b2 = t.BuildBlock([], prev: b1.GetHash(), height: forkHeight + 2);
        Assert.Null(await t.SubmitAsync(b2));

        Assert.Equal(b2.GetHash(), t.Chain.Tip.Hash);
        Assert.Equal(
            [$"+{forkHeight + 1}:{a[0]}", $"-{forkHeight + 1}:{a[0]}", $"+{forkHeight + 1}:{b1.GetHash()}", $"+{forkHeight + 2}:{b2.GetHash()}"],
            listener.Events);
        Assert.Equal(0, t.Chain.GetTransaction(onlyOnA.GetHash())!.Confirmations);
        Assert.Equal(2, t.Chain.GetTransaction(onB.GetHash())!.Confirmations);
        Assert.Equal(-1, t.Chain.GetBlockInfo(a[0])!.Confirmations);
    }

    [Fact]
    public async Task Invalidating_the_tip_switches_to_an_equal_side_branch()
    {
        using var t = new TestChain();
        await t.MineAsync(2);
        var forkPoint = t.Chain.GetBlockHash(1)!;
        var oldTip = t.Chain.Tip.Hash;
        var side = t.BuildBlock([], prev: forkPoint, height: 2);
        Assert.Equal("inconclusive", await t.SubmitAsync(side));
        var listener = new RecordingListener();
        t.Chain.AddListener(listener);
        Assert.True(await t.Chain.InvalidateBlockAsync(oldTip));
        Assert.Equal(side.GetHash(), t.Chain.Tip.Hash);
        Assert.Equal([$"-2:{oldTip}", $"+2:{side.GetHash()}"], listener.Events);
    }

    [Fact]
    public async Task Invalid_block_on_a_longer_branch_leaves_the_valid_chain_in_place()
    {
        using var t = new TestChain();
        await t.MineAsync(2);
        var forkPoint = t.Chain.GetBlockHash(1)!;
        var tip = t.Chain.Tip.Hash;
        var b2 = t.BuildBlock([], prev: forkPoint, height: 2);
        Assert.Equal("inconclusive", await t.SubmitAsync(b2));
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        var bad = t.BuildBlock([], prev: b2.GetHash(), height: 3, coinbaseValue: Money.Coins(51));
        Assert.Equal("bad-cb-amount", await t.SubmitAsync(bad));
        Assert.Equal(tip, t.Chain.Tip.Hash);
        Assert.Equal("duplicate-invalid", await t.SubmitAsync(bad));
    }

    [Fact]
    public async Task Restart_restores_chain_utxo_set_and_mempool()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-devnet-" + Guid.NewGuid().ToString("N"));
        try
        {
            var clock = new ManualClock(TestChain.Start);
            uint256 tip, pending, invalidated;
            int utxos;
            long pendingTime;
            using (var t = new TestChain(dir, clock))
            {
                var coins = await t.FundAsync(2);
                var confirmed = t.Spend([coins[0]], Out(49_9999_0000, t.MinerScript));
                Assert.True(t.Chain.AcceptToMempool(confirmed).Allowed);
                invalidated = (await t.MineAsync(1))[0];
                Assert.True(await t.Chain.InvalidateBlockAsync(invalidated));
                await t.MineAsync(1);
                var parent = t.Spend([coins[1]], Out(49_9999_0000, t.MinerScript));
                var child = t.Spend([new Coin(parent, 0u)], Out(49_9998_0000, t.NewScript()));
                Assert.True(t.Chain.AcceptToMempool(parent).Allowed);
                Assert.True(t.Chain.AcceptToMempool(child).Allowed);
                pending = child.GetHash();
                pendingTime = t.Chain.GetMempoolEntry(pending)!.Entry.Time;
                tip = t.Chain.Tip.Hash;
                utxos = t.Chain.UtxoCount;
            }

            using (var t = new TestChain(dir, clock))
            {
                Assert.Equal(tip, t.Chain.Tip.Hash);
                Assert.Equal(utxos, t.Chain.UtxoCount);
                Assert.Equal(2, t.Chain.MempoolCount);
                Assert.Equal(2, t.Chain.GetMempoolEntry(pending)!.AncestorCount);
                Assert.Equal(pendingTime, t.Chain.GetMempoolEntry(pending)!.Entry.Time);
                Assert.True(t.Chain.GetBlockInfo(invalidated)!.Failed);
                await t.MineAsync(1);
                Assert.Equal(0, t.Chain.MempoolCount);
                Assert.Equal(1, t.Chain.GetTransaction(pending)!.Confirmations);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_data_directory_serves_one_devnet_at_a_time()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-devnet-lock-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var first = DevnetChain.Open(new DevnetOptions { DataDirectory = dir }))
            {
                Assert.Throws<InvalidOperationException>(() => DevnetChain.Open(new DevnetOptions { DataDirectory = dir }));
            }

            using var again = DevnetChain.Open(new DevnetOptions { DataDirectory = dir });
            Assert.Equal(0, again.Height);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Chain_source_seams_report_outpoints_headers_and_transactions()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        Satflow.Bitcoin.Chain.IChainSource source = t.Chain;
        var tip = await source.GetTipAsync();
        Assert.Equal(t.Chain.Height, tip.Height);
        Assert.Equal(tip.Hash, await source.GetBlockHashAsync(tip.Height));
        Assert.Null(await source.GetBlockHashAsync(tip.Height + 1));
        var header = await source.GetHeaderAsync(tip.Hash);
        Assert.Equal(1, header!.Confirmations);
        Assert.NotNull(await source.GetBlockAsync(tip.Hash));
        Assert.Null(await source.GetBlockAsync(uint256.One));

        var status = await source.GetOutPointStatusAsync(coins[0].Outpoint);
        Assert.Equal(Satflow.Bitcoin.Chain.OutPointState.Unspent, status.State);
        var tx = t.Spend(coins, Out(49_9999_0000, t.NewScript()));
        await t.Chain.BroadcastAsync(tx);
        Assert.Equal(Satflow.Bitcoin.Chain.OutPointState.Spent, (await source.GetOutPointStatusAsync(coins[0].Outpoint)).State);
        Assert.Equal(Satflow.Bitcoin.Chain.OutPointState.Unspent, (await source.GetOutPointStatusAsync(coins[0].Outpoint, includeMempool: false)).State);
        var mempoolOut = await source.GetOutPointStatusAsync(new OutPoint(tx, 0));
        Assert.Equal(0, mempoolOut.Confirmations);
        Assert.Equal(Satflow.Bitcoin.Chain.OutPointState.Unknown, (await source.GetOutPointStatusAsync(new OutPoint(tx, 0), includeMempool: false)).State);
        Assert.Equal(0, (await source.GetTransactionAsync(tx.GetHash()))!.Confirmations);
        await t.MineAsync(1);
        Assert.Equal(Satflow.Bitcoin.Chain.OutPointState.Spent, (await source.GetOutPointStatusAsync(coins[0].Outpoint, includeMempool: false)).State);
        Assert.Equal(Satflow.Bitcoin.Chain.OutPointState.Unknown, (await source.GetOutPointStatusAsync(new OutPoint(uint256.One, 0))).State);
    }
}
