using System.Globalization;
using System.Text.Json;
using NBitcoin;

namespace Satflow.Bitcoin.Tests.Rpc;

/// <summary>Canned Bitcoin Core answers built from real NBitcoin objects, shaped like Core 28's.</summary>
internal static class CoreJson
{
    public static string Str(string s) => JsonSerializer.Serialize(s);

    public static string Header(BlockHeader header, int height, int confirmations, uint256? next = null)
    {
        var prev = header.HashPrevBlock == uint256.Zero ? string.Empty : $"\"previousblockhash\":\"{header.HashPrevBlock}\",";
        var nextJson = next is null ? string.Empty : $",\"nextblockhash\":\"{next}\"";
        return "{" +
            $"\"hash\":\"{header.GetHash()}\",\"confirmations\":{confirmations},\"height\":{height},\"version\":{header.Version}," +
            $"\"versionHex\":\"{header.Version:x8}\",\"merkleroot\":\"{header.HashMerkleRoot}\",\"time\":{header.BlockTime.ToUnixTimeSeconds()}," +
            $"\"mediantime\":{header.BlockTime.ToUnixTimeSeconds()},\"nonce\":{header.Nonce},\"bits\":\"{header.Bits.ToCompact():x8}\"," +
            $"\"difficulty\":4.656542373906925e-10,\"chainwork\":\"0000000000000000000000000000000000000000000000000000000000000002\",\"nTx\":1," +
            prev + "\"n\":0" + nextJson + "}";
    }

    public static string RawTransaction(Transaction tx, uint256? blockHash = null, int confirmations = 0)
    {
        var block = blockHash is null ? string.Empty : $",\"blockhash\":\"{blockHash}\",\"confirmations\":{confirmations},\"time\":1700000000,\"blocktime\":1700000000";
        return $"{{\"txid\":\"{tx.GetHash()}\",\"hash\":\"{tx.GetWitHash()}\",\"version\":{tx.Version},\"size\":{tx.GetSerializedSize()},\"hex\":\"{tx.ToHex()}\"{block}}}";
    }

    public static string TxOut(TxOut output, uint256 bestBlock, int confirmations, bool coinbase = false) =>
        $"{{\"bestblock\":\"{bestBlock}\",\"confirmations\":{confirmations},\"value\":{Btc(output.Value)}," +
        $"\"scriptPubKey\":{{\"asm\":\"\",\"desc\":\"\",\"hex\":\"{output.ScriptPubKey.ToHex()}\",\"type\":\"witness_v0_keyhash\"}},\"coinbase\":{(coinbase ? "true" : "false")}}}";

    public static string BlockHex(Block block) => Str(Convert.ToHexString(block.ToBytes()).ToLowerInvariant());

    public static string Btc(Money money) => money.ToDecimal(MoneyUnit.BTC).ToString("0.00000000", CultureInfo.InvariantCulture);
}
