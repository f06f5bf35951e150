using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>BOLT 3 Appendix B: the funding transaction.</summary>
public sealed class FundingTxVectorTests
{
    [Fact]
    public void FundingTransactionIsRebuiltByteExact()
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt03-funding-tx.json"));
        var v = doc.RootElement;
        string S(string name) => v.GetProperty(name).GetString()!;

        var coinbase = Transaction.Parse(S("block_1_coinbase_transaction"), Network.RegTest);
        var block1 = Block.Parse(S("block_1"), Network.RegTest);
        Assert.Equal(coinbase.GetHash(), block1.Transactions[0].GetHash());
        Assert.Equal(uint256.Parse(S("input_txid")), coinbase.GetHash());

        var key = new Key(Convert.FromHexString(S("block_1_coinbase_privkey"))[..32]);
        var spent = coinbase.Outputs[v.GetProperty("input_index").GetInt32()];
        Assert.Equal(v.GetProperty("input_satoshis").GetInt64(), spent.Value.Satoshi);
        Assert.Equal(key.PubKey.Hash.ScriptPubKey, spent.ScriptPubKey);

        var fundingScript = Bolt3Scripts.Funding(new PubKey(S("local_funding_pubkey")), new PubKey(S("remote_funding_pubkey")));
        var tx = Transaction.Create(Network.RegTest);
        tx.Version = 2;
        tx.Inputs.Add(new OutPoint(coinbase.GetHash(), v.GetProperty("input_index").GetUInt32()));
        tx.Outputs.Add(new TxOut(Money.Satoshis(v.GetProperty("funding_satoshis").GetInt64()), fundingScript.WitHash.ScriptPubKey));
        tx.Outputs.Add(new TxOut(Money.Satoshis(v.GetProperty("change_satoshis").GetInt64()), key.PubKey.WitHash.ScriptPubKey));
        OutputOrdering.SortBip69(tx);
        Assert.Equal(v.GetProperty("funding_output").GetInt32(), tx.Outputs.FindIndex(o => o.ScriptPubKey == fundingScript.WitHash.ScriptPubKey));

        var hash = tx.GetSignatureHash(spent.ScriptPubKey, 0, SigHash.All, spent, HashVersion.Original);
        var signature = new TransactionSignature(key.Sign(hash, useLowR: false), SigHash.All);
        tx.Inputs[0].ScriptSig = new Script(Op.GetPushOp(signature.ToBytes()), Op.GetPushOp(key.PubKey.ToBytes()));

        Assert.Equal(S("funding_tx"), tx.ToHex());
        Assert.Equal("8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be", tx.GetHash().ToString());
        Assert.True(tx.CreateValidator([spent]).ValidateInput(0).Error is null);
    }
}
