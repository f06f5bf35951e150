using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using NBitcoin;
using Satflow.Cli.Commands;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Satflow.Node.Api.Tests;

namespace Satflow.Cli.Tests;

/// <summary>
/// The node commands end to end: the real admin API server on 127.0.0.1 over the in-memory node test double, and the
/// CLI finding it through DATADIR/api.json (or --api/--api-key) exactly as a user's shell would.
/// </summary>
[Collection(NodeStartCollection.Name)]
public sealed class NodeCommandTests : IAsyncLifetime
{
    private static readonly string Peer = new NodeId(new Key(Convert.FromHexString(new string('2', 64))).PubKey).ToString();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "satflow-nodecli-" + Guid.NewGuid().ToString("N"));
    private readonly InMemoryNode _node = new();
    private NodeApiServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await NodeApiServer.StartAsync(_node, new NodeApiServerOptions { Bind = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = _dir });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    internal static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SatflowCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private async Task<JsonElement> Json(params string[] args)
    {
        var (code, output, error) = await Run([.. args, "--datadir", _dir, "--json"]);
        Assert.True(code == 0, $"{string.Join(' ', args)}: exit {code}: {error}");
        Assert.Equal("", error);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private async Task<string> Human(params string[] args)
    {
        var (code, output, error) = await Run([.. args, "--datadir", _dir]);
        Assert.True(code == 0, $"{string.Join(' ', args)}: exit {code}: {error}");
        return output;
    }

    private async Task<string> Fails(params string[] args)
    {
        var (code, _, error) = await Run([.. args, "--datadir", _dir]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
        return error.Trim();
    }

    [Fact]
    public async Task EveryNodeCommandWorksThroughTheApiWithJson()
    {
        var info = await Json("node", "info");
        Assert.Equal(_node.NodeId.ToString(), info.GetProperty("node_id").GetString());
        Assert.Equal("regtest", info.GetProperty("network").GetString());
        Assert.Equal(101, info.GetProperty("block_height").GetInt32());
        Assert.Equal(0, info.GetProperty("peer_count").GetInt32());

        Assert.StartsWith("bcrt1q", (await Json("wallet", "address")).GetProperty("address").GetString(), StringComparison.Ordinal);
        var balance = await Json("wallet", "balance");
        Assert.Equal(100_000_000, balance.GetProperty("confirmed_sat").GetInt64());
        Assert.Equal(100_000_000, balance.GetProperty("total_sat").GetInt64());

        var peer = await Json("peer", "connect", $"{Peer}@127.0.0.1:9735");
        Assert.Equal(Peer, peer.GetProperty("node_id").GetString());
        Assert.Equal(Peer, (await Json("peer", "list"))[0].GetProperty("node_id").GetString());

        var channel = await Json("channel", "open", Peer, "250000");
        Assert.Equal(250_000, channel.GetProperty("capacity_sat").GetInt64());
        Assert.Equal("awaiting_confirmation", channel.GetProperty("state").GetString());
        _node.ConfirmChannels();
        var channels = await Json("channel", "list");
        Assert.Equal("normal", channels[0].GetProperty("state").GetString());
        Assert.Equal(250_000_000, channels[0].GetProperty("local_balance_msat").GetInt64());
        Assert.Equal(1, (await Json("node", "info")).GetProperty("active_channel_count").GetInt32());

        var invoice = await Json("invoice", "create", "42000", "--description", "coffee", "--expiry", "600");
        var hash = invoice.GetProperty("payment_hash").GetString()!;
        Assert.Equal(42_000, invoice.GetProperty("amount_msat").GetInt64());
        Assert.Equal("coffee", invoice.GetProperty("description").GetString());
        Assert.Equal(hash, Bolt11Invoice.Decode(invoice.GetProperty("bolt11").GetString()!).PaymentHash.ToString());
        Assert.Equal(hash, (await Json("invoice", "list"))[0].GetProperty("payment_hash").GetString());
        Assert.Equal("open", (await Json("invoice", "lookup", hash)).GetProperty("state").GetString());

        var paid = await Json("pay", invoice.GetProperty("bolt11").GetString()!);
        Assert.Equal("succeeded", paid.GetProperty("state").GetString());
        Assert.Equal(hash, PaymentPreimage.Parse(paid.GetProperty("preimage").GetString()!).Hash.ToString());
        Assert.Equal(0, paid.GetProperty("fee_msat").GetInt64());
        Assert.Equal("settled", (await Json("invoice", "lookup", hash)).GetProperty("state").GetString());

        var keysend = await Json("keysend", Peer, "1000");
        Assert.Equal("succeeded", keysend.GetProperty("state").GetString());
        Assert.Equal(Peer, keysend.GetProperty("destination").GetString());
        Assert.Equal(2, (await Json("payment", "list")).GetArrayLength());
        var lookup = await Json("payment", "lookup", hash);
        Assert.Equal(42_000, lookup.GetProperty("amount_msat").GetInt64());

        var closed = await Json("channel", "close", channels[0].GetProperty("short_channel_id").GetString()!);
        Assert.Equal("closing", closed.GetProperty("state").GetString());
        var forced = await Json("channel", "close", channels[0].GetProperty("channel_id").GetString()!, "--force");
        Assert.Equal("force_closing", forced.GetProperty("state").GetString());
        Assert.True((await Json("peer", "disconnect", Peer)).GetProperty("disconnected").GetBoolean());
        Assert.Equal(0, (await Json("peer", "list")).GetArrayLength());
    }

    [Fact]
    public async Task HumanOutputIsReadable()
    {
        Assert.Contains(_node.NodeId.ToString(), await Human("node", "info"), StringComparison.Ordinal);
        Assert.StartsWith("bcrt1q", await Human("wallet", "address"), StringComparison.Ordinal);
        Assert.Contains("1.00000000 BTC", await Human("wallet", "balance"), StringComparison.Ordinal);
        Assert.Contains($"connected to {Peer} at 127.0.0.1:9735", await Human("peer", "connect", $"{Peer}@127.0.0.1:9735"), StringComparison.Ordinal);
        Assert.Contains("outbound", await Human("peer", "list"), StringComparison.Ordinal);
        Assert.Contains("250,000 sat", await Human("channel", "open", Peer, "250000"), StringComparison.Ordinal);
        _node.ConfirmChannels();
        Assert.Contains("normal", await Human("channel", "list"), StringComparison.Ordinal);
        var bolt11 = (await Human("invoice", "create", "5000")).Trim();
        Assert.StartsWith("lnbcrt50n1", bolt11, StringComparison.Ordinal);
        Assert.Contains("5,000 msat", await Human("invoice", "list"), StringComparison.Ordinal);
        var hash = Bolt11Invoice.Decode(bolt11).PaymentHash.ToString();
        Assert.Contains("open", await Human("invoice", "lookup", hash), StringComparison.Ordinal);
        var paid = await Human("pay", bolt11);
        Assert.StartsWith("paid 5,000 msat", paid, StringComparison.Ordinal);
        Assert.Contains("preimage", paid, StringComparison.Ordinal);
        Assert.Contains("succeeded", await Human("payment", "list"), StringComparison.Ordinal);
        Assert.Contains("succeeded", await Human("payment", "lookup", hash), StringComparison.Ordinal);
        Assert.StartsWith("paid 1,000 msat", await Human("keysend", Peer, "1000"), StringComparison.Ordinal);
        Assert.Contains("force_closing", await Human("channel", "close", "102x1x0", "--force"), StringComparison.Ordinal);
        Assert.Contains($"disconnected {Peer}", await Human("peer", "disconnect", Peer), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiUrlAndKeyWorkWithoutADataDirectory()
    {
        var (code, output, error) = await Run("node", "info", "--api", _server.Url.ToString(), "--api-key", _server.ApiKey, "--json");
        Assert.True(code == 0, error);
        Assert.Equal(_node.NodeId.ToString(), JsonDocument.Parse(output).RootElement.GetProperty("node_id").GetString());
        var balance = await Run("wallet", "balance", "--api", _server.Url.ToString(), "--api-key", _server.ApiKey, "--json");
        Assert.True(balance.Code == 0, balance.Err);

        var wrong = await Run("node", "info", "--api", _server.Url.ToString(), "--api-key", "nope");
        Assert.Equal(1, wrong.Code);
        Assert.StartsWith("error: missing or wrong admin key", wrong.Err, StringComparison.Ordinal);
        Assert.Contains("--api-key", wrong.Err, StringComparison.Ordinal);

        var noKey = await Run("node", "info", "--api", _server.Url.ToString());
        Assert.Equal("error: --api needs --api-key (the api_key in the node's DATADIR/api.json)", noKey.Err.Trim());
        var both = await Run("node", "info", "--api", _server.Url.ToString(), "--api-key", "k", "--datadir", _dir);
        Assert.Equal("error: give --datadir or --api/--api-key, not both", both.Err.Trim());
    }

    [Fact]
    public async Task NoRunningNodeIsAClearOneLineError()
    {
        var empty = Path.Combine(_dir, "nothing-here");
        var (code, output, error) = await Run("node", "info", "--datadir", empty);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal($"error: no node API found in {empty} (is `satflow node start` running?)", error.Trim());

        // A stale api.json (a node that died) points at a port where nobody answers.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        new NodeApiFile(new Uri($"http://127.0.0.1:{port}/"), "stale").WriteTo(empty);
        var stale = await Run("peer", "list", "--datadir", empty);
        Assert.Equal(1, stale.Code);
        Assert.StartsWith($"error: no node API answering at http://127.0.0.1:{port}/", stale.Err, StringComparison.Ordinal);
        Assert.Single(stale.Err.TrimEnd().Split('\n'));

        // Without --datadir/--api, wallet address|balance keep using the standalone wallet.
        var standalone = await Run("wallet", "balance", "--wallet-dir", empty, "--rpc", "http://u:p@127.0.0.1:1/", "--passphrase", "x");
        Assert.Equal(1, standalone.Code);
        Assert.Contains("no wallet in", standalone.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadArgumentsAndNodeRefusalsAreOneLineErrors()
    {
        Assert.Equal("error: 'garbage' is not NODEID@HOST:PORT", await Fails("peer", "connect", "garbage"));
        Assert.Contains("is not a node id", await Fails("peer", "connect", "02abc@127.0.0.1:9735"), StringComparison.Ordinal);
        Assert.Contains("address: '127.0.0.1' is not host:port", await Fails("peer", "connect", $"{Peer}@127.0.0.1"), StringComparison.Ordinal);
        Assert.Contains("connection refused", await Fails("peer", "connect", $"{Peer}@127.0.0.1:{InMemoryNode.UnreachablePort}"), StringComparison.Ordinal);
        Assert.Contains("is not connected", await Fails("peer", "disconnect", Peer), StringComparison.Ordinal);
        Assert.Contains("is not connected", await Fails("channel", "open", Peer, "100000"), StringComparison.Ordinal);
        Assert.Contains("is not an amount in satoshis", await Fails("channel", "open", Peer, "1.5"), StringComparison.Ordinal);
        Assert.Contains("is not an amount in millisatoshis", await Fails("invoice", "create", "-3"), StringComparison.Ordinal);
        Assert.Contains("639", await Fails("invoice", "create", "1000", "--description", new string('x', 700)), StringComparison.Ordinal);
        Assert.Contains("not a payment hash", await Fails("invoice", "lookup", "abc"), StringComparison.Ordinal);
        Assert.Contains("no invoice with payment hash", await Fails("invoice", "lookup", new string('e', 64)), StringComparison.Ordinal);
        Assert.Contains("no payment with payment hash", await Fails("payment", "lookup", new string('e', 64)), StringComparison.Ordinal);
        Assert.Contains("no channel", await Fails("channel", "close", "1x1x1"), StringComparison.Ordinal);
        Assert.Contains("not a valid BOLT 11 invoice", await Fails("pay", "lnbcrt1nonsense"), StringComparison.Ordinal);
        Assert.Contains("no usable channel", await Fails("keysend", Peer, "1000"), StringComparison.Ordinal);
        Assert.Contains("p2wpkh addresses only", await Fails("wallet", "address", "--type", "p2tr"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedPaymentPrintsItsRecordAndExitsWithOne()
    {
        // An invoice of some other node: the test double has no channel towards it, so the payment fails.
        var other = new Key(Convert.FromHexString(new string('3', 64)));
        var preimage = new PaymentPreimage(new Bytes32(RandomNumberGenerator.GetBytes(32)));
        var bolt11 = new Bolt11InvoiceBuilder(Bolt11Network.Regtest, (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds())
            .Amount(new MilliSatoshi(7000)).PaymentHash(preimage.Hash).PaymentSecret(new PaymentSecret(new Bytes32(new byte[32])))
            .Description("elsewhere").Sign(other).Encoded;
        var (code, output, error) = await Run("pay", bolt11, "--datadir", _dir, "--json");
        Assert.Equal(1, code);
        var record = JsonDocument.Parse(output).RootElement;
        Assert.Equal("failed", record.GetProperty("state").GetString());
        Assert.Equal("no route with enough capacity", record.GetProperty("failure_reason").GetString());
        Assert.Equal($"error: payment {preimage.Hash} failed: no route with enough capacity", error.Trim());
    }

    [Theory]
    [InlineData("error: give either --bitcoind-rpc or --embedded-devnet, not both", "--bitcoind-rpc", "http://u:p@127.0.0.1:18443", "--embedded-devnet")]
    [InlineData("error: --bitcoind-rpc needs credentials in the URL: http://USER:PASS@HOST:PORT", "--bitcoind-rpc", "http://127.0.0.1:18443")]
    [InlineData("error: --bitcoind-rpc must be an http URL such as http://USER:PASS@127.0.0.1:18443, got 'ftp://x'", "--bitcoind-rpc", "ftp://x")]
    [InlineData("error: the embedded devnet is regtest only; give --bitcoind-rpc for signet", "--network", "signet")]
    [InlineData("error: unknown network 'moon' (use regtest, signet, testnet or mainnet)", "--network", "moon")]
    [InlineData("error: --listen must be a loopback address (127.0.0.1 or [::1]); got 0.0.0.0", "--listen", "0.0.0.0:9735")]
    [InlineData("error: --api must be a loopback address (127.0.0.1 or [::1]); got 10.0.0.1", "--api", "10.0.0.1:9736")]
    [InlineData("error: --api must be HOST:PORT with a loopback HOST, e.g. 127.0.0.1:9735; got 'nowhere'", "--api", "nowhere")]
    [InlineData("error: --listen must be HOST:PORT with a loopback HOST, e.g. 127.0.0.1:9735; got '127.0.0.1:99999'", "--listen", "127.0.0.1:99999")]
    [InlineData("error: --listen and --api must use different ports (both are 127.0.0.1:9000)", "--listen", "127.0.0.1:9000", "--api", "127.0.0.1:9000")]
    public async Task NodeStartValidatesItsOptions(string expected, params string[] options)
    {
        var (code, _, error) = await Run(["node", "start", "--datadir", Path.Combine(_dir, "new"), .. options]);
        Assert.Equal(1, code);
        Assert.Equal(expected, error.Trim());
    }

    [Fact]
    public void NodeStartDefaultsToTheEmbeddedDevnetOnLoopback()
    {
        var settings = NodeCommands.Validate("d", "regtest", null, false, NodeCommands.DefaultListen, NodeCommands.DefaultApi);
        Assert.True(settings.EmbeddedDevnet);
        Assert.Null(settings.BitcoindRpc);
        Assert.Equal(Path.GetFullPath("d"), settings.DataDirectory);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9735), settings.Listen);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9736), settings.Api);
        var signet = NodeCommands.Validate("d", "signet", "http://u:p@127.0.0.1:38332", false, "[::1]:0", "localhost:0");
        Assert.Equal(NBitcoin.Bitcoin.Instance.Signet, signet.Network);
        Assert.False(signet.EmbeddedDevnet);
        Assert.Equal(IPAddress.IPv6Loopback, signet.Listen.Address);
        Assert.Equal(IPAddress.Loopback, signet.Api.Address);
    }

    [Fact]
    public async Task NodeStartRefusesADataDirectoryWhoseNodeStillAnswers()
    {
        var (code, _, error) = await Run("node", "start", "--datadir", _dir, "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0");
        Assert.Equal(1, code);
        Assert.Equal($"error: a node is already running with {_dir} (its admin API answers at {_server.Url})", error.Trim());
    }
}
