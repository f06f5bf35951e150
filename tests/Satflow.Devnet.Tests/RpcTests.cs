using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using NBitcoin;
using Satflow.Devnet.Rpc;

namespace Satflow.Devnet.Tests;

public sealed class RpcTests : IAsyncLifetime
{
    private readonly TestChain _t = new();
    private DevnetRpcServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await DevnetRpcServer.StartAsync(_t.Chain, new DevnetRpcOptions { Port = 0, User = "alice", Password = "secret" });
        _http = new HttpClient { BaseAddress = _server.Uri };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:secret")));
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        _t.Dispose();
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri("/", UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<JsonNode?> CallAsync(string method, params object?[] args)
    {
        var request = new JsonObject { ["jsonrpc"] = "1.0", ["id"] = "t", ["method"] = method, ["params"] = ToArray(args) };
        var (status, body) = await PostAsync(request.ToJsonString());
        Assert.True(status == HttpStatusCode.OK, $"{method}: {status} {body?.ToJsonString()}");
        Assert.Null(body!["error"]);
        Assert.Equal("t", (string?)body["id"]);
        return body["result"];
    }

    private async Task<(HttpStatusCode Status, int Code, string Message)> ErrorAsync(string method, params object?[] args)
    {
        var request = new JsonObject { ["id"] = 7, ["method"] = method, ["params"] = ToArray(args) };
        var (status, body) = await PostAsync(request.ToJsonString());
        Assert.Null(body!["result"]);
        Assert.Equal(7, (int)body["id"]!);
        return (status, (int)body["error"]!["code"]!, (string)body["error"]!["message"]!);
    }

    private static JsonArray ToArray(object?[] args)
    {
        var array = new JsonArray();
        foreach (var a in args)
        {
            array.Add(a is JsonNode n ? n : JsonValue.Create(a));
        }

        return array;
    }

    private string MinerAddress => _t.MinerKey.PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.RegTest).ToString();

