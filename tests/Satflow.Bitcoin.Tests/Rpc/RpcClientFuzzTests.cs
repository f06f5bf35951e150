using System.Text;
using CsCheck;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Rpc;

namespace Satflow.Bitcoin.Tests.Rpc;

/// <summary>Whatever bytes the "node" sends back, the client only ever throws its typed exceptions.</summary>
public sealed class RpcClientFuzzTests
{
    private static readonly Network Net = Network.RegTest;
    private static readonly Block Genesis = Net.GetGenesis();
    private static readonly Block Block1 = Genesis.CreateNextBlockWithCoinbase(new Key(Convert.FromHexString("0202020202020202020202020202020202020202020202020202020202020202")).PubKey.GetAddress(ScriptPubKeyType.Segwit, Net), 1);

    private static readonly string[] ValidResults =
    [
        CoreJson.Header(Block1.Header, 1, 1),
        CoreJson.RawTransaction(Block1.Transactions[0], Block1.GetHash(), 1),
        CoreJson.TxOut(Block1.Transactions[0].Outputs[0], Block1.GetHash(), 1),
        CoreJson.BlockHex(Block1),
        $$"""{"chain":"regtest","blocks":1,"headers":1,"bestblockhash":"{{Block1.GetHash()}}","warnings":[]}""",
        """{"feerate":0.00010000,"blocks":6}""",
        $$"""{"vsize":141,"weight":561,"time":1700000000,"height":101,"fees":{"base":0.00001000},"depends":[],"spentby":[]}""",
        $$"""[{"txid":"{{Block1.Transactions[0].GetHash()}}","allowed":false,"reject-reason":"missing-inputs"}]""",
        $"\"{Block1.GetHash()}\"",
        "101",
        "null",
    ];

    private static readonly byte[][] ValidBodies =
    [
        .. ValidResults.Select(r => FakeResponse.Result(r).Body),
        FakeResponse.Error(-5, "Block not found").Body,
        FakeResponse.Error(-26, "txn-mempool-conflict").Body,
    ];

    private static readonly Func<BitcoinCoreRpcClient, Task>[] Calls =
    [
        c => c.GetBlockCountAsync(),
        c => c.GetTipAsync(),
        c => c.GetBlockHashAsync(1),
        c => c.GetHeaderAsync(Block1.GetHash()),
        c => c.GetBlockAsync(Block1.GetHash()),
        c => c.GetTransactionAsync(Block1.Transactions[0].GetHash()),
        c => c.GetOutPointStatusAsync(new OutPoint(Block1.Transactions[0], 0)),
        c => c.EstimateFeeRateAsync(ConfirmationTarget.Normal).AsTask(),
        c => c.GetBlockchainInfoAsync(),
        c => c.GetNetworkInfoAsync(),
        c => c.GetMempoolEntryAsync(uint256.One),
        c => c.GetMempoolInfoAsync(),
        c => c.TestMempoolAcceptAsync([Block1.Transactions[0]]),
        c => c.GetRawMempoolAsync(),
        c => c.UptimeAsync(),
        c => c.CallAsync("anything"),
        c => c.BroadcastAsync(Block1.Transactions[0]),
    ];

    private static readonly Gen<FakeResponse> Responses = Gen.OneOf(
        Gen.Byte.Array[0, 600].Select(FakeResponse.RawBytes),
        Gen.Byte.Array[0, 600].Select(b => new FakeResponse(200, b)),
        Gen.Select(Gen.Int[0, ValidBodies.Length - 1], Gen.Double[0, 1], Gen.Bool, Gen.OneOf(200, 500, 404))
            .Select((i, cut, declareFull, status) =>
            {
                var body = ValidBodies[i];
                var prefix = body[..(int)(body.Length * cut)];
                return new FakeResponse(status, prefix, DeclaredLength: declareFull ? body.Length : prefix.Length);
            }),
        Gen.Select(Gen.Int[0, ValidBodies.Length - 1], Gen.Int[0, 10_000], Gen.Byte, Gen.Int[1, 4])
            .Select((i, position, value, count) =>
            {
                var body = (byte[])ValidBodies[i].Clone();
                for (var k = 0; k < count; k++)
                {
                    body[(position + (k * 31)) % body.Length] ^= value == 0 ? (byte)1 : value;
                }

                return new FakeResponse(200, body);
            }),
        Gen.Byte.Array[0, 300].Select(b => FakeResponse.RawBytes([.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {b.Length}\r\n\r\n"), .. b])));

    [Fact]
    public async Task Random_and_broken_answers_only_raise_typed_exceptions()
    {
        FakeResponse current = FakeResponse.Result("1");
        await using var server = new FakeRpcServer(_ => current);
        using var client = new BitcoinCoreRpcClient(server.UrlWithCredentials("u", "p"), Net);

        await Gen.Select(Responses, Gen.Int[0, Calls.Length - 1]).SampleAsync(
            async (response, call) =>
            {
                current = response;
                try
                {
                    await Calls[call](client);
                }
                catch (ChainSourceException)
                {
                    // Typed backend failure (RpcException included): expected.
                }
                catch (BroadcastRejectedException) when (call == Calls.Length - 1)
                {
                    // The broadcaster's typed rejection.
                }
            },
            iter: 2000,
            threads: 1);
    }
}
