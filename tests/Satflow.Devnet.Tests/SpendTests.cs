using NBitcoin;

namespace Satflow.Devnet.Tests;

public sealed class SpendTests
{
    private static TxOut Out(long sats, Script script) => new(Money.Satoshis(sats), script);

    /// <summary>Creates (and confirms) an output paying <paramref name="script"/>; returns it as a coin.</summary>
    private static async Task<Coin> FundScriptAsync(TestChain t, Coin source, Script script, long amount = 10_0000_0000)
    {
        var tx = t.Spend([source], Out(amount, script), Out(source.Amount.Satoshi - amount - 10_000, t.MinerScript));
        Assert.True(t.Chain.AcceptToMempool(tx).Allowed);
        await t.MineAsync(1);
        return new Coin(tx, 0u);
    }

    private static Transaction Unsigned(Coin coin, Script to, uint sequence = 0xffffffff, uint lockTime = 0, long fee = 10_000)
    {
        var tx = TestChain.Net.CreateTransaction();
        tx.Version = 2;
        tx.LockTime = new LockTime(lockTime);
        tx.Inputs.Add(new TxIn(coin.Outpoint) { Sequence = sequence });
        tx.Outputs.Add(Out(coin.Amount.Satoshi - fee, to));
        return tx;
    }

    private static void SignWitnessScript(Transaction tx, Coin coin, Key key, Script witnessScript)
    {
        var hash = tx.GetSignatureHash(witnessScript, 0, SigHash.All, coin.TxOut, HashVersion.WitnessV0);
        var sig = new TransactionSignature(key.Sign(hash), SigHash.All);
        tx.Inputs[0].WitScript = new WitScript(new List<byte[]> { sig.ToBytes(), witnessScript.ToBytes() });
    }

