using System.Net;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using BitcoinCoreRpcClient = Satflow.Bitcoin.Rpc.BitcoinCoreRpcClient;
using BitcoinCoreRpcClientOptions = Satflow.Bitcoin.Rpc.BitcoinCoreRpcClientOptions;
using RpcCredentials = Satflow.Bitcoin.Rpc.RpcCredentials;

namespace Satflow.Devnet.Tests.Conformance;

/// <summary>The RPC client against a full devnet host: cookie authentication, network discovery and <c>stop</c>.</summary>
public sealed class RpcClientOverDevnetHostTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), $"satflow-rpc-host-{Guid.NewGuid():N}");

    [Fact]
    public async Task Cookie_auth_network_discovery_mining_and_stop()
    {
        await using var host = new DevnetHost(new DevnetHostOptions { DataDirectory = _dataDirectory, RpcBind = new IPEndPoint(IPAddress.Loopback, 0) });
        await host.StartAsync();
        var options = new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromCookieFile(Path.Combine(_dataDirectory, ".cookie")) };

        using var client = await BitcoinCoreRpcClient.ConnectAsync(host.Rpc.Uri, options);

        Assert.Equal(Network.RegTest, client.Network);
        var mined = await client.GenerateToAddressAsync(2, new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.RegTest));
        Assert.Equal(new ChainTip(2, mined[1]), await client.GetTipAsync());
        Assert.False(string.IsNullOrEmpty(await client.StopAsync()));
        await host.Completion.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}
