using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Rpc;
using Satflow.Bitcoin.Wallet;
using Satflow.Devnet;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node;
using Satflow.Node.Api;
using Satflow.Node.Funding;
using Satflow.Node.Transport;
using Satflow.Storage.Sqlite;

namespace Satflow.Cli.Commands;

/// <summary>
/// The production composition of <c>satflow node start</c>: chain backend (bitcoind RPC or an embedded devnet), node
/// seed, SQLite store, on-chain wallet, peer transport, <see cref="LightningNode"/>, and the host loop that feeds blocks
/// to the wallet and the node. Everything lives in the data directory:
/// <c>node_seed</c> (0600), <c>node.sqlite3</c>, <c>wallet/</c>, <c>devnet/</c> (embedded backend only).
/// </summary>
internal sealed class LightningNodeHost : IHostedNode
{
    /// <summary>How often the host polls the chain backend for new blocks.</summary>
    internal static TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    private const string SeedFile = "node_seed";
    private const string PassphraseVariable = "SATFLOW_WALLET_PASSPHRASE";
    private const string PassphraseFile = "wallet_passphrase";

    private readonly List<IAsyncDisposable> _resources;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private LightningNodeHost(LightningNode node, INodeOperations operations, string listen, List<IAsyncDisposable> resources, Func<CancellationToken, Task> poll)
    {
        Node = node;
        Operations = operations;
        ListenAddress = listen;
        _resources = resources;
        _loop = RunLoopAsync(poll, _stop.Token);
    }

    public LightningNode Node { get; }

    public INodeOperations Operations { get; }

    public NodeId NodeId => Node.NodeId;

    public string ListenAddress { get; }

    public Task Completion => _loop;

    public static async Task<IHostedNode> LaunchAsync(NodeStartSettings settings, TextWriter progress, CancellationToken ct)
    {
        var resources = new List<IAsyncDisposable>();
        try
        {
            Directory.CreateDirectory(settings.DataDirectory);
            var client = await ConnectChainAsync(settings, progress, resources, ct).ConfigureAwait(false);
            var seed = LoadOrCreateSeed(settings.DataDirectory, progress);
            var store = await SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = settings.DataDirectory, FileName = "node.sqlite3" }, ct).ConfigureAwait(false);
            resources.Add(store);
            var wallet = OpenOrCreateWallet(settings, client, progress);
            resources.Add(new DisposableAdapter(wallet));
            await progress.WriteLineAsync("syncing the on-chain wallet...").ConfigureAwait(false);
            await wallet.SyncAsync(client, ct).ConfigureAwait(false);

