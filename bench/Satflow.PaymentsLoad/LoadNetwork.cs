using System.Net;
using Microsoft.Extensions.Logging;
using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Devnet;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node;
using Satflow.Node.Funding;
using Satflow.Node.Transport;
using Satflow.Storage;
using Satflow.Storage.Sqlite;

namespace Satflow.PaymentsLoad;

/// <summary>Which store the nodes persist to.</summary>
public enum StoreKind
{
    /// <summary>SQLite in WAL mode with <c>synchronous=FULL</c>: every batch fsyncs.</summary>
    Sqlite,

    /// <summary>The in-memory store (no durability): isolates the cost of persistence.</summary>
    Memory,
}

/// <summary>One payer or payee: its node, store, wallet and meters.</summary>
public sealed class LoadNode(string name, LightningNode node, OnChainWallet wallet, IKeyValueStore store, NodeProbe probe, string? storePath)
{
    public string Name { get; } = name;

    public LightningNode Node { get; } = node;

    public OnChainWallet Wallet { get; } = wallet;

    public IKeyValueStore Store { get; } = store;

    public NodeProbe Probe { get; } = probe;

    public string? StorePath { get; } = storePath;
}

/// <summary>
/// Two <see cref="LightningNode"/>s on one in-process devnet chain, talking BOLT 8 over loopback TCP
/// (<see cref="PeerManagerTransport"/> on 127.0.0.1, port 0), each persisting to its own store, with one channel
/// from the payer to the payee.
/// </summary>
public sealed class LoadNetwork : IAsyncDisposable
{
    private static readonly Script BurnScript = new Key(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()).PubKey.WitHash.ScriptPubKey;
    private readonly string? _directory;

    private LoadNetwork(DevnetChain chain, LoadNode payer, LoadNode payee, string? directory)
    {
        Chain = chain;
        Payer = payer;
        Payee = payee;
        _directory = directory;
    }

    public DevnetChain Chain { get; }

    public LoadNode Payer { get; }

    public LoadNode Payee { get; }

    public ChannelId ChannelId { get; private set; }

