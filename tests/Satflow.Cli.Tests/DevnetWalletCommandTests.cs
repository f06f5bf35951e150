using System.Net;
using System.Text.Json;
using NBitcoin;
using Satflow.Devnet;

namespace Satflow.Cli.Tests;

/// <summary>
/// The devnet and wallet commands end to end: a real devnet host serving JSON-RPC on 127.0.0.1, and the CLI talking to
/// it exactly as a user's shell would (same argument parsing, same output).
/// </summary>
public sealed class DevnetWalletCommandTests : IAsyncLifetime
{
    private const string Passphrase = "correct horse";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "satflow-cli-" + Guid.NewGuid().ToString("N"));
    private DevnetHost _host = null!;

    private string RpcUrl => $"http://u:p@127.0.0.1:{_host.Rpc.Port}/";

    public async Task InitializeAsync()
    {
        _host = new DevnetHost(new DevnetHostOptions
        {
            DataDirectory = Path.Combine(_root, "devnet"),
            RpcBind = new IPEndPoint(IPAddress.Loopback, 0),
            RpcUser = "u",
            RpcPassword = "p",
        });
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SatflowCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string[] Wallet(string dir, params string[] args) =>
        ["wallet", .. args, "--rpc", RpcUrl, "--wallet-dir", dir, "--passphrase", Passphrase];

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public async Task CreateMineSendBumpAndRestoreFindsEveryCoin()
    {
        var walletDir = Path.Combine(_root, "wallet");
        var created = await Run([.. Wallet(walletDir, "create", "--kdf-iterations", "1000"), "--json"]);
        Assert.True(created.Code == 0, created.Err);
        var mnemonic = Json(created.Out).GetProperty("mnemonic").GetString()!;
        Assert.Equal(12, mnemonic.Split(' ').Length);
        Assert.DoesNotContain(mnemonic.Split(' ')[0] + " " + mnemonic.Split(' ')[1], File.ReadAllText(Directory.GetFiles(walletDir)[0]), StringComparison.Ordinal);

        var wpkh = await Run([.. Wallet(walletDir, "address"), "--json"]);
        Assert.Equal(0, wpkh.Code);
        var address = Json(wpkh.Out).GetProperty("address").GetString()!;
        Assert.StartsWith("bcrt1q", address, StringComparison.Ordinal);
        var taproot = await Run([.. Wallet(walletDir, "address", "--type", "p2tr"), "--json"]);
        var taprootAddress = Json(taproot.Out).GetProperty("address").GetString()!;
        Assert.StartsWith("bcrt1p", taprootAddress, StringComparison.Ordinal);

        var mined = await Run("devnet", "mine", "101", "--to", address, "--rpc", RpcUrl, "--json");
        Assert.True(mined.Code == 0, mined.Err);
        Assert.Equal(101, Json(mined.Out).GetProperty("height").GetInt32());
        Assert.Equal(101, Json(mined.Out).GetProperty("block_hashes").GetArrayLength());

        var balance = Json((await Run([.. Wallet(walletDir, "balance"), "--json"])).Out);
        Assert.Equal(100_0000_0000L, balance.GetProperty("confirmed_sat").GetInt64()); // two mature coinbases
        Assert.Equal(99 * 50_0000_0000L, balance.GetProperty("immature_sat").GetInt64());

        // Pay 1 BTC to our own taproot address at 2 sat/vB, then bump it to 5 sat/vB.
        var sent = await Run([.. Wallet(walletDir, "send", taprootAddress, "1", "--fee-rate", "2"), "--json"]);
        Assert.True(sent.Code == 0, sent.Err);
        var first = Json(sent.Out);
        Assert.True(first.GetProperty("fee_sat").GetInt64() >= 2 * first.GetProperty("vsize").GetInt64());
        var bumped = await Run([.. Wallet(walletDir, "bump-fee", first.GetProperty("txid").GetString()!, "--fee-rate", "5"), "--json"]);
        Assert.True(bumped.Code == 0, bumped.Err);
        var replacement = Json(bumped.Out);
        Assert.NotEqual(first.GetProperty("txid").GetString(), replacement.GetProperty("txid").GetString());
        Assert.True(replacement.GetProperty("fee_sat").GetInt64() > first.GetProperty("fee_sat").GetInt64());
        Assert.Equal(1, _host.Chain.MempoolCount);

        // Child-pays-for-parent on the replacement's change: one more unconfirmed transaction, which the block below confirms.
        var child = await Run([.. Wallet(walletDir, "cpfp", replacement.GetProperty("txid").GetString()!, "--fee-rate", "20"), "--json"]);
        Assert.True(child.Code == 0, child.Err);
        var childFee = Json(child.Out).GetProperty("fee_sat").GetInt64();
        Assert.True(childFee > 0);
        Assert.Equal(2, _host.Chain.MempoolCount);

        await Run("devnet", "mine", "1", "--rpc", RpcUrl); // to the default anyone-can-spend address, not the wallet
        Assert.Equal(0, _host.Chain.MempoolCount);
        // The confirmed replacement paid 1 BTC to our taproot address (the CPFP child may have re-spent that output).
        var confirmed = _host.Chain.GetTransaction(uint256.Parse(replacement.GetProperty("txid").GetString()!))!;
        Assert.Equal(1, confirmed.Confirmations);
        Assert.Contains(confirmed.Transaction.Outputs, o => o.Value == Money.Coins(1) && o.ScriptPubKey == BitcoinAddress.Create(taprootAddress, Network.RegTest).ScriptPubKey);
        var utxos = Json((await Run([.. Wallet(walletDir, "list-utxos"), "--json"])).Out);
        Assert.All(utxos.EnumerateArray(), u => Assert.True(u.GetProperty("confirmations").GetInt32() >= 1));
        var afterSend = Json((await Run([.. Wallet(walletDir, "balance"), "--json"])).Out);
        var total = afterSend.GetProperty("total_sat").GetInt64();
        Assert.Equal(101 * 50_0000_0000L - replacement.GetProperty("fee_sat").GetInt64() - childFee, total);

        // A fresh data dir restored from the mnemonic finds exactly the same coins.
        var restoredDir = Path.Combine(_root, "restored");
        var restored = await Run([.. Wallet(restoredDir, "restore", "--mnemonic", mnemonic, "--kdf-iterations", "1000"), "--json"]);
        Assert.True(restored.Code == 0, "restore failed: " + restored.Err);
        Assert.Equal(total, Json(restored.Out).GetProperty("total_sat").GetInt64());
        Assert.Contains("rescan", restored.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadInputGivesOneLineErrorsAndNonZeroExitCodes()
    {
        var walletDir = Path.Combine(_root, "w2");
        Assert.Equal(0, (await Run(Wallet(walletDir, "create", "--kdf-iterations", "1000"))).Code);

        var wrongPassphrase = await Run(["wallet", "balance", "--rpc", RpcUrl, "--wallet-dir", walletDir, "--passphrase", "nope"]);
        Assert.Equal(1, wrongPassphrase.Code);
        Assert.Contains("passphrase", wrongPassphrase.Err, StringComparison.Ordinal);
        Assert.Single(wrongPassphrase.Err.TrimEnd().Split('\n'));

        var badAddress = await Run(Wallet(walletDir, "send", "bc1qnotanaddress", "1"));
        Assert.Equal(1, badAddress.Code);
        Assert.StartsWith("error: ", badAddress.Err, StringComparison.Ordinal);

        var broke = await Run(Wallet(walletDir, "send", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "0.5", "--fee-rate", "1"));
        Assert.Equal(1, broke.Code);
        Assert.Contains("insufficient funds", broke.Err, StringComparison.Ordinal);

        var badAmount = await Run(Wallet(walletDir, "send", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "0.000000001"));
        Assert.Equal(1, badAmount.Code);

        var again = await Run(Wallet(walletDir, "create"));
        Assert.Equal(1, again.Code);
        Assert.Contains("already holds a wallet", again.Err, StringComparison.Ordinal);

        var noWallet = await Run(Wallet(Path.Combine(_root, "none"), "balance"));
        Assert.Equal(1, noWallet.Code);
        Assert.Contains("wallet create", noWallet.Err, StringComparison.Ordinal);

        var badMine = await Run("devnet", "mine", "0", "--rpc", RpcUrl);
        Assert.Equal(1, badMine.Code);

        var unreachable = await Run("devnet", "mine", "1", "--rpc", "http://u:p@127.0.0.1:1/");
        Assert.Equal(1, unreachable.Code);
        Assert.DoesNotContain("u:p", unreachable.Err, StringComparison.Ordinal);

        var publicBind = await Run("devnet", "start", "--rpcbind", "0.0.0.0:18443", "--datadir", Path.Combine(_root, "x"));
        Assert.Equal(1, publicBind.Code);
        Assert.Contains("loopback", publicBind.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DevnetStartRunsUntilRpcStopAndKeepsItsChain()
    {
        var dir = Path.Combine(_root, "started");
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var port = FreePort();
        var run = SatflowCli.RunAsync(["devnet", "start", "--datadir", dir, "--rpcbind", $"127.0.0.1:{port}", "--rpcuser", "a", "--rpcpassword", "b"], stdout, stderr);
        var url = $"http://a:b@127.0.0.1:{port}/";
        await WaitUntilAsync(async () => (await Run("devnet", "info", "--rpc", url)).Code == 0);
        Assert.Equal(0, (await Run("devnet", "mine", "3", "--rpc", url)).Code);

        using (var http = new HttpClient())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/")
            {
                Content = new StringContent("""{"jsonrpc":"1.0","id":1,"method":"stop","params":[]}"""),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("a:b"u8.ToArray()));
            (await http.SendAsync(request)).EnsureSuccessStatusCode();
        }
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("stopped cleanly", stdout.ToString(), StringComparison.Ordinal);

        // Restart on the same data dir: the three blocks are still there.
        using var again = new StringWriter();
        var rerun = SatflowCli.RunAsync(["devnet", "start", "--datadir", dir, "--rpcbind", $"127.0.0.1:{port}", "--rpcuser", "a", "--rpcpassword", "b", "--json"], again, stderr);
        await WaitUntilAsync(async () => (await Run("devnet", "info", "--rpc", url)).Code == 0);
        var info = Json((await Run("devnet", "info", "--rpc", url, "--json")).Out);
        Assert.Equal(3, info.GetProperty("height").GetInt32());
        Assert.Equal(0, (await Run("devnet", "mine", "1", "--rpc", url)).Code);
        using var client = new Satflow.Bitcoin.Rpc.BitcoinCoreRpcClient(new Uri(url), NBitcoin.Network.RegTest);
        await client.StopAsync();
        Assert.Equal(0, await rerun.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(3, Json(again.ToString()).GetProperty("height").GetInt32());
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail("the devnet did not come up within 60 seconds");
    }
}
