using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Rpc;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Satflow.Node.Funding;
using Satflow.Node.Transport;
using Satflow.Storage.Sqlite;

namespace Satflow.Node.Hosting;

/// <summary>What a hosted node needs besides its chain backend.</summary>
/// <param name="DataDirectory">Absolute path of the node's data directory (created if missing).</param>
/// <param name="NetworkName">regtest, signet, testnet or mainnet.</param>
/// <param name="Network">The NBitcoin network.</param>
/// <param name="Listen">Where the node accepts Lightning peers (port 0: a free port).</param>
public sealed record NodeHostSettings(string DataDirectory, string NetworkName, Network Network, IPEndPoint Listen)
{
    /// <summary>How often the host loop syncs the wallet and the node with the chain backend.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The node's alias (default: the node library's default).</summary>
    public string? Alias { get; init; }
}

/// <summary>
/// A Lightning node hosted in this process: node seed, SQLite store, on-chain wallet, peer transport,
/// <see cref="LightningNode"/>, and the host loop that feeds blocks to the wallet and the node. Everything lives in
/// the data directory: <c>node_seed</c> (0600), <c>node.sqlite3</c>, <c>wallet/</c> (and <c>wallet_passphrase</c>,
/// 0600, for an unattended start). The chain backend is the caller's and outlives the host.
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    private const string SeedFile = "node_seed";

    /// <summary>The environment variable with the wallet passphrase (when set, no passphrase file is written).</summary>
    public const string PassphraseVariable = "SATFLOW_WALLET_PASSPHRASE";

    private const string PassphraseFile = "wallet_passphrase";

    private readonly List<IAsyncDisposable> _resources;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Func<CancellationToken, Task> _poll;

    private NodeHost(LightningNode node, OnChainWallet wallet, BitcoinCoreRpcClient chain, INodeOperations operations, string listen, List<IAsyncDisposable> resources, Func<CancellationToken, Task> poll, TimeSpan pollInterval)
    {
        Node = node;
        Wallet = wallet;
        Chain = chain;
        Operations = operations;
        ListenAddress = listen;
        _resources = resources;
        _poll = poll;
        _loop = RunLoopAsync(poll, pollInterval, _stop.Token);
    }

    /// <summary>The node.</summary>
    public LightningNode Node { get; }

    /// <summary>The node's on-chain wallet.</summary>
    public OnChainWallet Wallet { get; }

    /// <summary>The chain backend the wallet and the node follow (also their broadcaster and fee estimator); owned by the caller.</summary>
    public BitcoinCoreRpcClient Chain { get; }

    /// <summary>The node's operations (what the admin API and satflowd's dashboard serve).</summary>
    public INodeOperations Operations { get; }

    /// <summary>The node's identity.</summary>
    public NodeId NodeId => Node.NodeId;

    /// <summary>Where the node actually listens for peers (the port is resolved when 0 was asked).</summary>
    public string ListenAddress { get; }

    /// <summary>Completes (or faults) if the host loop stops.</summary>
    public Task Completion => _loop;

    /// <summary>Runs one round of the host loop now (wallet sync, then blocks to the node).</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    public Task SyncNowAsync(CancellationToken cancellationToken = default) => _poll(cancellationToken);

    /// <summary>The BOLT 11 network of a network name.</summary>
    /// <param name="name">regtest, signet, testnet or mainnet.</param>
    /// <returns>The BOLT 11 network.</returns>
    public static Bolt11Network Bolt11NetworkOf(string name) => name switch
    {
        "mainnet" => Bolt11Network.Bitcoin,
        "testnet" => Bolt11Network.Testnet,
        "signet" => Bolt11Network.Signet,
        _ => Bolt11Network.Regtest,
    };

    /// <summary>Opens (or creates) the node in the settings' data directory over the given chain backend and starts its host loop.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="client">The chain backend (not owned).</param>
    /// <param name="progress">Progress lines (new seed, new wallet mnemonic, sync state).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running host.</returns>
    /// <exception cref="NodeHostException">The seed file is unusable or the wallet is locked.</exception>
    public static async Task<NodeHost> LaunchAsync(NodeHostSettings settings, BitcoinCoreRpcClient client, TextWriter progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(progress);
        var resources = new List<IAsyncDisposable>();
        try
        {
            Directory.CreateDirectory(settings.DataDirectory);
            var seed = LoadOrCreateSeed(settings.DataDirectory, progress);
            var store = await SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = settings.DataDirectory, FileName = "node.sqlite3" }, cancellationToken).ConfigureAwait(false);
            resources.Add(store);
            var wallet = OpenOrCreateWallet(settings, client, progress);
            resources.Add(new DisposableAdapter(wallet));
            await progress.WriteLineAsync("syncing the on-chain wallet...").ConfigureAwait(false);
            await wallet.SyncAsync(client, cancellationToken).ConfigureAwait(false);

            var network = Bolt11NetworkOf(settings.NetworkName);
            var transport = new PeerManagerTransport(LightningNode.DeriveNodeSecret(seed),
                new PeerManagerOptions { ListenEndPoint = settings.Listen, Chain = network.ChainHash() }, TimeProvider.System);
            resources.Add(transport);
            var options = new NodeOptions { Network = network };
            if (settings.Alias is { } alias)
            {
                options = options with { Alias = alias };
            }
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
            }, options, cancellationToken).ConfigureAwait(false);
            resources.Remove(transport); // the node disposes its transport
            resources.Add(node);
            // A new node starts at the current tip (it has no older channels to watch); a restarted one resumes after its last block.
            var start = node.BestBlock is null ? (await client.GetTipAsync(cancellationToken).ConfigureAwait(false)).Height : (int?)null;
            var sync = new ChainSync(client, [node], new InMemoryChainSyncCheckpointStore(node.BestBlock), new ChainSyncOptions { StartHeight = start });
            await sync.PollAsync(cancellationToken).ConfigureAwait(false);
            var listen = transport.ListenEndPoint?.ToString() ?? settings.Listen.ToString();
            await progress.WriteLineAsync($"node at block {node.BlockHeight}; wallet synced to {wallet.Tip?.Height.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
            var gate = new SemaphoreSlim(1, 1);
            return new NodeHost(node, wallet, client, new NodeOperations(node, wallet, TimeProvider.System), listen, resources, async token =>
            {
                await gate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    // The node's own timers first (payment retries and deadlines, MPP timeouts, gossip): they don't
                    // depend on the chain backend, which may be down for this tick.
                    await node.ProcessTimersAsync(token).ConfigureAwait(false);
                    await wallet.SyncAsync(client, token).ConfigureAwait(false);
                    await sync.PollAsync(token).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            }, settings.PollInterval);
        }
        catch
        {
            await DisposeAllAsync(resources).ConfigureAwait(false);
            throw;
        }
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
            throw new NodeHostException($"{path} is not a node seed (64 to 128 hex characters)");
        }
        var seed = RandomNumberGenerator.GetBytes(32);
        WritePrivate(path, Convert.ToHexStringLower(seed));
        progress.WriteLine($"created a new node seed in {path} (back it up with the channel backups)");
        return seed;
    }

    /// <summary>Writes a new file readable only by its owner (0600 on Unix); fails if it exists.</summary>
    /// <param name="path">The file.</param>
    /// <param name="content">Its text (a newline is appended).</param>
    public static void WritePrivate(string path, string content)
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

    private static OnChainWallet OpenOrCreateWallet(NodeHostSettings settings, BitcoinCoreRpcClient client, TextWriter progress)
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
                    : throw new NodeHostException($"the node wallet in {walletDir} is encrypted: set {PassphraseVariable}");
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
            throw new NodeHostException($"the node wallet in {walletDir}: {ex.Message}", ex);
        }
    }

    private static async Task RunLoopAsync(Func<CancellationToken, Task> poll, TimeSpan interval, CancellationToken ct)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(interval);
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

    /// <inheritdoc />
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
        // Reverse order of acquisition: the node first, the store last.
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
