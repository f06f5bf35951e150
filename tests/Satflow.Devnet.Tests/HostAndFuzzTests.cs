using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using NBitcoin;
using Satflow.Devnet.Rpc;

namespace Satflow.Devnet.Tests;

public sealed class HostTests
{
    [Fact]
    public async Task Host_writes_a_cookie_serves_rpc_and_stops_on_rpc_stop()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-devnet-host-" + Guid.NewGuid().ToString("N"));
        try
        {
            var host = new DevnetHost(new DevnetHostOptions { DataDirectory = dir, RpcBind = new IPEndPoint(IPAddress.Loopback, 0) });
            await host.StartAsync();
            var cookie = await File.ReadAllTextAsync(Path.Combine(dir, ".cookie"));
            Assert.StartsWith("__cookie__:", cookie, StringComparison.Ordinal);

            using var http = new HttpClient { BaseAddress = host.Rpc.Uri };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(cookie)));
            using (var content = new StringContent("{\"id\":1,\"method\":\"getblockcount\"}"))
            using (var response = await http.PostAsync(new Uri("/", UriKind.Relative), content))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(0, (int)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["result"]!);
            }

            using (var content = new StringContent("{\"id\":1,\"method\":\"stop\"}"))
            using (var response = await http.PostAsync(new Uri("/", UriKind.Relative), content))
            {
                Assert.Equal("Bitcoin Core stopping", (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["result"]!);
            }

            await host.Completion.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.False(File.Exists(Path.Combine(dir, ".cookie")));
            await host.DisposeAsync();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Block_interval_mines_blocks()
    {
        await using var host = new DevnetHost(new DevnetHostOptions
        {
            RpcBind = new IPEndPoint(IPAddress.Loopback, 0),
            RpcUser = "u",
            RpcPassword = "p",
            BlockInterval = TimeSpan.FromMilliseconds(50),
        });
        await host.StartAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (host.Chain.Height < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(host.Chain.Height >= 2);
        await host.StopAsync();
        await host.Completion;
    }

    [Fact]
    public async Task Non_loopback_bind_is_refused_unless_allowed()
    {
        await using var host = new DevnetHost(new DevnetHostOptions { RpcBind = new IPEndPoint(IPAddress.Any, 0), RpcUser = "u", RpcPassword = "p" });
        await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
    }

    [Theory]
    [InlineData("127.0.0.1:18444", "127.0.0.1", 18444)]
    [InlineData("127.0.0.1", "127.0.0.1", 18443)]
    [InlineData("[::1]:5000", "::1", 5000)]
    [InlineData("::1", "::1", 18443)]
    [InlineData("localhost:0", "127.0.0.1", 0)]
    public void Rpcbind_parses(string text, string address, int port)
    {
        var endpoint = DevnetHostOptions.ParseRpcBind(text);
        Assert.Equal(IPAddress.Parse(address), endpoint.Address);
        Assert.Equal(port, endpoint.Port);
    }

    [Theory]
    [InlineData("example.com:1")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("[::1")]
    public void Bad_rpcbind_is_a_format_error(string text) => Assert.Throws<FormatException>(() => DevnetHostOptions.ParseRpcBind(text));
}

public sealed class FuzzTests
{
    private static async Task AssertCoreStyleAsync(RpcDispatcher dispatcher, string method, string hex)
    {
        try
        {
            await dispatcher.ExecuteAsync(method, new JsonArray(hex), CancellationToken.None);
        }
        catch (RpcException ex)
        {
            Assert.True(ex.Code is -22 or -25 or -26 or -27, $"{method} {hex}: {ex.Code} {ex.Message}");
        }
    }

    [Fact]
    public async Task Random_bytes_as_raw_transactions_and_blocks_never_crash()
    {
        using var t = new TestChain();
        var coins = await t.FundAsync(1);
        var dispatcher = new RpcDispatcher(t.Chain, () => { });
        var valid = t.Spend(coins, new TxOut(Money.Coins(49.99m), t.NewScript())).ToBytes();
        var validBlock = t.Chain.CreateBlockTemplate(t.MinerScript).ToBytes();

        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            AssertCoreStyleAsync(dispatcher, "sendrawtransaction", Convert.ToHexString(bytes)).GetAwaiter().GetResult();
            AssertCoreStyleAsync(dispatcher, "submitblock", Convert.ToHexString(bytes)).GetAwaiter().GetResult();
        }, iter: 300);

        Gen.Int[0, valid.Length - 1].Select(Gen.Byte).Array[1, 4].Sample(mutations =>
        {
            var copy = (byte[])valid.Clone();
            foreach (var (index, value) in mutations)
            {
                copy[index] = value;
            }

            AssertCoreStyleAsync(dispatcher, "sendrawtransaction", Convert.ToHexString(copy)).GetAwaiter().GetResult();
        }, iter: 150);

        Gen.Int[0, validBlock.Length - 1].Select(Gen.Byte).Array[1, 4].Sample(mutations =>
        {
            var copy = (byte[])validBlock.Clone();
            foreach (var (index, value) in mutations)
            {
                copy[index] = value;
            }

            AssertCoreStyleAsync(dispatcher, "submitblock", Convert.ToHexString(copy)).GetAwaiter().GetResult();
        }, iter: 150);

        var before = t.Chain.Height;
        await t.MineAsync(1);
        Assert.Equal(before + 1, t.Chain.Height);
    }
}