    [Fact]
    public async Task P2wpkh_spend_is_accepted_and_mined()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = t.Spend(coins, Out(49_9999_0000, t.NewScript()));
        var result = t.Chain.AcceptToMempool(tx);
        Assert.True(result.Allowed, result.RejectReason);
        await t.MineAsync(1);
        Assert.Equal(0, t.Chain.MempoolCount);
        Assert.Equal(1, t.Chain.GetTransaction(tx.GetHash())!.Confirmations);
    }

    [Fact]
    public async Task P2wsh_spend_is_accepted()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var key = new Key();
        var witnessScript = new Script(Op.GetPushOp(key.PubKey.ToBytes()), OpcodeType.OP_CHECKSIG);
        var coin = await FundScriptAsync(t, coins[0], witnessScript.WitHash.ScriptPubKey);
        var tx = Unsigned(coin, t.NewScript());
        SignWitnessScript(tx, coin, key, witnessScript);
        var result = t.Chain.AcceptToMempool(tx);
        Assert.True(result.Allowed, result.RejectReason);

        var wrong = Unsigned(coin, t.NewScript(), fee: 20_000);
        SignWitnessScript(wrong, coin, new Key(), witnessScript);
        Assert.Equal("txn-mempool-conflict", t.Chain.TestMempoolAccept(wrong).RejectReason);
        Assert.StartsWith("mandatory-script-verify-flag-failed", await t.SubmitAsync(t.BuildBlock([wrong])), StringComparison.Ordinal);
    }

    [Fact]
    public async Task P2tr_key_path_spend_is_accepted()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var key = new Key();
        var coin = await FundScriptAsync(t, coins[0], key.PubKey.GetTaprootFullPubKey().ScriptPubKey);
        var tx = Unsigned(coin, t.NewScript());
        var hash = tx.GetSignatureHashTaproot([coin.TxOut], new TaprootExecutionData(0) { SigHash = TaprootSigHash.Default });
        var sig = key.SignTaprootKeySpend(hash, TaprootSigHash.Default);
        tx.Inputs[0].WitScript = new WitScript(new List<byte[]> { sig.ToBytes() });
        var result = t.Chain.AcceptToMempool(tx);
        Assert.True(result.Allowed, result.RejectReason);
        await t.MineAsync(1);
        Assert.Equal(1, t.Chain.GetTransaction(tx.GetHash())!.Confirmations);
    }

    [Fact]
    public async Task P2tr_script_path_spend_is_accepted()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var internalKey = new Key();
        var leafKey = new Key();
        var leaf = new TapScript(
            new Script(Op.GetPushOp(leafKey.PubKey.TaprootInternalKey.ToBytes()), OpcodeType.OP_CHECKSIG),
            TapLeafVersion.C0);
        var spendInfo = new TaprootBuilder().AddLeaf(0, leaf).Finalize(internalKey.PubKey.TaprootInternalKey);
        var coin = await FundScriptAsync(t, coins[0], spendInfo.OutputPubKey.ScriptPubKey);
        var tx = Unsigned(coin, t.NewScript());
        var hash = tx.GetSignatureHashTaproot([coin.TxOut], new TaprootExecutionData(0, leaf.LeafHash) { SigHash = TaprootSigHash.Default });
        var sig = leafKey.SignTaprootScriptSpend(hash, TaprootSigHash.Default);
        tx.Inputs[0].WitScript = new WitScript(new List<byte[]> { sig.ToBytes(), leaf.Script.ToBytes(), spendInfo.GetControlBlock(leaf).ToBytes() });
        var result = t.Chain.AcceptToMempool(tx);
        Assert.True(result.Allowed, result.RejectReason);

        var bad = Unsigned(coin, t.NewScript(), fee: 30_000);
        bad.Inputs[0].WitScript = new WitScript(new List<byte[]> { new byte[64], leaf.Script.ToBytes(), spendInfo.GetControlBlock(leaf).ToBytes() });
        Assert.Equal("mandatory-script-verify-flag-failed (Invalid Schnorr signature)", await t.SubmitAsync(t.BuildBlock([bad])));
    }

    [Fact]
    public async Task Cltv_is_enforced()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var key = new Key();
        var lockHeight = t.Chain.Height + 5;
        var witnessScript = new Script(
            Op.GetPushOp(lockHeight), OpcodeType.OP_CHECKLOCKTIMEVERIFY, OpcodeType.OP_DROP,
            Op.GetPushOp(key.PubKey.ToBytes()), OpcodeType.OP_CHECKSIG);
        var coin = await FundScriptAsync(t, coins[0], witnessScript.WitHash.ScriptPubKey);

        var late = Unsigned(coin, t.NewScript(), sequence: 0xfffffffe, lockTime: (uint)lockHeight);
        SignWitnessScript(late, coin, key, witnessScript);
        Assert.Equal("non-final", t.Chain.TestMempoolAccept(late).RejectReason);
        await t.MineAsync(lockHeight - t.Chain.Height);

        var early = Unsigned(coin, t.NewScript(), sequence: 0xfffffffe, lockTime: (uint)(lockHeight - 1));
        SignWitnessScript(early, coin, key, witnessScript);
        Assert.Equal("mandatory-script-verify-flag-failed (Locktime requirement not satisfied)", t.Chain.TestMempoolAccept(early).RejectReason);
        Assert.Equal("mandatory-script-verify-flag-failed (Locktime requirement not satisfied)", await t.SubmitAsync(t.BuildBlock([early])));
        var result = t.Chain.AcceptToMempool(late);
        Assert.True(result.Allowed, result.RejectReason);
    }

    [Fact]
    public async Task Csv_and_bip68_are_enforced()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var key = new Key();
        var witnessScript = new Script(
            Op.GetPushOp(3), OpcodeType.OP_CHECKSEQUENCEVERIFY, OpcodeType.OP_DROP,
            Op.GetPushOp(key.PubKey.ToBytes()), OpcodeType.OP_CHECKSIG);
        var coin = await FundScriptAsync(t, coins[0], witnessScript.WitHash.ScriptPubKey);

        var spend = Unsigned(coin, t.NewScript(), sequence: 3);
        SignWitnessScript(spend, coin, key, witnessScript);
        Assert.Equal("non-BIP68-final", t.Chain.TestMempoolAccept(spend).RejectReason);
        Assert.Equal("bad-txns-nonfinal", await t.SubmitAsync(t.BuildBlock([spend])));
        await t.MineAsync(1);
        Assert.Equal("non-BIP68-final", t.Chain.TestMempoolAccept(spend).RejectReason);
        await t.MineAsync(1);
        var lowSequence = Unsigned(coin, t.NewScript(), sequence: 2);
        SignWitnessScript(lowSequence, coin, key, witnessScript);
        Assert.Equal("mandatory-script-verify-flag-failed (Locktime requirement not satisfied)", t.Chain.TestMempoolAccept(lowSequence).RejectReason);
        var result = t.Chain.AcceptToMempool(spend);
        Assert.True(result.Allowed, result.RejectReason);
    }

    [Fact]
    public async Task Time_based_bip68_lock_uses_median_time_past()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var tx = TestChain.Net.CreateTransaction();
        tx.Version = 2;
        tx.Inputs.Add(new TxIn(coins[0].Outpoint) { Sequence = (1u << 22) | 2 }); // 2 * 512 seconds
        tx.Outputs.Add(Out(49_9999_0000, t.NewScript()));
        TestChain.Sign(tx, t.MinerKey, coins);
        Assert.True(t.Chain.TestMempoolAccept(tx).Allowed);

        var fresh = await FundScriptAsync(t, (await t.FundAsync(1))[0], t.MinerScript);
        var relative = TestChain.Net.CreateTransaction();
        relative.Version = 2;
        relative.Inputs.Add(new TxIn(fresh.Outpoint) { Sequence = (1u << 22) | 2 });
        relative.Outputs.Add(Out(fresh.Amount.Satoshi - 10_000, t.NewScript()));
        TestChain.Sign(relative, t.MinerKey, [fresh]);
        Assert.Equal("non-BIP68-final", t.Chain.TestMempoolAccept(relative).RejectReason);
        await t.MineAsync(30);
        Assert.True(t.Chain.TestMempoolAccept(relative).Allowed);
    }
}
