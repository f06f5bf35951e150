using System.Net;
using System.Text.Json;
using Satflow.Devnet;
using Satflow.Node.Api;

namespace Satflow.Cli.Tests;

/// <summary>
/// The documented two-node walkthrough (docs/node.md) with the real node: a devnet with user/password RPC, two
/// `satflow node start` processes' worth of hosting (in-process, cancelled like Ctrl-C), and every step through the CLI.
/// </summary>
[Collection(NodeStartCollection.Name)]
public sealed class NodeEndToEndTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "satflow-node-e2e-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task<int>> _nodes = [];
    private DevnetHost _devnet = null!;

    private string Rpc => $"http://u:p@127.0.0.1:{_devnet.Rpc.Port}/";

    public async Task InitializeAsync()
    {
        _devnet = new DevnetHost(new DevnetHostOptions
        {
            DataDirectory = Path.Combine(_root, "devnet"),
            RpcBind = new IPEndPoint(IPAddress.Loopback, 0),
            RpcUser = "u",
            RpcPassword = "p",
        });
        await _devnet.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var node in _nodes)
        {
            await node;
        }
        await _devnet.DisposeAsync();
        _stop.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private async Task<string> StartNodeAsync(string name)
    {
        var dir = Path.Combine(_root, name);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        _nodes.Add(Task.Run(() => SatflowCli.RunAsync(
            ["node", "start", "--datadir", dir, "--bitcoind-rpc", Rpc, "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--json"], stdout, stderr, _stop.Token)));
        for (var i = 0; i < 600 && !File.Exists(NodeApiFile.PathIn(dir)); i++)
        {
            Assert.False(_nodes[^1].IsCompleted, $"node start {name} exited: {stderr}");
            await Task.Delay(50);
        }
        Assert.True(File.Exists(NodeApiFile.PathIn(dir)), $"node {name} did not start: {stderr}");
        return dir;
    }

    private static async Task<JsonElement> Json(string dir, params string[] args)
    {
        var (code, output, error) = await NodeCommandTests.Run([.. args, "--datadir", dir, "--json"]);
        Assert.True(code == 0, $"{string.Join(' ', args)}: {error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private async Task MineAsync(int blocks, string? to = null)
    {
        var (code, _, error) = await NodeCommandTests.Run(to is null ? ["devnet", "mine", blocks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rpc", Rpc]
            : ["devnet", "mine", blocks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--to", to, "--rpc", Rpc]);
        Assert.True(code == 0, error);
    }

    private static async Task<JsonElement> WaitForAsync(Func<Task<JsonElement>> read, Func<JsonElement, bool> done, string what)
    {
        for (var i = 0; i < 150; i++)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("timed out waiting for " + what);
    }

    [Fact]
    public async Task TwoNodesOpenAChannelPayAnInvoiceAndCloseIt()
    {
        var alice = await StartNodeAsync("alice");
        var bob = await StartNodeAsync("bob");

        var address = (await Json(alice, "wallet", "address")).GetProperty("address").GetString()!;
        await MineAsync(101, address);
        await WaitForAsync(() => Json(alice, "wallet", "balance"), b => b.GetProperty("confirmed_sat").GetInt64() >= 50_0000_0000L, "alice's coins");

        var bobInfo = await Json(bob, "node", "info");
        var bobId = bobInfo.GetProperty("node_id").GetString()!;
        var bobListen = bobInfo.GetProperty("listen_addresses")[0].GetString()!;
        Assert.Equal(bobId, (await Json(alice, "peer", "connect", $"{bobId}@{bobListen}")).GetProperty("node_id").GetString());

        var channel = await Json(alice, "channel", "open", bobId, "1000000");
        Assert.Equal(1_000_000, channel.GetProperty("capacity_sat").GetInt64());
        await MineAsync(6);
        await WaitForAsync(() => Json(alice, "channel", "list"), c => c[0].GetProperty("state").GetString() == "normal", "a normal channel");
        await WaitForAsync(() => Json(bob, "channel", "list"), c => c.GetArrayLength() == 1 && c[0].GetProperty("state").GetString() == "normal", "bob's channel");

        var invoice = await Json(bob, "invoice", "create", "50000000", "--description", "coffee");
        var paid = await Json(alice, "pay", invoice.GetProperty("bolt11").GetString()!);
        Assert.Equal("succeeded", paid.GetProperty("state").GetString());
        Assert.Equal(invoice.GetProperty("payment_hash").GetString(), paid.GetProperty("payment_hash").GetString());
        var settled = await Json(bob, "invoice", "lookup", invoice.GetProperty("payment_hash").GetString()!);
        Assert.Equal("settled", settled.GetProperty("state").GetString());
        Assert.Equal(50_000_000, settled.GetProperty("amount_received_msat").GetInt64());
        var channels = await Json(alice, "channel", "list");
        Assert.Equal(950_000_000, channels[0].GetProperty("local_balance_msat").GetInt64());

        await Json(alice, "channel", "close", channels[0].GetProperty("short_channel_id").GetString()!);
        await MineAsync(1);
        await WaitForAsync(() => Json(alice, "channel", "list"), c => c[0].GetProperty("state").GetString() == "closed", "the close");

        // Ctrl-C: both nodes stop cleanly and remove their api.json.
        await _stop.CancelAsync();
        foreach (var node in _nodes)
        {
            Assert.Equal(0, await node);
        }
        _nodes.Clear();
        Assert.False(File.Exists(NodeApiFile.PathIn(alice)));
        Assert.False(File.Exists(NodeApiFile.PathIn(bob)));
    }
}

/// <summary>Tests that run `node start` (and swap its composition point) must not overlap.</summary>
[CollectionDefinition(Name)]
public sealed class NodeStartCollection
{
    public const string Name = "node start";
}
