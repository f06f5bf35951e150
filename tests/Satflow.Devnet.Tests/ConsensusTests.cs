using NBitcoin;

namespace Satflow.Devnet.Tests;

public sealed class ConsensusTests
{
    private static TxOut Out(long sats, Script script) => new(Money.Satoshis(sats), script);

    [Fact]
    public async Task Mining_extends_the_chain_and_pays_the_subsidy()
    {
        using var t = new TestChain();
        var hashes = await t.MineAsync(3);
        Assert.Equal(3, t.Chain.Height);
        Assert.Equal(hashes[^1], t.Chain.Tip.Hash);
        var coin = t.CoinbaseCoin(1);
        Assert.Equal(Money.Coins(50), coin.Amount);
        Assert.NotNull(t.Chain.GetTxOut(coin.Outpoint));
        Assert.Equal(Money.Coins(25), DevnetConsensus.GetBlockSubsidy(150));
    }

    [Fact]
    public async Task Valid_built_block_is_accepted()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        var block = t.BuildBlock([tx], coinbaseValue: Money.Coins(50) + Money.Coins(1));
        Assert.Null(await t.SubmitAsync(block));
        Assert.Equal(block.GetHash(), t.Chain.Tip.Hash);
        Assert.Equal("duplicate", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Bad_merkle_root_is_rejected()
    {
        using var t = new TestChain();
        await t.MineAsync(1);
        var block = t.BuildBlock([]);
        block.Header.HashMerkleRoot = uint256.One;
        DevnetChain.Grind(block.Header);
        Assert.Equal("bad-txnmrklroot", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Duplicated_transaction_mutation_is_rejected()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(2);
        var a = t.Spend([coins[0]], Out(49_0000_0000, t.NewScript()));
        var b = t.Spend([coins[1]], Out(49_0000_0000, t.NewScript()));
        var block = t.BuildBlock([a, b]);
        var root = block.Header.HashMerkleRoot;
        block.Transactions.Add(b);
        Assert.Equal(root, DevnetConsensus.ComputeMerkleRoot(block.Transactions.Select(x => x.GetHash()).ToList(), out var mutated));
        Assert.True(mutated);
        Assert.Equal("bad-txns-duplicate", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Insufficient_proof_of_work_is_high_hash()
    {
        using var t = new TestChain();
        var block = t.BuildBlock([]);
        var target = block.Header.Bits.ToUInt256();
        while (block.Header.GetHash() <= target)
        {
            block.Header.Nonce++;
        }

        Assert.Equal("high-hash", await t.SubmitAsync(block));
    }

    [Theory]
    [InlineData(0x007fffffu)] // size 0: the target shifts to zero (found by the fuzz test, seed bSBsFyR_qFa1: an ArgumentException escaped)
    [InlineData(0x01003456u)] // size 1: zero target
    [InlineData(0x01fedcbau)] // size 1, sign bit set: negative
    [InlineData(0x04923456u)] // negative
    [InlineData(0x2100ffffu)] // above the pow limit
    [InlineData(0x21010000u)] // overflows 256 bits
    [InlineData(0xff123456u)] // overflows 256 bits
    public async Task Malformed_nbits_are_high_hash(uint bits)
    {
        using var t = new TestChain();
        var block = t.BuildBlock([]);
        block.Header.Bits = new Target(bits);
        Assert.Equal("high-hash", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Wrong_bits_is_bad_diffbits()
    {
        using var t = new TestChain();
        var block = t.BuildBlock([]);
        block.Header.Bits = new Target(0x207ffff0u);
        DevnetChain.Grind(block.Header);
        Assert.Equal("bad-diffbits", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Timestamp_at_median_time_past_is_time_too_old()
    {
        using var t = new TestChain();
        await t.MineAsync(3);
        var mtp = t.Chain.TipMedianTimePast;
        var block = t.BuildBlock([], time: DateTimeOffset.FromUnixTimeSeconds(mtp));
        Assert.Equal("time-too-old", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Timestamp_beyond_two_hours_is_time_too_new()
    {
        using var t = new TestChain();
        var block = t.BuildBlock([], time: t.Clock.Now + TimeSpan.FromHours(2) + TimeSpan.FromSeconds(1));
        Assert.Equal("time-too-new", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Unknown_parent_and_old_version_are_rejected()
    {
        using var t = new TestChain();
        var orphan = t.BuildBlock([]);
        orphan.Header.HashPrevBlock = uint256.One;
        DevnetChain.Grind(orphan.Header);
        Assert.Equal("prev-blk-not-found", await t.SubmitAsync(orphan));

        var old = t.BuildBlock([]);
        old.Header.Version = 3;
        DevnetChain.Grind(old.Header);
        Assert.Equal("bad-version(0x00000003)", await t.SubmitAsync(old));
    }

    [Fact]
    public async Task Wrong_coinbase_height_is_bad_cb_height()
    {
        using var t = new TestChain();
        await t.MineAsync(20);
        var block = t.BuildBlock([], height: 7);
        Assert.Equal("bad-cb-height", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Overpaying_coinbase_is_bad_cb_amount()
    {
        using var t = new TestChain();
        var block = t.BuildBlock([], coinbaseValue: Money.Coins(50) + Money.Satoshis(1));
        Assert.Equal("bad-cb-amount", await t.SubmitAsync(block));
        Assert.Equal(0, t.Chain.Height);
    }

    [Fact]
    public async Task Coinbase_may_claim_fees()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        var over = t.BuildBlock([tx], coinbaseValue: Money.Coins(51) + Money.Satoshis(1));
        Assert.Equal("bad-cb-amount", await t.SubmitAsync(over));
        var exact = t.BuildBlock([tx], coinbaseValue: Money.Coins(51));
        Assert.Null(await t.SubmitAsync(exact));
    }

    [Fact]
    public async Task Bad_witness_commitment_is_rejected()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        var block = t.BuildBlock([tx]);
        var cb = block.Transactions[0];
        var index = DevnetConsensus.GetWitnessCommitmentIndex(block);
        cb.Outputs[index].ScriptPubKey = DevnetConsensus.WitnessCommitmentScript(new byte[32]);
        block.UpdateMerkleRoot();
        DevnetChain.Grind(block.Header);
        Assert.Equal("bad-witness-merkle-match", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Witness_without_commitment_is_unexpected_witness()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        var block = t.BuildBlock([tx]);
        block.Transactions[0].Outputs.RemoveAt(DevnetConsensus.GetWitnessCommitmentIndex(block));
        block.UpdateMerkleRoot();
        DevnetChain.Grind(block.Header);
        Assert.Equal("unexpected-witness", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Overweight_block_is_bad_blk_weight()
    {
        using var t = new TestChain();
        var tx = TestChain.Net.CreateTransaction();
        tx.Inputs.Add(new TxIn(new OutPoint(uint256.One, 0)));
        tx.Inputs[0].WitScript = new WitScript(new List<byte[]> { new byte[4_000_000] });
        tx.Outputs.Add(Out(1000, t.NewScript()));
        var block = t.BuildBlock([tx]);
        Assert.Equal("bad-blk-weight", await t.SubmitAsync(block));
    }

    [Fact]
    public async Task Missing_and_double_spent_inputs_are_rejected()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var missing = TestChain.Spend(t.MinerKey, [new Coin(new OutPoint(uint256.One, 0), new TxOut(Money.Coins(1), t.MinerScript))], Out(1000, t.NewScript()));
        Assert.Equal("bad-txns-inputs-missingorspent", await t.SubmitAsync(t.BuildBlock([missing])));

        var a = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        var b = t.Spend(coins, Out(48_0000_0000, t.NewScript()));
        Assert.Equal("bad-txns-inputs-missingorspent", await t.SubmitAsync(t.BuildBlock([a, b])));

        Assert.Null(await t.SubmitAsync(t.BuildBlock([a])));
        Assert.Equal("bad-txns-inputs-missingorspent", await t.SubmitAsync(t.BuildBlock([b])));
    }

    [Fact]
    public async Task Immature_coinbase_spend_is_rejected()
    {
        using var t = new TestChain();
        await t.MineAsync(99);
        var tx = t.Spend([t.CoinbaseCoin(1)], Out(49_0000_0000, t.NewScript()));
        Assert.Equal("bad-txns-premature-spend-of-coinbase", await t.SubmitAsync(t.BuildBlock([tx])));
        await t.MineAsync(1);
        Assert.Null(await t.SubmitAsync(t.BuildBlock([tx])));
    }

    [Fact]
    public async Task Outputs_above_inputs_negative_outputs_and_duplicate_inputs_are_rejected()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tooMuch = t.Spend(coins, Out(50_0000_0001, t.NewScript()));
        Assert.Equal("bad-txns-in-belowout", await t.SubmitAsync(t.BuildBlock([tooMuch])));

        var negative = t.Spend(coins, Out(-1, t.NewScript()));
        Assert.Equal("bad-txns-vout-negative", await t.SubmitAsync(t.BuildBlock([negative])));

        var duplicate = TestChain.Net.CreateTransaction();
        duplicate.Inputs.Add(new TxIn(coins[0].Outpoint));
        duplicate.Inputs.Add(new TxIn(coins[0].Outpoint));
        duplicate.Outputs.Add(Out(1000, t.NewScript()));
        Assert.Equal("bad-txns-inputs-duplicate", await t.SubmitAsync(t.BuildBlock([duplicate])));

        var second = t.BuildBlock([]);
        second.Transactions.Add(second.Transactions[0].Clone());
        second.Transactions[1].Inputs[0].ScriptSig = new Script(Op.GetPushOp(t.Chain.Height + 1), OpcodeType.OP_1);
        TestChain.Finish(second);
        Assert.Equal("bad-cb-multiple", await t.SubmitAsync(second));
    }

    [Fact]
    public async Task Non_final_transaction_is_bad_txns_nonfinal()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = TestChain.Net.CreateTransaction();
        tx.Version = 2;
        tx.Inputs.Add(new TxIn(coins[0].Outpoint) { Sequence = 0xfffffffe });
        tx.Outputs.Add(Out(49_0000_0000, t.NewScript()));
        tx.LockTime = new LockTime(t.Chain.Height + 5);
        TestChain.Sign(tx, t.MinerKey, coins);
        Assert.Equal("bad-txns-nonfinal", await t.SubmitAsync(t.BuildBlock([tx])));
        Assert.Equal("non-final", t.Chain.TestMempoolAccept(tx).RejectReason);
    }

    [Fact]
    public async Task Time_locktime_is_judged_against_median_time_past()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var lockTime = t.Chain.TipMedianTimePast + 600;
        var tx = TestChain.Net.CreateTransaction();
        tx.Version = 2;
        tx.Inputs.Add(new TxIn(coins[0].Outpoint) { Sequence = 0xfffffffe });
        tx.Outputs.Add(Out(49_0000_0000, t.NewScript()));
        tx.LockTime = new LockTime(DateTimeOffset.FromUnixTimeSeconds(lockTime));
        TestChain.Sign(tx, t.MinerKey, coins);

        // The clock is already past the lock time, but the median of the last 11 blocks is not (BIP113).
        t.Clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal("non-final", t.Chain.TestMempoolAccept(tx, FeeRate.Zero).RejectReason);
        Assert.Equal("bad-txns-nonfinal", await t.SubmitAsync(t.BuildBlock([tx])));
        while (t.Chain.TipMedianTimePast <= lockTime)
        {
            await t.MineAsync(1);
        }

        Assert.True(t.Chain.TestMempoolAccept(tx, FeeRate.Zero).Allowed);
    }

    [Fact]
    public async Task Bad_signature_is_mandatory_script_verify_flag_failed()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = TestChain.Spend(new Key(), coins, Out(49_0000_0000, t.NewScript()));
        var reason = await t.SubmitAsync(t.BuildBlock([tx]));
        Assert.StartsWith("mandatory-script-verify-flag-failed (", reason, StringComparison.Ordinal);
        Assert.Equal(reason, t.Chain.TestMempoolAccept(tx).RejectReason);
    }

    [Fact]
    public async Task Empty_witness_maps_to_core_script_error_text()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_0000_0000, t.NewScript()));
        tx.Inputs[0].WitScript = WitScript.Empty;
        Assert.Equal("mandatory-script-verify-flag-failed (Witness program hash mismatch)", await t.SubmitAsync(t.BuildBlock([tx])));
    }

    [Fact]
    public async Task Too_many_legacy_sigops_is_bad_blk_sigops()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var heavy = Script.FromBytesUnsafe(Enumerable.Repeat((byte)OpcodeType.OP_CHECKSIG, 20_001).ToArray());
        var tx = t.Spend(coins, Out(49_0000_0000, heavy));
        Assert.Equal("bad-blk-sigops", await t.SubmitAsync(t.BuildBlock([tx])));
    }

    [Fact]
    public async Task P2sh_sigops_count_towards_the_standard_limit()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var redeem = Script.FromBytesUnsafe(Enumerable.Range(0, 520).Select(i => i % 2 == 0 ? (byte)OpcodeType.OP_16 : (byte)OpcodeType.OP_CHECKMULTISIG).ToArray());
        var fund = t.Spend(coins, Out(10_0000_0000, redeem.Hash.ScriptPubKey), Out(39_9999_0000, t.MinerScript));
        Assert.True(t.Chain.AcceptToMempool(fund).Allowed);
        await t.MineAsync(1);
        var spend = TestChain.Net.CreateTransaction();
        spend.Inputs.Add(new TxIn(new OutPoint(fund, 0), new Script(Op.GetPushOp(redeem.ToBytes()))));
        spend.Outputs.Add(Out(9_9999_0000, t.NewScript()));
        Assert.Equal(260 * 16 * 4, DevnetConsensus.SigOpCost(spend, [fund.Outputs[0]]));
        Assert.Equal("bad-txns-too-many-sigops", t.Chain.TestMempoolAccept(spend).RejectReason);
    }

    [Fact]
    public async Task Children_of_an_invalid_block_are_bad_prevblk()
    {
        using var t = new TestChain();
        await t.MineAsync(2);
        var parent = t.Chain.Tip.Hash;
        Assert.True(await t.Chain.InvalidateBlockAsync(parent));
        var child = t.BuildBlock([], prev: parent, height: 3);
        Assert.Equal("bad-prevblk", await t.SubmitAsync(child));
    }
}
