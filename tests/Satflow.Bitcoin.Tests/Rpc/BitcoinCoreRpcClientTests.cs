using System.Net;
using System.Net.Sockets;
using System.Text;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Rpc;

namespace Satflow.Bitcoin.Tests.Rpc;

public sealed class BitcoinCoreRpcClientTests
{
    private static readonly Network Net = Network.RegTest;
    private static readonly Block Genesis = Net.GetGenesis();
    private static readonly Key MinerKey = new(Convert.FromHexString("0101010101010101010101010101010101010101010101010101010101010101"));
    private static readonly Block Block1 = Genesis.CreateNextBlockWithCoinbase(MinerKey.PubKey.GetAddress(ScriptPubKeyType.Segwit, Net), 1);

    private static FakeRpcServer Serve(params (string Method, Func<FakeRequest, FakeResponse> Answer)[] methods) =>
        FakeRpcServer.ForMethods(methods.ToDictionary(m => m.Method, m => m.Answer));

    private static BitcoinCoreRpcClient Client(FakeRpcServer server, BitcoinCoreRpcClientOptions? options = null) =>
        new(server.UrlWithCredentials("alice", "s3cret"), Net, options);

    [Fact]
    public async Task Sends_json_rpc_1_0_with_basic_auth_from_the_url_and_hides_the_password()
    {
        await using var server = Serve(("getblockcount", _ => FakeResponse.Result("42")));
        using var client = Client(server);

        Assert.Equal(42, await client.GetBlockCountAsync());

        var request = Assert.Single(server.Requests);
        Assert.Equal("1.0", request.Json.GetProperty("jsonrpc").GetString());
        Assert.Equal("getblockcount", request.RpcMethod);
        Assert.Equal(0, request.Params.GetArrayLength());
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:s3cret")), request.Authorization);
        Assert.DoesNotContain("s3cret", client.Url.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generic_call_writes_every_parameter_kind_and_returns_a_detached_result()
    {
        await using var server = Serve(("echo", r => FakeResponse.Result(r.Params.GetRawText())));
        using var client = Client(server);
        var hash = Genesis.GetHash();

        var result = await client.CallAsync("echo", ["s", 1, 2L, true, null, 1.5m, hash, Money.Satoshis(150_000_000), new[] { 1, 2 }, new Dictionary<string, object?> { ["k"] = "v" }]);

        Assert.Equal(
            $$"""["s",1,2,true,null,1.5,"{{hash}}",1.5,[1,2],{"k":"v"}]""",
            result.GetRawText().Replace("1.50000000", "1.5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Core_error_in_http_500_body_becomes_RpcException_with_code_and_message()
    {
        await using var server = Serve(("getblockheader", _ => FakeResponse.Error(-5, "Block not found")));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<RpcException>(() => client.GetBlockHeaderAsync(uint256.One));

        Assert.Equal(-5, e.Code);
        Assert.Equal("Block not found", e.Message);
        Assert.Equal("getblockheader", e.Method);
    }

    [Fact]
    public async Task Unknown_method_404_with_body_becomes_RpcException_method_not_found()
    {
        await using var server = Serve();
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<RpcException>(() => client.CallAsync("nosuchmethod"));

        Assert.Equal(RpcErrorCodes.MethodNotFound, e.Code);
    }

    [Fact]
    public async Task Json_rpc_2_error_with_status_200_is_also_an_RpcException()
    {
        await using var server = new FakeRpcServer(_ => FakeResponse.Text(200, """{"jsonrpc":"2.0","error":{"code":-28,"message":"Loading block index…"},"id":1}"""));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<RpcException>(() => client.GetBlockCountAsync());

        Assert.Equal(RpcErrorCodes.InWarmup, e.Code);
    }

    [Fact]
    public async Task Http_401_without_body_is_a_ChainSourceException_naming_the_url_without_credentials()
    {
        await using var server = new FakeRpcServer(_ => FakeResponse.NoBody(401));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.IsNotType<RpcException>(e);
        Assert.Contains("401", e.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{server.Port}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(404, "")]
    [InlineData(500, "<html>oops</html>")]
    [InlineData(503, "")]
    [InlineData(403, "")]
    [InlineData(200, "{\"result\":1,\"error\":null")]
    [InlineData(200, "not json")]
    [InlineData(200, "[1,2,3]")]
    [InlineData(200, "{\"error\":null,\"id\":1}")]
    [InlineData(200, "{\"result\":null,\"error\":\"boom\",\"id\":1}")]
    [InlineData(200, "{\"result\":\"forty-two\",\"error\":null,\"id\":1}")]
    [InlineData(200, "")]
    public async Task Non_json_rpc_answers_are_ChainSourceExceptions(int status, string body)
    {
        await using var server = new FakeRpcServer(_ => FakeResponse.Text(status, body));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.IsNotType<RpcException>(e);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_utf8_in_an_error_message_is_a_ChainSourceException()
    {
        byte[] body = [.. Encoding.ASCII.GetBytes("{\"result\":null,\"error\":{\"code\":-1,\"message\":\"a"), 0xBB, .. Encoding.ASCII.GetBytes("\"},\"id\":1}")];
        await using var server = new FakeRpcServer(_ => new FakeResponse(500, body));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.IsNotType<RpcException>(e);
    }

    [Fact]
    public async Task Truncated_body_is_a_ChainSourceException()
    {
        await using var server = new FakeRpcServer(_ => new FakeResponse(200, Encoding.UTF8.GetBytes("{\"result\":12"), DeclaredLength: 100));
        using var client = Client(server);

        await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());
    }

    [Fact]
    public async Task Unreachable_node_is_a_ChainSourceException_without_credentials()
    {
        using var reserved = ReservedClosedPort(out var port);

        using var client = new BitcoinCoreRpcClient(new Uri($"http://alice:s3cret@127.0.0.1:{port}/"), Net);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connection_failures_are_retried_with_backoff_on_the_given_clock()
    {
        using var reserved = ReservedClosedPort(out var port);

        var clock = new CountingTimeProvider();
        var options = new BitcoinCoreRpcClientOptions { Retry = new RpcRetryPolicy(3, TimeSpan.FromMilliseconds(1), clock) };
        using var client = new BitcoinCoreRpcClient(new Uri($"http://127.0.0.1:{port}/"), Net, options);

        await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.Equal([TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2)], clock.Delays);
    }

    [Fact]
    public async Task Busy_node_503_is_retried_until_it_answers()
    {
        var calls = 0;
        await using var server = new FakeRpcServer(_ => Interlocked.Increment(ref calls) < 3 ? FakeResponse.Text(503, "Work queue depth exceeded") : FakeResponse.Result("5"));
        var clock = new CountingTimeProvider();
        var options = new BitcoinCoreRpcClientOptions { Retry = new RpcRetryPolicy(3, TimeSpan.FromMilliseconds(1), clock) };
        using var client = Client(server, options);

        Assert.Equal(5, await client.GetBlockCountAsync());

        Assert.Equal(3, calls);
        Assert.Equal(2, clock.Delays.Count);
    }

    [Fact]
    public async Task Core_errors_are_not_retried()
    {
        await using var server = new FakeRpcServer(_ => FakeResponse.Error(-1, "boom"));
        var clock = new CountingTimeProvider();
        var options = new BitcoinCoreRpcClientOptions { Retry = new RpcRetryPolicy(3, TimeSpan.FromMilliseconds(1), clock) };
        using var client = Client(server, options);

        await Assert.ThrowsAsync<RpcException>(() => client.GetBlockCountAsync());

        Assert.Single(server.Requests);
        Assert.Empty(clock.Delays);
    }

    [Fact]
    public async Task Cookie_file_is_used_and_re_read_after_a_401()
    {
        var cookiePath = Path.Combine(Path.GetTempPath(), $"satflow-cookie-{Guid.NewGuid():N}");
        try
        {
            await File.WriteAllTextAsync(cookiePath, "__cookie__:old");
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("__cookie__:new"));
            await using var server = new FakeRpcServer(r => r.Authorization == expected ? FakeResponse.Result("7") : FakeResponse.NoBody(401));
            var options = new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromCookieFile(cookiePath) };
            using var client = new BitcoinCoreRpcClient(server.Url, Net, options);

            await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());
            await File.WriteAllTextAsync(cookiePath, "__cookie__:new\n");
            Assert.Equal(7, await client.GetBlockCountAsync());
        }
        finally
        {
            File.Delete(cookiePath);
        }
    }

    [Fact]
    public async Task Missing_cookie_file_is_a_ChainSourceException()
    {
        await using var server = new FakeRpcServer(_ => FakeResponse.Result("1"));
        var options = new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromCookieFile("/nonexistent/satflow/.cookie") };
        using var client = new BitcoinCoreRpcClient(server.Url, Net, options);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.Contains(".cookie", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caller_owned_HttpClient_and_explicit_credentials()
    {
        await using var server = Serve(("getbestblockhash", _ => FakeResponse.Result(CoreJson.Str(Genesis.GetHash().ToString()))));
        using var http = new HttpClient();
        var options = new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromUserPassword("bob", "pw") };
        using (var client = new BitcoinCoreRpcClient(http, server.Url, Net, options))
        {
            Assert.Equal(Genesis.GetHash(), await client.GetBestBlockHashAsync());
        }

        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("bob:pw")), Assert.Single(server.Requests).Authorization);
        Assert.NotNull(await http.GetAsync(server.Url)); // The client did not dispose the caller's HttpClient.
    }

    [Fact]
    public async Task Getblockchaininfo_and_getnetworkinfo_parse_core_28_shapes()
    {
        var best = Genesis.GetHash();
        await using var server = Serve(
            ("getblockchaininfo", _ => FakeResponse.Result($$"""{"chain":"regtest","blocks":101,"headers":101,"bestblockhash":"{{best}}","difficulty":4.656542373906925e-10,"time":1700000000,"mediantime":1699999000,"verificationprogress":1,"initialblockdownload":false,"chainwork":"00000000000000000000000000000000000000000000000000000000000000cc","size_on_disk":30000,"pruned":false,"warnings":[]}""")),
            ("getnetworkinfo", _ => FakeResponse.Result("""{"version":280000,"subversion":"/Satoshi:28.0.0/","protocolversion":70016,"localservices":"0000000000000c09","localrelay":true,"timeoffset":0,"networkactive":true,"connections":0,"connections_in":0,"connections_out":0,"networks":[],"relayfee":0.00001000,"incrementalfee":0.00001000,"localaddresses":[],"warnings":"This is a pre-release test build"}""")));
        using var client = Client(server);

        var chain = await client.GetBlockchainInfoAsync();
        var network = await client.GetNetworkInfoAsync();

        Assert.Equal(("regtest", 101, 101, best, false), (chain.Chain, chain.Blocks, chain.Headers, chain.BestBlockHash, chain.InitialBlockDownload));
        Assert.Empty(chain.Warnings);
        Assert.Equal(280000, network.Version);
        Assert.Equal("/Satoshi:28.0.0/", network.Subversion);
        Assert.Equal(Money.Satoshis(1000), network.RelayFee.FeePerK);
        Assert.Equal(["This is a pre-release test build"], network.Warnings);
    }

    [Fact]
    public async Task Chain_source_tip_hash_height_header_and_block()
    {
        var best = Block1.GetHash();
        await using var server = Serve(
            ("getblockchaininfo", _ => FakeResponse.Result($$"""{"chain":"regtest","blocks":1,"bestblockhash":"{{best}}"}""")),
            ("getblockhash", r => r.Params[0].GetInt32() switch
            {
                0 => FakeResponse.Result(CoreJson.Str(Genesis.GetHash().ToString())),
                1 => FakeResponse.Result(CoreJson.Str(best.ToString())),
                _ => FakeResponse.Error(-8, "Block height out of range"),
            }),
            ("getblockheader", r => r.Params[0].GetString() == best.ToString()
                ? FakeResponse.Result(CoreJson.Header(Block1.Header, 1, 1))
                : r.Params[0].GetString() == Genesis.GetHash().ToString()
                    ? FakeResponse.Result(CoreJson.Header(Genesis.Header, 0, 2, best))
                    : FakeResponse.Error(-5, "Block not found")),
            ("getblock", r => r.Params[0].GetString() == best.ToString() && r.Params[1].GetInt32() == 0
                ? FakeResponse.Result(CoreJson.BlockHex(Block1))
                : FakeResponse.Error(-5, "Block not found")));
        using var client = Client(server);

        Assert.Equal(new ChainTip(1, best), await client.GetTipAsync());
        Assert.Equal(Genesis.GetHash(), await client.GetBlockHashAsync(0));
        Assert.Equal(best, await client.GetBlockHashAsync(1));
        Assert.Null(await client.GetBlockHashAsync(2));
        var header = await client.GetHeaderAsync(best);
        Assert.NotNull(header);
        Assert.Equal((best, 1, 1, Genesis.GetHash()), (header.Hash, header.Height, header.Confirmations, header.Header.HashPrevBlock));
        var genesisInfo = await client.GetBlockHeaderAsync(Genesis.GetHash());
        Assert.Equal((0, 2, best, uint256.Zero), (genesisInfo.Height, genesisInfo.Confirmations, genesisInfo.NextBlockHash, genesisInfo.Header.HashPrevBlock));
        Assert.Null(await client.GetHeaderAsync(uint256.One));
        var block = await client.GetBlockAsync(best);
        Assert.NotNull(block);
        Assert.Equal(best, block.GetHash());
        Assert.Equal(Block1.Transactions[0].GetHash(), block.Transactions[0].GetHash());
        Assert.Null(await client.GetBlockAsync(uint256.One));
    }

    [Fact]
    public async Task Header_whose_fields_do_not_hash_to_its_hash_is_rejected()
    {
        var json = CoreJson.Header(Block1.Header, 1, 1).Replace($"\"nonce\":{Block1.Header.Nonce}", $"\"nonce\":{Block1.Header.Nonce + 1}", StringComparison.Ordinal);
        await using var server = Serve(("getblockheader", _ => FakeResponse.Result(json)));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetHeaderAsync(Block1.GetHash()));

        Assert.Contains("getblockheader", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Block_with_another_hash_is_rejected()
    {
        await using var server = Serve(("getblock", _ => FakeResponse.Result(CoreJson.BlockHex(Genesis))));
        using var client = Client(server);

        await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockAsync(Block1.GetHash()));
    }

    private static Transaction SpendOf(Transaction parent, int outputs)
    {
        var tx = Net.CreateTransaction();
        tx.Inputs.Add(new OutPoint(parent, 0));
        for (var i = 0; i < outputs; i++)
        {
            tx.Outputs.Add(Money.Coins(0.1m + i), new Key().PubKey.WitHash.ScriptPubKey);
        }

        return tx;
    }

    [Fact]
    public async Task Transactions_from_mempool_best_chain_stale_block_and_unknown()
    {
        var mempoolTx = SpendOf(Block1.Transactions[0], 1);
        var confirmedTx = Block1.Transactions[0];
        var staleTx = SpendOf(Block1.Transactions[0], 2);
        var staleBlock = uint256.Parse("00000000000000000000000000000000000000000000000000000000000000aa");
        await using var server = Serve(
            ("getrawtransaction", r =>
            {
                var id = r.Params[0].GetString();
                Assert.True(r.Params[1].GetBoolean());
                return id == mempoolTx.GetHash().ToString() ? FakeResponse.Result(CoreJson.RawTransaction(mempoolTx))
                    : id == confirmedTx.GetHash().ToString() ? FakeResponse.Result(CoreJson.RawTransaction(confirmedTx, Block1.GetHash(), 3))
                    : id == staleTx.GetHash().ToString() ? FakeResponse.Result(CoreJson.RawTransaction(staleTx, staleBlock, 0))
                    : FakeResponse.Error(-5, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.");
            }),
            ("getblockheader", r => r.Params[0].GetString() == Block1.GetHash().ToString()
                ? FakeResponse.Result(CoreJson.Header(Block1.Header, 1, 3))
                : FakeResponse.Result(CoreJson.Header(Genesis.Header, 0, 1).Replace(Genesis.GetHash().ToString(), staleBlock.ToString(), StringComparison.Ordinal))));
        using var client = Client(server);

        var inMempool = await client.GetTransactionAsync(mempoolTx.GetHash());
        Assert.NotNull(inMempool);
        Assert.Equal((0, (uint256?)null, (int?)null), (inMempool.Confirmations, inMempool.BlockHash, inMempool.BlockHeight));
        var confirmed = await client.GetTransactionAsync(confirmedTx.GetHash());
        Assert.NotNull(confirmed);
        Assert.Equal((3, Block1.GetHash(), 1), (confirmed.Confirmations, confirmed.BlockHash, confirmed.BlockHeight));
        Assert.Null(await client.GetTransactionAsync(uint256.One));

        // The stale block's header is malformed on purpose (fields do not hash to it): a backend failure, not "unknown".
        await Assert.ThrowsAsync<ChainSourceException>(() => client.GetTransactionAsync(staleTx.GetHash()));
    }

    [Fact]
    public async Task Transaction_in_a_stale_block_is_not_in_the_best_chain()
    {
        var tx = Block1.Transactions[0];
        await using var server = Serve(
            ("getrawtransaction", _ => FakeResponse.Result(CoreJson.RawTransaction(tx, Block1.GetHash(), 0))),
            ("getblockheader", _ => FakeResponse.Result(CoreJson.Header(Block1.Header, 1, -1))));
        using var client = Client(server);

        Assert.Null(await client.GetTransactionAsync(tx.GetHash()));
    }

    [Fact]
    public async Task Transaction_hex_for_another_txid_is_rejected()
    {
        await using var server = Serve(("getrawtransaction", _ => FakeResponse.Result(CoreJson.RawTransaction(Block1.Transactions[0]))));
        using var client = Client(server);

        await Assert.ThrowsAsync<ChainSourceException>(() => client.GetTransactionAsync(uint256.One));
    }

    [Fact]
    public async Task Outpoint_status_disambiguates_gettxout_null()
    {
        var parent = Block1.Transactions[0];
        var mempoolChild = SpendOf(parent, 2);
        var unspent = new OutPoint(mempoolChild, 0);
        await using var server = Serve(
            ("gettxout", r =>
            {
                var id = r.Params[0].GetString();
                var n = r.Params[1].GetInt32();
                var mempool = r.Params[2].GetBoolean();
                return id == mempoolChild.GetHash().ToString() && n == 0 && mempool
                    ? FakeResponse.Result(CoreJson.TxOut(mempoolChild.Outputs[0], Block1.GetHash(), 0))
                    : FakeResponse.Result("null");
            }),
            ("getrawtransaction", r =>
            {
                var id = r.Params[0].GetString();
                return id == parent.GetHash().ToString() ? FakeResponse.Result(CoreJson.RawTransaction(parent, Block1.GetHash(), 1))
                    : id == mempoolChild.GetHash().ToString() ? FakeResponse.Result(CoreJson.RawTransaction(mempoolChild))
                    : FakeResponse.Error(-5, "No such mempool or blockchain transaction");
            }),
            ("getblockheader", _ => FakeResponse.Result(CoreJson.Header(Block1.Header, 1, 1))));
        using var client = Client(server);

        var status = await client.GetOutPointStatusAsync(unspent);
        Assert.Equal(OutPointState.Unspent, status.State);
        Assert.Equal(0, status.Confirmations);
        Assert.Equal(mempoolChild.Outputs[0].Value, status.Output!.Value);
        Assert.Equal(mempoolChild.Outputs[0].ScriptPubKey, status.Output.ScriptPubKey);

        Assert.Equal(OutPointState.Spent, (await client.GetOutPointStatusAsync(new OutPoint(parent, 0))).State);
        Assert.Equal(OutPointState.Spent, (await client.GetOutPointStatusAsync(new OutPoint(mempoolChild, 1))).State);
        Assert.Equal(OutPointState.Unknown, (await client.GetOutPointStatusAsync(new OutPoint(mempoolChild, 0), includeMempool: false)).State);
        Assert.Equal(OutPointState.Unknown, (await client.GetOutPointStatusAsync(new OutPoint(parent, 7))).State);
        Assert.Equal(OutPointState.Unknown, (await client.GetOutPointStatusAsync(new OutPoint(uint256.One, 0))).State);
    }

    [Theory]
    [InlineData(-27, "Transaction already in block chain")]
    [InlineData(-27, "Transaction outputs already in utxo set")]
    [InlineData(-26, "txn-already-in-mempool")]
    [InlineData(-26, "txn-already-known")]
    public async Task Broadcast_of_a_known_transaction_succeeds(int code, string message)
    {
        await using var server = Serve(("sendrawtransaction", _ => FakeResponse.Error(code, message)));
        using var client = Client(server);

        await client.BroadcastAsync(Block1.Transactions[0]);

        Assert.Equal(Block1.Transactions[0].ToHex(), Assert.Single(server.Requests).Params[0].GetString());
    }

    [Theory]
    [InlineData(-25, "bad-txns-inputs-missingorspent")]
    [InlineData(-26, "txn-mempool-conflict")]
    [InlineData(-26, "min relay fee not met, 0 < 110")]
    [InlineData(-22, "TX decode failed. Make sure the tx has at least one input.")]
    public async Task Broadcast_rejections_carry_core_code_and_reason(int code, string message)
    {
        await using var server = Serve(("sendrawtransaction", _ => FakeResponse.Error(code, message)));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<BroadcastRejectedException>(() => client.BroadcastAsync(Block1.Transactions[0]));

        Assert.Equal((code, message), (e.Code, e.Reason));
    }

    [Fact]
    public async Task Broadcast_success_and_other_core_errors()
    {
        var tx = Block1.Transactions[0];
        var warm = false;
        await using var server = Serve(("sendrawtransaction", _ => warm ? FakeResponse.Result(CoreJson.Str(tx.GetHash().ToString())) : FakeResponse.Error(-28, "Loading wallet...")));
        using var client = Client(server);

        var e = await Assert.ThrowsAsync<RpcException>(() => client.BroadcastAsync(tx));
        Assert.Equal(-28, e.Code);
        warm = true;
        await client.BroadcastAsync(tx);
        Assert.Equal(tx.GetHash(), await client.SendRawTransactionAsync(tx, new FeeRate(Money.Zero)));
        Assert.Equal(0m, server.Requests.Last().Params[1].GetDecimal());
    }

    [Theory]
    [InlineData("""{"feerate":0.00010000,"blocks":6}""", 2500u)]
    [InlineData("""{"feerate":0.00000500,"blocks":6}""", 253u)]
    [InlineData("""{"feerate":0.00001012,"blocks":6}""", 253u)]
    [InlineData("""{"feerate":0.00001016,"blocks":6}""", 254u)]
    [InlineData("""{"errors":["Insufficient data or no feerate found"],"blocks":0}""", 1000u)]
    public async Task Fee_estimates_convert_to_sat_per_kw_with_floor_and_fallback(string answer, uint expected)
    {
        await using var server = Serve(("estimatesmartfee", r =>
        {
            Assert.Equal(6, r.Params[0].GetInt32());
            return FakeResponse.Result(answer);
        }));
        using var client = Client(server);

        Assert.Equal(expected, (await client.EstimateFeeRateAsync(ConfirmationTarget.Normal)).SatPerKw);
    }

    [Fact]
    public async Task Fee_estimator_falls_back_when_core_refuses_and_uses_configured_fallbacks()
    {
        await using var server = Serve();
        var options = new BitcoinCoreRpcClientOptions
        {
            FallbackFeeRates = new Dictionary<ConfirmationTarget, FeeRatePerKw> { [ConfirmationTarget.Urgent] = new(9000) },
            DefaultFallbackFeeRate = new(100),
        };
        using var client = Client(server, options);

        Assert.Equal(9000u, (await client.EstimateFeeRateAsync(ConfirmationTarget.Urgent)).SatPerKw);
        Assert.Equal(FeeRatePerKw.FloorSatPerKw, (await client.EstimateFeeRateAsync(ConfirmationTarget.Background)).SatPerKw);
    }

    [Fact]
    public async Task Mempool_methods_parse_core_shapes()
    {
        var tx = Block1.Transactions[0];
        var txid = tx.GetHash();
        await using var server = Serve(
            ("getrawmempool", r =>
            {
                Assert.False(r.Params[0].GetBoolean());
                return FakeResponse.Result($"[\"{txid}\"]");
            }),
            ("getmempoolentry", _ => FakeResponse.Result($$"""{"vsize":141,"weight":561,"time":1700000000,"height":101,"descendantcount":1,"descendantsize":141,"ancestorcount":1,"ancestorsize":141,"wtxid":"{{txid}}","fees":{"base":0.00001000,"modified":0.00001000,"ancestor":0.00001000,"descendant":0.00001000},"depends":[],"spentby":["{{txid}}"],"bip125-replaceable":true,"unbroadcast":false}""")),
            ("getmempoolinfo", _ => FakeResponse.Result("""{"loaded":true,"size":1,"bytes":141,"usage":1232,"total_fee":0.00001000,"maxmempool":300000000,"mempoolminfee":0.00001000,"minrelaytxfee":0.00001000,"incrementalrelayfee":0.00001000,"unbroadcastcount":0,"fullrbf":true}""")),
            ("testmempoolaccept", r =>
            {
                Assert.Equal(tx.ToHex(), r.Params[0][0].GetString());
                return FakeResponse.Result($$$"""[{"txid":"{{{txid}}}","wtxid":"{{{txid}}}","allowed":false,"reject-reason":"missing-inputs"},{"txid":"{{{txid}}}","wtxid":"{{{txid}}}","allowed":true,"vsize":141,"fees":{"base":0.00000141,"effective-feerate":0.00001000,"effective-includes":["{{{txid}}}"]}}]""");
            }));
        using var client = Client(server);

        Assert.Equal([txid], await client.GetRawMempoolAsync());
        var entry = await client.GetMempoolEntryAsync(txid);
        Assert.Equal((141, 561, 101, Money.Satoshis(1000), true), (entry.VirtualSize, entry.Weight, entry.Height, entry.BaseFee, entry.Bip125Replaceable));
        Assert.Equal([txid], entry.SpentBy);
        var info = await client.GetMempoolInfoAsync();
        Assert.Equal((1, 141L, Money.Satoshis(1000)), (info.Size, info.Bytes, info.MempoolMinFee.FeePerK));
        var accept = await client.TestMempoolAcceptAsync([tx, tx]);
        Assert.Equal((false, "missing-inputs"), (accept[0].Allowed, accept[0].RejectReason));
        Assert.Equal((true, 141, Money.Satoshis(141)), (accept[1].Allowed, accept[1].VirtualSize, accept[1].BaseFee));
    }

    [Fact]
    public async Task Regtest_control_methods()
    {
        var address = MinerKey.PubKey.GetAddress(ScriptPubKeyType.Segwit, Net);
        await using var server = Serve(
            ("generatetoaddress", r =>
            {
                Assert.Equal((2, address.ToString()), (r.Params[0].GetInt32(), r.Params[1].GetString()));
                return FakeResponse.Result($"[\"{Genesis.GetHash()}\",\"{Block1.GetHash()}\"]");
            }),
            ("invalidateblock", _ => FakeResponse.Result("null")),
            ("reconsiderblock", _ => FakeResponse.Result("null")),
            ("uptime", _ => FakeResponse.Result("3600")),
            ("stop", _ => FakeResponse.Result("\"Bitcoin Core stopping\"")),
            ("gettxout", _ => FakeResponse.Result(CoreJson.TxOut(Block1.Transactions[0].Outputs[0], Block1.GetHash(), 1, coinbase: true))));
        using var client = Client(server);

        Assert.Equal([Genesis.GetHash(), Block1.GetHash()], await client.GenerateToAddressAsync(2, address));
        await client.InvalidateBlockAsync(Block1.GetHash());
        Assert.Equal(Block1.GetHash().ToString(), server.Requests.Last().Params[0].GetString());
        await client.ReconsiderBlockAsync(Block1.GetHash());
        Assert.Equal(("reconsiderblock", Block1.GetHash().ToString()), (server.Requests.Last().RpcMethod, server.Requests.Last().Params[0].GetString()));
        Assert.Equal(TimeSpan.FromHours(1), await client.UptimeAsync());
        Assert.Equal("Bitcoin Core stopping", await client.StopAsync());
        var txOut = await client.GetTxOutAsync(new OutPoint(Block1.Transactions[0], 0));
        Assert.NotNull(txOut);
        Assert.True(txOut.Coinbase);
        Assert.Equal(Block1.Transactions[0].Outputs[0].Value, txOut.Output.Value);
    }

    [Theory]
    [InlineData("main", "Main")]
    [InlineData("test", "TestNet")]
    [InlineData("testnet4", "TestNet4")]
    [InlineData("signet", "signet")]
    [InlineData("regtest", "RegTest")]
    public async Task ConnectAsync_takes_the_network_from_the_node(string chain, string expected)
    {
        await using var server = Serve(("getblockchaininfo", _ => FakeResponse.Result($$"""{"chain":"{{chain}}","blocks":0,"bestblockhash":"{{Genesis.GetHash()}}"}""")));

        using var client = await BitcoinCoreRpcClient.ConnectAsync(server.UrlWithCredentials("u", "p"));

        Assert.Equal(expected, client.Network.Name);
    }

    [Fact]
    public async Task ConnectAsync_rejects_an_unknown_chain()
    {
        await using var server = Serve(("getblockchaininfo", _ => FakeResponse.Result($$"""{"chain":"liquidv1","blocks":0,"bestblockhash":"{{Genesis.GetHash()}}"}""")));

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => BitcoinCoreRpcClient.ConnectAsync(server.Url));

        Assert.Contains("liquidv1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_rejects_bad_urls()
    {
        Assert.Throws<ArgumentException>(() => new BitcoinCoreRpcClient(new Uri("ftp://127.0.0.1/"), Net));
        Assert.Throws<ArgumentException>(() => new BitcoinCoreRpcClient(new Uri("/relative", UriKind.Relative), Net));
    }

    /// <summary>A port bound but not listening: connections are refused, and no other test can take it meanwhile.</summary>
    private static Socket ReservedClosedPort(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }

    private sealed class CountingTimeProvider : TimeProvider
    {
        public List<TimeSpan> Delays { get; } = [];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (Delays)
            {
                Delays.Add(dueTime);
            }

            return System.CreateTimer(callback, state, dueTime, period);
        }
    }
}