            var network = Bolt11NetworkOf(settings.NetworkName);
            var transport = new PeerManagerTransport(LightningNode.DeriveNodeSecret(seed),
                new PeerManagerOptions { ListenEndPoint = settings.Listen, Chain = network.ChainHash() }, TimeProvider.System);
            resources.Add(transport);
            var node = await LightningNode.StartAsync(new NodeDependencies
            {
                Seed = seed,
                Store = store,
                Transport = transport,
                FundingWallet = new OnChainFundingWallet(wallet, client),
                ClaimFeeWallet = new WalletClaimFeeWallet(wallet),
                Broadcaster = client,
                FeeEstimator = client,
                ChainSource = client,
                Time = TimeProvider.System,
            }, new NodeOptions { Network = network }, ct).ConfigureAwait(false);
            resources.Remove(transport); // the node disposes its transport
            resources.Add(node);
            // A new node starts at the current tip (it has no older channels to watch); a restarted one resumes after its last block.
            var start = node.BestBlock is null ? (await client.GetTipAsync(ct).ConfigureAwait(false)).Height : (int?)null;
            var sync = new ChainSync(client, [node], new InMemoryChainSyncCheckpointStore(node.BestBlock), new ChainSyncOptions { StartHeight = start });
            await sync.PollAsync(ct).ConfigureAwait(false);
            var listen = transport.ListenEndPoint?.ToString() ?? settings.Listen.ToString();
            await progress.WriteLineAsync($"node at block {node.BlockHeight}; wallet synced to {wallet.Tip?.Height.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
            return new LightningNodeHost(node, new NodeOperations(node, wallet, TimeProvider.System), listen, resources, async token =>
            {
                await wallet.SyncAsync(client, token).ConfigureAwait(false);
                await sync.PollAsync(token).ConfigureAwait(false);
            });
        }
        catch
        {
            await DisposeAllAsync(resources).ConfigureAwait(false);
            throw;
        }
    }

    private static Bolt11Network Bolt11NetworkOf(string name) => name switch
    {
        "mainnet" => Bolt11Network.Bitcoin,
        "testnet" => Bolt11Network.Testnet,
        "signet" => Bolt11Network.Signet,
        _ => Bolt11Network.Regtest,
    };

    private static async Task<BitcoinCoreRpcClient> ConnectChainAsync(NodeStartSettings settings, TextWriter progress, List<IAsyncDisposable> resources, CancellationToken ct)
    {
        BitcoinCoreRpcClient client;
        string where;
        if (settings.BitcoindRpc is { } url)
        {
            client = new BitcoinCoreRpcClient(url, settings.Network);
            where = $"{url.Host}:{url.Port}";
        }
        else
        {
            var devnetDir = Path.Combine(settings.DataDirectory, "devnet");
            var devnet = new DevnetHost(new DevnetHostOptions { DataDirectory = devnetDir, RpcBind = new IPEndPoint(IPAddress.Loopback, 0) });
            resources.Add(devnet);
            await devnet.StartAsync(ct).ConfigureAwait(false);
            var cookie = Path.Combine(devnetDir, ".cookie");
            client = new BitcoinCoreRpcClient(devnet.Rpc.Uri, settings.Network, new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromCookieFile(cookie) });
            where = devnet.Rpc.Uri.ToString();
            await progress.WriteLineAsync($"embedded devnet RPC at {where} (mine with: satflow devnet mine N --rpc {where} --devnet-datadir {devnetDir})").ConfigureAwait(false);
        }
        resources.Add(new DisposableAdapter(client));
        BlockchainInfo info;
        try
        {
            info = await client.GetBlockchainInfoAsync(ct).ConfigureAwait(false);
        }
        catch (ChainSourceException ex)
        {
            throw new CliException($"cannot use the chain backend at {where}: {ex.Message}");
        }
        var expected = settings.NetworkName switch { "mainnet" => "main", "testnet" => "test", var n => n };
        if (!string.Equals(info.Chain, expected, StringComparison.Ordinal))
        {
            throw new CliException($"the chain backend at {where} runs '{info.Chain}', not {settings.NetworkName}");
        }
        return client;
    }

    private static byte[] LoadOrCreateSeed(string directory, TextWriter progress)
    {
        var path = Path.Combine(directory, SeedFile);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            try
            {
                var bytes = Convert.FromHexString(text);
                if (bytes.Length is >= 32 and <= 64)
                {
                    return bytes;
                }
            }
            catch (FormatException)
            {
                // Reported below.
            }
            throw new CliException($"{path} is not a node seed (64 to 128 hex characters)");
        }
        var seed = RandomNumberGenerator.GetBytes(32);
        WritePrivate(path, Convert.ToHexStringLower(seed));
        progress.WriteLine($"created a new node seed in {path} (back it up with the channel backups)");
        return seed;
    }

    private static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.WriteLine(content);
    }

    private static OnChainWallet OpenOrCreateWallet(NodeStartSettings settings, BitcoinCoreRpcClient client, TextWriter progress)
    {
        var walletDir = Path.Combine(settings.DataDirectory, "wallet");
        var passphrase = Environment.GetEnvironmentVariable(PassphraseVariable);
        var passphrasePath = Path.Combine(settings.DataDirectory, PassphraseFile);
        var options = new WalletOptions(settings.Network, walletDir);
        try
        {
            if (Directory.Exists(walletDir) && Directory.EnumerateFileSystemEntries(walletDir).Any())
            {
                passphrase ??= File.Exists(passphrasePath)
                    ? File.ReadAllText(passphrasePath).Trim()
                    : throw new CliException($"the node wallet in {walletDir} is encrypted: set {PassphraseVariable}");
                return OnChainWallet.Open(options, passphrase, client);
            }
            if (passphrase is null)
            {
                // Unattended start: the wallet key is kept next to the wallet, like an unencrypted bitcoind wallet.
                passphrase = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
                WritePrivate(passphrasePath, passphrase);
            }
            var creation = OnChainWallet.Create(options, passphrase, client, wordCount: 24);
            progress.WriteLine("created the node's on-chain wallet; its mnemonic (write it down, shown only now):");
            progress.WriteLine("  " + creation.Mnemonic);
            return creation.Wallet;
        }
        catch (WalletException ex)
        {
            throw new CliException($"the node wallet in {walletDir}: {ex.Message}");
        }
    }

    private static async Task RunLoopAsync(Func<CancellationToken, Task> poll, CancellationToken ct)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(PollInterval);
        while (await WaitAsync(timer, ct).ConfigureAwait(false))
        {
            try
            {
                await poll(ct).ConfigureAwait(false);
            }
            catch (ChainSourceException)
            {
                // The backend is down or busy: try again on the next tick.
            }
            catch (HttpRequestException)
            {
                // Same: a transient connection failure.
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        await DisposeAllAsync(_resources).ConfigureAwait(false);
        _stop.Dispose();
    }

    private static async Task DisposeAllAsync(List<IAsyncDisposable> resources)
    {
        // Reverse order of acquisition: the node first, the chain backend last.
        for (var i = resources.Count - 1; i >= 0; i--)
        {
            await resources[i].DisposeAsync().ConfigureAwait(false);
        }
        resources.Clear();
    }

    private sealed class DisposableAdapter(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