    [Fact]
    public async Task Requests_without_valid_credentials_get_401()
    {
        using var anonymous = new HttpClient { BaseAddress = _server.Uri };
        using var content = new StringContent("{\"method\":\"getblockcount\"}");
        using var response = await anonymous.PostAsync(new Uri("/", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:wrong")));
        using var content2 = new StringContent("{\"method\":\"getblockcount\"}");
        using var response2 = await anonymous.PostAsync(new Uri("/", UriKind.Relative), content2);
        Assert.Equal(HttpStatusCode.Unauthorized, response2.StatusCode);
        Assert.Equal(IPAddress.Loopback.ToString(), _server.Uri.Host);
    }

    [Fact]
    public async Task Chain_info_methods_have_cores_shapes()
    {
        var mined = (JsonArray)(await CallAsync("generatetoaddress", 3, MinerAddress))!;
        Assert.Equal(3, mined.Count);
        Assert.Equal(3, (int)(await CallAsync("getblockcount"))!);
        var best = (string)(await CallAsync("getbestblockhash"))!;
        Assert.Equal((string)mined[2]!, best);
        Assert.Equal(best, (string)(await CallAsync("getblockhash", 3))!);

        var info = (await CallAsync("getblockchaininfo"))!;
        Assert.Equal("regtest", (string)info["chain"]!);
        Assert.Equal(3, (int)info["blocks"]!);
        Assert.Equal(best, (string)info["bestblockhash"]!);
        Assert.Equal("0000000000000000000000000000000000000000000000000000000000000008", (string)info["chainwork"]!);
        Assert.False((bool)info["initialblockdownload"]!);

        var net = (await CallAsync("getnetworkinfo"))!;
        Assert.Equal(270000, (int)net["version"]!);
        Assert.Equal("/Satoshi:27.0.0/", (string)net["subversion"]!);
        Assert.True((bool)net["localrelay"]!);
        Assert.Equal(0.00001m, (decimal)net["relayfee"]!);
        Assert.Equal(0.00001m, (decimal)net["incrementalfee"]!);
        Assert.Equal("0.00001000", net["relayfee"]!.ToJsonString());

        var header = (await CallAsync("getblockheader", best))!;
        Assert.Equal(3, (int)header["height"]!);
        Assert.Equal(1, (int)header["confirmations"]!);
        Assert.Equal("207fffff", (string)header["bits"]!);
        Assert.Equal((string)mined[1]!, (string)header["previousblockhash"]!);
        Assert.Null(header["nextblockhash"]);
        var headerHex = (string)(await CallAsync("getblockheader", best, false))!;
        Assert.Equal(160, headerHex.Length);

        var block0 = (string)(await CallAsync("getblock", best, 0))!;
        Assert.Equal(best, Block.Parse(block0, Network.RegTest).GetHash().ToString());
        var block1 = (await CallAsync("getblock", best))!;
        Assert.Single((JsonArray)block1["tx"]!);
        Assert.True((int)block1["weight"]! > 0);
        var block2 = (await CallAsync("getblock", best, 2))!;
        var coinbase = block2["tx"]![0]!;
        Assert.NotNull(coinbase["vin"]![0]!["coinbase"]);
        Assert.Equal(50m, (decimal)coinbase["vout"]![0]!["value"]!);
        Assert.Equal("witness_v0_keyhash", (string)coinbase["vout"]![0]!["scriptPubKey"]!["type"]!);
        Assert.Equal(MinerAddress, (string)coinbase["vout"]![0]!["scriptPubKey"]!["address"]!);
        var desc = (string)coinbase["vout"]![0]!["scriptPubKey"]!["desc"]!;
        Assert.StartsWith("addr(", desc, StringComparison.Ordinal);
        // Core appends the BIP380 checksum of the body.
        Assert.Equal(Satflow.Bitcoin.Wallet.DescriptorChecksum.Compute(desc[..desc.IndexOf('#', StringComparison.Ordinal)]), desc[(desc.IndexOf('#', StringComparison.Ordinal) + 1)..]);

        Assert.True((long)(await CallAsync("uptime"))! >= 0);
    }

    [Fact]
    public async Task Transaction_and_mempool_methods_have_cores_shapes()
    {
        var coins = await _t.FundAsync(1);
        var tx = _t.Spend(coins, new TxOut(Money.Coins(49.999m), _t.NewScript()));
        var accept = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(tx.ToHex())))!;
        Assert.True((bool)accept[0]!["allowed"]!);
        Assert.Equal(0.001m, (decimal)accept[0]!["fees"]!["base"]!);
        Assert.Equal(0, _t.Chain.MempoolCount);

        var txid = (string)(await CallAsync("sendrawtransaction", tx.ToHex()))!;
        Assert.Equal(tx.GetHash().ToString(), txid);
        Assert.Equal(txid, (string)(await CallAsync("sendrawtransaction", tx.ToHex()))!);

        var pool = (JsonArray)(await CallAsync("getrawmempool"))!;
        Assert.Equal(txid, (string)pool[0]!);
        var verbose = (await CallAsync("getrawmempool", true))!;
        Assert.Equal(1, (int)verbose[txid]!["ancestorcount"]!);
        var entry = (await CallAsync("getmempoolentry", txid))!;
        Assert.Equal(0.001m, (decimal)entry["fees"]!["base"]!);
        Assert.False((bool)entry["bip125-replaceable"]!);
        Assert.Equal(tx.GetVirtualSize(), (int)entry["vsize"]!);
        var info = (await CallAsync("getmempoolinfo"))!;
        Assert.Equal(1, (int)info["size"]!);
        Assert.Equal(0.00001m, (decimal)info["minrelaytxfee"]!);

        Assert.Equal(tx.ToHex(), (string)(await CallAsync("getrawtransaction", txid))!);
        var decoded = (await CallAsync("getrawtransaction", txid, true))!;
        Assert.Equal(txid, (string)decoded["txid"]!);
        Assert.Null(decoded["blockhash"]);

        var spentOut = await CallAsync("gettxout", coins[0].Outpoint.Hash.ToString(), 0);
        Assert.Null(spentOut);
        var unconfirmedOut = (await CallAsync("gettxout", txid, 0))!;
        Assert.Equal(0, (int)unconfirmedOut["confirmations"]!);
        Assert.Null(await CallAsync("gettxout", txid, 0, false));
        var confirmedCoin = (await CallAsync("gettxout", coins[0].Outpoint.Hash.ToString(), 0, false))!;
        Assert.True((bool)confirmedCoin["coinbase"]!);

        var hashes = (JsonArray)(await CallAsync("generatetoaddress", 1, MinerAddress))!;
        var mined = (await CallAsync("getrawtransaction", txid, 1))!;
        Assert.Equal((string)hashes[0]!, (string)mined["blockhash"]!);
        Assert.Equal(1, (int)mined["confirmations"]!);
        var inBlock = (await CallAsync("getrawtransaction", txid, true, (string)hashes[0]!))!;
        Assert.True((bool)inBlock["in_active_chain"]!);
        var block2 = (await CallAsync("getblock", (string)hashes[0]!, 2))!;
        Assert.Equal(0.001m, (decimal)block2["tx"]![1]!["fee"]!);

        var fee = (await CallAsync("estimatesmartfee", 6))!;
        Assert.True((decimal)fee["feerate"]! >= 0.00001m);
        Assert.Equal(6, (int)fee["blocks"]!);

        var already = await ErrorAsync("sendrawtransaction", tx.ToHex());
        Assert.Equal((HttpStatusCode.InternalServerError, -27, "Transaction outputs already in utxo set"), already);

        Assert.Null(await CallAsync("invalidateblock", (string)hashes[0]!));
        Assert.Equal(txid, (string)((JsonArray)(await CallAsync("getrawmempool"))!)[0]!);
        Assert.Equal(-1, (int)(await CallAsync("getblockheader", (string)hashes[0]!))!["confirmations"]!);

        Assert.Null(await CallAsync("reconsiderblock", (string)hashes[0]!));
        Assert.Equal((string)hashes[0]!, (string)(await CallAsync("getbestblockhash"))!);
        Assert.Empty((JsonArray)(await CallAsync("getrawmempool"))!);
    }