    /// <summary>Starts the chain and both nodes, connects them over TCP and funds the payer's wallet.</summary>
    public static async Task<LoadNetwork> CreateAsync(StoreKind storeKind, bool autoFlush, ILoggerFactory loggers, Action<string> progress, CancellationToken cancellationToken)
    {
        var chain = DevnetChain.Open(new DevnetOptions { ScriptVerificationThreads = 1 });
        string? directory = null;
        if (storeKind == StoreKind.Sqlite)
        {
            directory = Path.Combine(Path.GetTempPath(), "satflow-paymentsload-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(directory);
        }
        var payer = await StartNodeAsync("payer", 1, chain, storeKind, directory, autoFlush, loggers, cancellationToken).ConfigureAwait(false);
        var payee = await StartNodeAsync("payee", 2, chain, storeKind, directory, autoFlush, loggers, cancellationToken).ConfigureAwait(false);
        var network = new LoadNetwork(chain, payer, payee, directory);
        progress($"payer {payer.Node.NodeId} and payee {payee.Node.NodeId}, stores: {(directory is null ? "in memory" : directory)}");

        await payer.Node.ConnectAsync(payee.Node.NodeId, payee.Node.ListenEndPoint, cancellationToken).ConfigureAwait(false);
        progress($"connected over TCP to {payee.Node.ListenEndPoint}");

        await network.MineAsync(1, payer.Wallet.GetNewAddress(AddressType.P2wpkh).ScriptPubKey, cancellationToken).ConfigureAwait(false);
        await network.MineAsync(OnChainWallet.CoinbaseMaturity, BurnScript, cancellationToken).ConfigureAwait(false);
        progress($"payer wallet funded at height {chain.Height}: {payer.Wallet.GetBalance().Confirmed} BTC confirmed");
        return network;
    }

    private static async Task<LoadNode> StartNodeAsync(string name, byte index, DevnetChain chain, StoreKind storeKind, string? directory, bool autoFlush, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var probe = new NodeProbe(name);
        var seed = new byte[32];
        seed[0] = 0x5b;
        seed[31] = index;
        IKeyValueStore store;
        string? storePath = null;
        if (storeKind == StoreKind.Sqlite)
        {
            var sqlite = await SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = directory!, FileName = name + ".sqlite3" }, cancellationToken).ConfigureAwait(false);
            storePath = sqlite.DatabasePath;
            store = sqlite;
        }
        else
        {
            store = new InMemoryKeyValueStore();
        }
        var entropy = new byte[16];
        entropy[0] = 0x78;
        entropy[15] = index;
        var mnemonic = new Mnemonic(Wordlist.English, entropy).ToString();
        var wallet = OnChainWallet.Restore(new WalletOptions(Network.RegTest, null) { KdfIterations = 1 }, mnemonic, "paymentsload", chain);
        var transportOptions = new PeerManagerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            // Up to 100 payments in flight: the default 64-message send queue would throttle the writer.
            SendQueueCapacity = 1024,
        };
        var transport = new TimedTransport(new PeerManagerTransport(LightningNode.DeriveNodeSecret(seed), transportOptions, TimeProvider.System, loggers), probe);
        var dependencies = new NodeDependencies
        {
            Seed = seed,
            Store = new TimedKeyValueStore(store, probe),
            Transport = transport,
            FundingWallet = new OnChainFundingWallet(wallet, chain),
            Broadcaster = chain,
            FeeEstimator = chain,
            Time = TimeProvider.System,
            Loggers = loggers,
        };
        var node = await LightningNode.StartAsync(dependencies, new NodeOptions { Alias = name, MinimumDepth = 3, AutoFlush = autoFlush }, cancellationToken).ConfigureAwait(false);
        return new LoadNode(name, node, wallet, store, probe, storePath);
    }

    /// <summary>Mines blocks and feeds each to both wallets and both nodes.</summary>
    public async Task MineAsync(int count, Script payTo, CancellationToken cancellationToken)
    {
        var hashes = await Chain.MineBlocksAsync(count, payTo, cancellationToken).ConfigureAwait(false);
        foreach (var hash in hashes)
        {
            var info = Chain.GetBlockInfo(hash) ?? throw new InvalidOperationException("A mined block vanished.");
            foreach (var side in new[] { Payer, Payee })
            {
                await side.Wallet.BlockConnectedAsync(info.Block, info.Height, cancellationToken).ConfigureAwait(false);
                await side.Node.BlockConnectedAsync(info.Block, info.Height, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// With AutoFlush off, the host signs: every <paramref name="interval"/> both nodes flush (one
    /// <c>commitment_signed</c> covers the updates queued since the last flush), until <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task FlushLoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await Payer.Node.FlushAsync(cancellationToken).ConfigureAwait(false);
                await Payee.Node.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Opens the payer's channel to the payee, confirms it and waits until both sides are in the normal state.</summary>
    public async Task OpenChannelAsync(Money capacity, Action<string> progress, CancellationToken cancellationToken)
    {
        var temporary = await Payer.Node.OpenChannelAsync(Payee.Node.NodeId, capacity, cancellationToken: cancellationToken).ConfigureAwait(false);
        ChannelId = await Payer.Node.WaitForChannelAsync(temporary, cancellationToken).ConfigureAwait(false);
        progress($"channel {ChannelId} funded ({capacity} BTC); mining {Payer.Node.Options.MinimumDepth} blocks");
        await MineAsync((int)Payer.Node.Options.MinimumDepth, BurnScript, cancellationToken).ConfigureAwait(false);
        await WaitUntilAsync(
            () => Payer.Node.GetChannel(ChannelId) is { State: ChannelState.Normal, IsOffline: false }
                && Payee.Node.GetChannel(ChannelId) is { State: ChannelState.Normal, IsOffline: false },
            TimeSpan.FromSeconds(60),
            "the channel to reach the normal state on both sides",
            cancellationToken).ConfigureAwait(false);
        progress($"channel ready as {Payer.Node.GetChannel(ChannelId)!.ShortChannelId}");
    }

    /// <summary>Waits until no HTLC is pending on either side and both see the same balances (the channel is quiet).</summary>
    public Task WaitQuietAsync(CancellationToken cancellationToken) => WaitUntilAsync(
        () => Payer.Node.GetChannel(ChannelId) is { PendingHtlcs: 0 } a && Payee.Node.GetChannel(ChannelId) is { PendingHtlcs: 0 } b
            && a.LocalBalance == b.RemoteBalance && a.RemoteBalance == b.LocalBalance && !Payer.Node.HasChangesToSign && !Payee.Node.HasChangesToSign,
        TimeSpan.FromSeconds(120),
        "the channel to settle every HTLC",
        cancellationToken);

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var side in new[] { Payer, Payee })
        {
            await side.Node.DisposeAsync().ConfigureAwait(false);
            side.Wallet.Dispose();
            // The node does not own its store: dispose it (releasing the SQLite file) before deleting the directory.
            await side.Store.DisposeAsync().ConfigureAwait(false);
        }
        Chain.Dispose();
        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp directory left behind is harmless.
            }
        }
    }
}
