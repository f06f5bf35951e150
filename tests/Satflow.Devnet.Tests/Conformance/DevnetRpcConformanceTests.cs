using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Conformance;
using BitcoinCoreRpcClient = Satflow.Bitcoin.Rpc.BitcoinCoreRpcClient;
using CoreRpcErrorCodes = Satflow.Bitcoin.Rpc.RpcErrorCodes;
using CoreRpcException = Satflow.Bitcoin.Rpc.RpcException;
using DevnetRpcOptions = Satflow.Devnet.Rpc.DevnetRpcOptions;
using DevnetRpcServer = Satflow.Devnet.Rpc.DevnetRpcServer;

namespace Satflow.Devnet.Tests.Conformance;

/// <summary>
/// The chain-source conformance kit over <see cref="BitcoinCoreRpcClient"/> talking to the devnet's Bitcoin
/// Core–compatible JSON-RPC server on 127.0.0.1 (ephemeral port). Mining and invalidation also go through RPC.
/// </summary>
public sealed class DevnetRpcConformanceTests : ChainSourceConformanceTests
{
    private readonly SteppingClock _clock = new();
    private DevnetChain? _chain;
    private DevnetRpcServer? _server;
    private BitcoinCoreRpcClient? _client;

    private BitcoinCoreRpcClient Client => _client ?? throw new InvalidOperationException("The client is not created.");

    protected override async Task<IChainSource> CreateSourceAsync()
    {
        _chain = DevnetChain.Open(new DevnetOptions { TimeProvider = _clock });
        _server = await DevnetRpcServer.StartAsync(_chain, new DevnetRpcOptions { Port = 0, User = "conformance", Password = "p@ss:word" });
        var url = new UriBuilder(_server.Uri) { UserName = Uri.EscapeDataString(_server.User), Password = Uri.EscapeDataString(_server.Password) }.Uri;
        _client = new BitcoinCoreRpcClient(url, Network.RegTest);
        return _client;
    }

    protected override Task<IBroadcaster> CreateBroadcasterAsync() => Task.FromResult<IBroadcaster>(Client);

    protected override Task<IFeeEstimator> CreateFeeEstimatorAsync() => Task.FromResult<IFeeEstimator>(Client);

    protected override async Task<IReadOnlyList<uint256>> MineAsync(int blocks, Script? payTo = null)
    {
        var address = (payTo ?? FreshScript()).GetDestinationAddress(Network.RegTest)
            ?? throw new ArgumentException("The script has no address form.", nameof(payTo));
        var hashes = new List<uint256>(blocks);
        for (var i = 0; i < blocks; i++)
        {
            _clock.Step();
            hashes.AddRange(await Client.GenerateToAddressAsync(1, address));
        }

        return hashes;
    }

    protected override Task InvalidateBlockAsync(uint256 hash) => Client.InvalidateBlockAsync(hash);

    protected override async Task DisposeChainAsync()
    {
        _client?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _chain?.Dispose();
    }

    [Fact]
    public async Task Typed_rpc_results_parse_the_devnets_answers()
    {
        var key = new Key();
        var coin = await CreateSpendableCoinAsync(key);
        var spend = Spend(coin, key, FreshScript(), Money.Satoshis(1000));
        await Broadcaster.BroadcastAsync(spend);

        var chain = await Client.GetBlockchainInfoAsync();
        Assert.Equal(("regtest", 101), (chain.Chain, chain.Blocks));
        Assert.Equal(chain.BestBlockHash, await Client.GetBestBlockHashAsync());
        Assert.Equal(101, await Client.GetBlockCountAsync());
        Assert.True((await Client.GetNetworkInfoAsync()).Version > 0);
        Assert.Equal([spend.GetHash()], await Client.GetRawMempoolAsync());
        var entry = await Client.GetMempoolEntryAsync(spend.GetHash());
        Assert.Equal(Money.Satoshis(1000), entry.BaseFee);
        Assert.Equal(spend.GetVirtualSize(), entry.VirtualSize);
        Assert.Equal(1, (await Client.GetMempoolInfoAsync()).Size);
        var accept = Assert.Single(await Client.TestMempoolAcceptAsync([Spend(coin, key, FreshScript(), Money.Satoshis(500))]));
        Assert.False(accept.Allowed);
        Assert.False(string.IsNullOrEmpty(accept.RejectReason));
        var txOut = await Client.GetTxOutAsync(new OutPoint(spend, 0));
        Assert.Equal(0, txOut!.Confirmations);
        var raw = await Client.GetRawTransactionAsync(spend.GetHash());
        Assert.Equal((spend.GetHash(), (uint256?)null), (raw.Transaction.GetHash(), raw.BlockHash));
        var header = await Client.GetBlockHeaderAsync(chain.BestBlockHash);
        Assert.Equal((101, 1), (header.Height, header.Confirmations));
        Assert.True((await Client.EstimateSmartFeeAsync(6)).Blocks >= 0);
        Assert.True(await Client.UptimeAsync() >= TimeSpan.Zero);
        var e = await Assert.ThrowsAsync<CoreRpcException>(() => Client.GetBlockHeaderAsync(uint256.One));
        Assert.Equal(CoreRpcErrorCodes.InvalidAddressOrKey, e.Code);
        var unknown = await Assert.ThrowsAsync<CoreRpcException>(() => Client.CallAsync("nosuchmethod"));
        Assert.Equal(CoreRpcErrorCodes.MethodNotFound, unknown.Code);
    }

    [Fact]
    public async Task Reconsiderblock_restores_an_invalidated_branch()
    {
        var mined = await MineFreshAsync(2);
        await Client.InvalidateBlockAsync(mined[0]);
        Assert.Equal(-1, (await Source.GetHeaderAsync(mined[1]))!.Confirmations);

        await Client.ReconsiderBlockAsync(mined[0]);

        Assert.Equal(new ChainTip(2, mined[1]), await Source.GetTipAsync());
    }

    [Fact]
    public async Task Wrong_password_is_a_ChainSourceException_without_the_password()
    {
        var url = new UriBuilder(_server!.Uri) { UserName = "conformance", Password = "wrong-password" }.Uri;
        using var client = new BitcoinCoreRpcClient(url, Network.RegTest);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => client.GetBlockCountAsync());

        Assert.Contains("401", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", e.Message, StringComparison.Ordinal);
    }
}