    [Fact]
    public async Task Testmempoolaccept_checks_packages_like_core()
    {
        var coins = await _t.FundAsync(2);
        var parent = _t.Spend([coins[0]], new TxOut(Money.Coins(49.999m), _t.MinerScript));
        var child = _t.Spend([new Coin(parent, 0u)], new TxOut(Money.Coins(49.998m), _t.NewScript()));
        var package = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(parent.ToHex(), child.ToHex())))!;
        Assert.True((bool)package[0]!["allowed"]!);
        Assert.True((bool)package[1]!["allowed"]!);
        Assert.Equal(0, _t.Chain.MempoolCount);

        var alone = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(child.ToHex())))!;
        Assert.Equal("missing-inputs", (string)alone[0]!["reject-reason"]!);

        var unsorted = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(child.ToHex(), parent.ToHex())))!;
        Assert.Equal("package-not-sorted", (string)unsorted[0]!["package-error"]!);
        Assert.Null(unsorted[0]!["allowed"]);

        var doubleSpend = _t.Spend([coins[0]], new TxOut(Money.Coins(49.99m), _t.NewScript()));
        var conflict = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(parent.ToHex(), doubleSpend.ToHex())))!;
        Assert.Equal("conflict-in-package", (string)conflict[1]!["package-error"]!);

        var garbage = TestChain.Spend(_t.MinerKey, [new Coin(new OutPoint(uint256.One, 0), new TxOut(Money.Coins(1), _t.MinerScript))], new TxOut(Money.Coins(0.5m), _t.NewScript()));
        var withGarbage = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(parent.ToHex(), garbage.ToHex())))!;
        Assert.Null(withGarbage[0]!["allowed"]);
        Assert.False((bool)withGarbage[1]!["allowed"]!);
        Assert.Equal("missing-inputs", (string)withGarbage[1]!["reject-reason"]!);

        Assert.Equal(parent.GetHash().ToString(), (string)(await CallAsync("sendrawtransaction", parent.ToHex()))!);
        var replacement = _t.Spend([coins[0]], new TxOut(Money.Coins(49.99m), _t.NewScript()));
        var other = _t.Spend([coins[1]], new TxOut(Money.Coins(49.999m), _t.NewScript()));
        var replacing = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(other.ToHex(), replacement.ToHex()), 0))!;
        Assert.Equal("bip125-replacement-disallowed", (string)replacing[1]!["reject-reason"]!);
        Assert.Equal(1, _t.Chain.MempoolCount);
    }

    [Fact]
    public async Task Errors_use_cores_codes_and_http_statuses()
    {
        var notFound = await ErrorAsync("nosuchmethod");
        Assert.Equal((HttpStatusCode.NotFound, -32601, "Method not found"), notFound);

        Assert.Equal((HttpStatusCode.InternalServerError, -8, "Block height out of range"), await ErrorAsync("getblockhash", 5));
        var badHash = await ErrorAsync("getblock", "xyz");
        Assert.Equal(-8, badHash.Code);
        Assert.Equal("blockhash must be of length 64 (not 3, for 'xyz')", badHash.Message);
        Assert.Equal(-5, (await ErrorAsync("getblockheader", new string('0', 64))).Code);
        var noTx = await ErrorAsync("getrawtransaction", new string('1', 64));
        Assert.Equal((HttpStatusCode.InternalServerError, -5, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions."), noTx);
        Assert.Equal(-5, (await ErrorAsync("getmempoolentry", new string('1', 64))).Code);
        Assert.Equal((HttpStatusCode.InternalServerError, -22, "TX decode failed. Make sure the tx has at least one input."), await ErrorAsync("sendrawtransaction", "zz"));
        Assert.Equal(-22, (await ErrorAsync("sendrawtransaction", "0100")).Code);
        Assert.Equal(-3, (await ErrorAsync("getblockhash", "one")).Code);
        Assert.Equal(-8, (await ErrorAsync("estimatesmartfee", 0)).Code);
        Assert.Equal(-5, (await ErrorAsync("generatetoaddress", 1, "notanaddress")).Code);
        Assert.Equal(-5, (await ErrorAsync("invalidateblock", new string('2', 64))).Code);
        Assert.Equal(-1, (await ErrorAsync("getblockhash")).Code);

        var missing = TestChain.Spend(_t.MinerKey, [new Coin(new OutPoint(uint256.One, 0), new TxOut(Money.Coins(1), _t.MinerScript))], new TxOut(Money.Coins(0.5m), _t.NewScript()));
        Assert.Equal((HttpStatusCode.InternalServerError, -25, "bad-txns-inputs-missingorspent"), await ErrorAsync("sendrawtransaction", missing.ToHex()));

        var coins = await _t.FundAsync(1);
        var lowFee = _t.Spend(coins, new TxOut(coins[0].Amount - Money.Satoshis(10), _t.NewScript()));
        var rejected = await ErrorAsync("sendrawtransaction", lowFee.ToHex());
        Assert.Equal(-26, rejected.Code);
        Assert.StartsWith("min relay fee not met", rejected.Message, StringComparison.Ordinal);
        var tested = (JsonArray)(await CallAsync("testmempoolaccept", new JsonArray(lowFee.ToHex())))!;
        Assert.Equal("min relay fee not met", (string)tested[0]!["reject-reason"]!);
        Assert.False((bool)tested[0]!["allowed"]!);
    }

    [Fact]
    public async Task Malformed_bodies_give_parse_errors_and_the_server_survives()
    {
        foreach (var body in new[] { "{", "not json", "[1,", "\"unterminated", "{\"method\":}" })
        {
            var (status, reply) = await PostAsync(body);
            Assert.Equal(HttpStatusCode.InternalServerError, status);
            Assert.Equal(-32700, (int)reply!["error"]!["code"]!);
            Assert.Equal("Parse error", (string)reply["error"]!["message"]!);
        }

        var (s1, r1) = await PostAsync("42");
        Assert.Equal(HttpStatusCode.BadRequest, s1);
        Assert.Equal(-32600, (int)r1!["error"]!["code"]!);
        var (s2, r2) = await PostAsync("{\"method\":5,\"id\":1}");
        Assert.Equal(HttpStatusCode.BadRequest, s2);
        Assert.Equal(-32600, (int)r2!["error"]!["code"]!);
        var (s3, r3) = await PostAsync("{\"method\":\"getblockcount\",\"params\":5,\"id\":1}");
        Assert.Equal(HttpStatusCode.BadRequest, s3);
        Assert.Equal(-32600, (int)r3!["error"]!["code"]!);

        var random = new Random(42);
        for (var i = 0; i < 30; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            using var content = new ByteArrayContent(bytes);
            using var response = await _http.PostAsync(new Uri("/", UriKind.Relative), content);
            Assert.True(response.StatusCode is HttpStatusCode.InternalServerError or HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.OK);
        }

        Assert.Equal(0, (int)(await CallAsync("getblockcount"))!);
    }

    [Fact]
    public async Task Json_rpc_2_batches_and_named_parameters_work()
    {
        var (status, reply) = await PostAsync("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getblockcount\"}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("2.0", (string)reply!["jsonrpc"]!);
        Assert.Equal(0, (int)reply["result"]!);
        Assert.False(((JsonObject)reply).ContainsKey("error"));

        var (s2, r2) = await PostAsync("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}");
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.Equal(-32601, (int)r2!["error"]!["code"]!);
        Assert.False(((JsonObject)r2).ContainsKey("result"));

        var (s3, r3) = await PostAsync("{\"jsonrpc\":\"2.0\",\"method\":\"getblockcount\"}");
        Assert.Equal(HttpStatusCode.NoContent, s3);
        Assert.Null(r3);

        var (s4, r4) = await PostAsync("[{\"id\":1,\"method\":\"getblockcount\"},{\"id\":2,\"method\":\"getblockhash\",\"params\":{\"height\":0}},{\"id\":3,\"method\":\"nope\"}]");
        Assert.Equal(HttpStatusCode.OK, s4);
        var batch = (JsonArray)r4!;
        Assert.Equal(3, batch.Count);
        Assert.Equal(0, (int)batch[0]!["result"]!);
        Assert.Equal(Network.RegTest.GenesisHash.ToString(), (string)batch[1]!["result"]!);
        Assert.Equal(-32601, (int)batch[2]!["error"]!["code"]!);
    }

    [Fact]
    public async Task Stop_completes_the_stop_task()
    {
        Assert.Equal("Bitcoin Core stopping", (string)(await CallAsync("stop"))!);
        await _server.StopRequested.WaitAsync(TimeSpan.FromSeconds(60));
    }
}
