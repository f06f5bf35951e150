using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Devnet.Tests;

public sealed class MempoolTests
{
    private static TxOut Out(long sats, Script script) => new(Money.Satoshis(sats), script);

    private static Transaction Tx(TestChain t, IEnumerable<Coin> coins, uint sequence, params TxOut[] outputs)
    {
        var tx = TestChain.Net.CreateTransaction();
        tx.Version = 2;
        var list = coins.ToList();
        foreach (var c in list)
        {
            tx.Inputs.Add(new TxIn(c.Outpoint) { Sequence = sequence });
        }

        foreach (var o in outputs)
        {
            tx.Outputs.Add(o);
        }

        TestChain.Sign(tx, t.MinerKey, list);
        return tx;
    }

    [Fact]
    public async Task Fee_below_one_sat_per_vbyte_is_min_relay_fee_not_met()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(coins[0].Amount.Satoshi - 50, t.NewScript()));
        var result = t.Chain.TestMempoolAccept(tx);
        Assert.Equal("min relay fee not met", result.RejectReason);
        var ex = Assert.Throws<DevnetValidationException>(() => t.Chain.SendRawTransaction(tx));
        Assert.Equal(-26, ex.RpcCode);
        Assert.StartsWith("min relay fee not met, 50 < ", ex.RpcMessage, StringComparison.Ordinal);
        Assert.Equal(0, t.Chain.MempoolCount);
    }

    [Fact]
    public async Task Standardness_rules_give_core_reasons()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var dust = t.Spend(coins, Out(293, t.NewScript()), Out(49_0000_0000, t.NewScript()));
        Assert.Equal("dust", t.Chain.TestMempoolAccept(dust).RejectReason);

        var nonStandard = t.Spend(coins, Out(49_0000_0000, new Script(OpcodeType.OP_TRUE)));
        Assert.Equal("scriptpubkey", t.Chain.TestMempoolAccept(nonStandard).RejectReason);

        var version = TestChain.Net.CreateTransaction();
        version.Version = 3;
        version.Inputs.Add(new TxIn(coins[0].Outpoint));
        version.Outputs.Add(Out(49_0000_0000, t.NewScript()));
        TestChain.Sign(version, t.MinerKey, coins);
        Assert.Equal("version", t.Chain.TestMempoolAccept(version).RejectReason);

        var small = t.Spend(coins, Out(49_0000_0000, new Script(OpcodeType.OP_RETURN)));
        Assert.True(DevnetConsensus.StrippedSize(small) < 65);
        Assert.Equal("tx-size-small", t.Chain.TestMempoolAccept(small).RejectReason);

        var coinbase = t.CoinbaseCoin(1);
        var cbTx = t.Chain.GetTransaction(coinbase.Outpoint.Hash)!.Transaction;
        Assert.Equal("coinbase", t.Chain.TestMempoolAccept(cbTx).RejectReason);
    }

    [Fact]
    public async Task Duplicates_and_confirmed_transactions_are_reported_like_core()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_9999_0000, t.NewScript()));
        Assert.Equal(tx.GetHash(), t.Chain.SendRawTransaction(tx));
        Assert.Equal("txn-already-in-mempool", t.Chain.TestMempoolAccept(tx).RejectReason);
        Assert.Equal(tx.GetHash(), t.Chain.SendRawTransaction(tx));
        await t.Chain.BroadcastAsync(tx);

        await t.MineAsync(1);
        Assert.Equal("txn-already-known", t.Chain.TestMempoolAccept(tx).RejectReason);
        var ex = Assert.Throws<DevnetValidationException>(() => t.Chain.SendRawTransaction(tx));
        Assert.Equal(-27, ex.RpcCode);
        Assert.Equal("Transaction outputs already in utxo set", ex.RpcMessage);
        await t.Chain.BroadcastAsync(tx); // IBroadcaster: "already has it" (-27) counts as success.

        var missing = TestChain.Spend(t.MinerKey, [new Coin(new OutPoint(uint256.One, 3), new TxOut(Money.Coins(1), t.MinerScript))], Out(1000, t.NewScript()));
        var missingEx = Assert.Throws<DevnetValidationException>(() => t.Chain.SendRawTransaction(missing));
        Assert.Equal(-25, missingEx.RpcCode);
        Assert.Equal("bad-txns-inputs-missingorspent", missingEx.RpcMessage);
        var broadcastMissing = await Assert.ThrowsAsync<BroadcastRejectedException>(() => t.Chain.BroadcastAsync(missing));
        Assert.Equal("bad-txns-inputs-missingorspent", broadcastMissing.Reason);
    }

    [Fact]
    public async Task Testmempoolaccept_does_not_add_and_checks_max_fee()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        var result = t.Chain.TestMempoolAccept(tx);
        Assert.Equal("max-fee-exceeded", result.RejectReason);
        var ok = t.Chain.TestMempoolAccept(tx, FeeRate.Zero);
        Assert.True(ok.Allowed);
        Assert.Equal(Money.Coins(1), ok.Fee);
        Assert.Equal(0, t.Chain.MempoolCount);
        var ex = Assert.Throws<DevnetValidationException>(() => t.Chain.SendRawTransaction(tx));
        Assert.Equal(-25, ex.RpcCode);
        Assert.Equal("Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)", ex.RpcMessage);
    }

    [Fact]
    public async Task Replace_by_fee_follows_bip125_rules()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(2);
        var original = Tx(t, [coins[0]], 0xfffffffd, Out(49_9999_0000, t.NewScript()));
        Assert.True(t.Chain.AcceptToMempool(original).Allowed);

        var cheaper = Tx(t, [coins[0]], 0xfffffffd, Out(49_9999_5000, t.NewScript()));
        Assert.Equal("insufficient fee", t.Chain.TestMempoolAccept(cheaper).RejectReason);

        var sameFeeMoreRate = Tx(t, [coins[0]], 0xfffffffd, Out(49_9999_0000, new Key().PubKey.Hash.ScriptPubKey));
        var r = t.Chain.TestMempoolAccept(sameFeeMoreRate);
        Assert.False(r.Allowed);
        Assert.Equal("insufficient fee", r.RejectReason);

        var better = Tx(t, [coins[0]], 0xfffffffd, Out(49_9998_0000, t.NewScript()));
        var accepted = t.Chain.AcceptToMempool(better);
        Assert.True(accepted.Allowed, accepted.RejectReason);
        Assert.Null(t.Chain.GetMempoolEntry(original.GetHash()));
        Assert.NotNull(t.Chain.GetMempoolEntry(better.GetHash()));

        var final = Tx(t, [coins[1]], 0xffffffff, Out(49_9999_0000, t.NewScript()));
        Assert.True(t.Chain.AcceptToMempool(final).Allowed);
        var conflict = Tx(t, [coins[1]], 0xffffffff, Out(49_0000_0000, t.NewScript()));
        Assert.Equal("txn-mempool-conflict", t.Chain.TestMempoolAccept(conflict, FeeRate.Zero).RejectReason);
        Assert.False(t.Chain.GetMempoolEntry(final.GetHash())!.Bip125Replaceable);
        Assert.True(t.Chain.GetMempoolEntry(better.GetHash())!.Bip125Replaceable);
    }

    [Fact]
    public async Task Full_rbf_option_replaces_non_signalling_transactions()
    {
        var clock = new ManualClock(TestChain.Start);
        using var t = new TestChain(clock: clock);
        var coins = await t.FundAsync(1);
        using var full = DevnetChain.Open(new DevnetOptions { TimeProvider = clock, FullReplaceByFee = true });
        foreach (var h in Enumerable.Range(1, t.Chain.Height))
        {
            Assert.Null((await full.SubmitBlockAsync(t.Chain.GetBlockInfo(t.Chain.GetBlockHash(h)!)!.Block)).ToRpcResult());
        }

        var first = Tx(t, coins, 0xffffffff, Out(49_9999_0000, t.NewScript()));
        Assert.True(full.AcceptToMempool(first).Allowed);
        var second = Tx(t, coins, 0xffffffff, Out(49_9998_0000, t.NewScript()));
        Assert.True(full.AcceptToMempool(second).Allowed);
    }

    [Fact]
    public async Task Ancestor_chain_longer_than_25_is_too_long_mempool_chain()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var coin = coins[0];
        for (var i = 0; i < 25; i++)
        {
            var tx = t.Spend([coin], Out(coin.Amount.Satoshi - 1000, t.MinerScript));
            var result = t.Chain.AcceptToMempool(tx);
            Assert.True(result.Allowed, $"{i}: {result.RejectReason}");
            coin = new Coin(tx, 0u);
        }

        var last = t.Spend([coin], Out(coin.Amount.Satoshi - 1000, t.MinerScript));
        var rejected = t.Chain.TestMempoolAccept(last);
        Assert.Equal("too-long-mempool-chain", rejected.RejectReason);
        Assert.Equal("too many unconfirmed ancestors [limit: 25]", rejected.Rejection!.Debug);

        var tipInfo = t.Chain.GetMempoolEntry(coin.Outpoint.Hash)!;
        Assert.Equal(25, tipInfo.AncestorCount);

        await t.MineAsync(1);
        Assert.Equal(0, t.Chain.MempoolCount);
        Assert.True(t.Chain.AcceptToMempool(last).Allowed);
    }

    [Fact]
    public async Task Replacement_rules_two_and_spends_conflicting_are_enforced()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(2);
        var original = Tx(t, [coins[0]], 0xfffffffd, Out(49_9999_0000, t.MinerScript));
        Assert.True(t.Chain.AcceptToMempool(original).Allowed);
        var unrelated = Tx(t, [coins[1]], 0xfffffffd, Out(49_9999_0000, t.MinerScript));
        Assert.True(t.Chain.AcceptToMempool(unrelated).Allowed);

        var addsUnconfirmed = Tx(t, [coins[0], new Coin(unrelated, 0u)], 0xfffffffd, Out(99_9900_0000, t.NewScript()));
        Assert.Equal("replacement-adds-unconfirmed", t.Chain.TestMempoolAccept(addsUnconfirmed, FeeRate.Zero).RejectReason);

        var spendsConflicting = Tx(t, [coins[0], new Coin(original, 0u)], 0xfffffffd, Out(99_9900_0000, t.NewScript()));
        Assert.Equal("bad-txns-spends-conflicting-tx", t.Chain.TestMempoolAccept(spendsConflicting, FeeRate.Zero).RejectReason);
    }

    [Fact]
    public async Task More_than_25_descendants_is_too_long_mempool_chain()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var outputs = Enumerable.Range(0, 26).Select(_ => Out(1_0000_0000, t.MinerScript)).ToArray();
        var parent = t.Spend(coins, outputs);
        Assert.True(t.Chain.AcceptToMempool(parent).Allowed);
        for (var i = 0; i < 24; i++)
        {
            var child = t.Spend([new Coin(parent, (uint)i)], Out(9999_0000, t.NewScript()));
            Assert.True(t.Chain.AcceptToMempool(child).Allowed);
        }

        var last = t.Spend([new Coin(parent, 24u)], Out(9999_0000, t.NewScript()));
        var rejected = t.Chain.TestMempoolAccept(last);
        Assert.Equal("too-long-mempool-chain", rejected.RejectReason);
        Assert.Equal($"too many descendants for tx {parent.GetHash()} [limit: 25]", rejected.Rejection!.Debug);
        Assert.Equal(25, t.Chain.GetMempoolEntry(parent.GetHash())!.DescendantCount);
    }

    [Fact]
    public async Task Connecting_a_block_evicts_conflicts_and_their_descendants()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var parent = t.Spend(coins, Out(49_9999_0000, t.MinerScript));
        var child = t.Spend([new Coin(parent, 0u)], Out(49_9998_0000, t.NewScript()));
        Assert.True(t.Chain.AcceptToMempool(parent).Allowed);
        Assert.True(t.Chain.AcceptToMempool(child).Allowed);
        Assert.Equal(2, t.Chain.MempoolCount);

        var conflicting = t.Spend(coins, Out(49_9990_0000, t.NewScript()));
        Assert.Null(await t.SubmitAsync(t.BuildBlock([conflicting], coinbaseValue: Money.Coins(50))));
        Assert.Equal(0, t.Chain.MempoolCount);
        Assert.Null(t.Chain.GetTransaction(child.GetHash()));
    }

    [Fact]
    public async Task Mining_selects_by_ancestor_fee_rate_and_child_pays_for_parent()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(2);
        var parent = t.Spend([coins[0]], Out(coins[0].Amount.Satoshi - 200, t.MinerScript));
        var child = t.Spend([new Coin(parent, 0u)], Out(parent.Outputs[0].Value.Satoshi - 100_000, t.NewScript()));
        var other = t.Spend([coins[1]], Out(coins[1].Amount.Satoshi - 5000, t.NewScript()));
        Assert.True(t.Chain.AcceptToMempool(parent).Allowed);
        Assert.True(t.Chain.AcceptToMempool(child).Allowed);
        Assert.True(t.Chain.AcceptToMempool(other).Allowed);
        var block = t.Chain.CreateBlockTemplate(t.MinerScript);
        var order = block.Transactions.Skip(1).Select(x => x.GetHash()).ToList();
        Assert.Equal([parent.GetHash(), child.GetHash(), other.GetHash()], order);
        Assert.Equal(Money.Coins(50) + Money.Satoshis(200 + 100_000 + 5000), block.Transactions[0].Outputs[0].Value);
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Null((await t.Chain.SubmitBlockAsync(block)).ToRpcResult());
    }

    [Fact]
    public async Task Fee_estimates_follow_recent_blocks_and_respect_the_floor()
    {
        using var t = new TestChain();
        var empty = t.Chain.EstimateSmartFee(6);
        Assert.Equal(Money.Satoshis(1000), empty.FeePerK);
        Assert.Equal(FeeRatePerKw.Floor, await t.Chain.EstimateFeeRateAsync(ConfirmationTarget.Normal));

        var coins = await t.FundAsync(3);
        foreach (var c in coins)
        {
            var tx = t.Spend([c], Out(c.Amount.Satoshi - 20 * 200, t.NewScript()));
            Assert.True(t.Chain.AcceptToMempool(tx).Allowed);
        }

        await t.MineAsync(1);
        var estimate = t.Chain.EstimateSmartFee(2);
        Assert.InRange(estimate.FeePerK.Satoshi, 20_000, 40_000);
        var perKw = await t.Chain.EstimateFeeRateAsync(ConfirmationTarget.Urgent);
        Assert.True(perKw.SatPerKw > 5000);
    }
}
