using Microsoft.Extensions.Time.Testing;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;
using Satflow.Node;
using Satflow.Node.Funding;
using Satflow.Node.Persistence;
using Satflow.Node.Transport;
using Satflow.Lightning.Net;
using System.Net;
using Satflow.Payments;
using Satflow.Storage;

namespace Satflow.Lightning.Harness;

/// <summary>Settings of a harness.</summary>
public sealed record HarnessOptions
{
    /// <summary>The node options every node gets (AutoFlush off: the harness flushes when the network is quiet, so updates batch).</summary>
    public NodeOptions Node { get; init; } = new() { AutoFlush = false, MinimumDepth = 3 };

    /// <summary>Adjusts <see cref="Node"/> for one node (by index), e.g. a policy only one node has; null: all alike.</summary>
    public Func<int, NodeOptions, NodeOptions>? NodeFor { get; init; }

    /// <summary>The fixed feerate of the chain's estimator.</summary>
    public FeeRatePerKw FeeRate { get; init; } = new(1000);

    /// <summary>
    /// Connect nodes over real TCP on 127.0.0.1 (<see cref="Satflow.Node.Transport.PeerManagerTransport"/>: BOLT 8, init,
    /// pings on the system clock) instead of the in-memory network. Messages then flow on their own: use
    /// <see cref="LightningHarness.WaitUntilAsync"/> and set <see cref="NodeOptions.AutoFlush"/>.
    /// </summary>
    public bool UseTcp { get; init; }

    /// <summary>When set, node i rewrites its static channel backup to <c>node{i}.scb</c> in this directory.</summary>
    public string? BackupDirectory { get; init; }

    /// <summary>Coinbase outputs mined to each node's on-chain wallet at start.</summary>
    public int WalletCoins { get; init; } = 2;

    /// <summary>Coinbase outputs mined to each node's fee wallet at start.</summary>
    public int FeeCoins { get; init; } = 3;

    /// <summary>
    /// Pay claim fees from each node's on-chain wallet through <see cref="WalletClaimFeeWallet"/> (as <c>satflow node
    /// start</c> does) instead of its <see cref="HarnessFeeWallet"/>.
    /// </summary>
    public bool WalletBackedFeeWallet { get; init; }
}

/// <summary>
/// A deterministic in-process Lightning network (in the spirit of LDK's functional test utilities): n nodes with
/// their own in-memory store, on-chain wallet and fee wallet, one shared devnet chain, a fake clock and in-memory
/// message delivery that the test drives (<see cref="SettleAsync"/>). Nodes can crash and restart from their store.
/// </summary>
public sealed class LightningHarness : IAsyncDisposable
{
    private readonly List<HarnessNode> _nodes = [];

    private LightningHarness(HarnessOptions options)
    {
        Options = options;
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));
        Chain = new HarnessChain(Time, options.FeeRate);
        Network = new InMemoryPeerNetwork(Time);
    }

    /// <summary>The settings.</summary>
    public HarnessOptions Options { get; }

    /// <summary>The fake clock (shared by the chain and every node).</summary>
    public FakeTimeProvider Time { get; }

    /// <summary>The shared chain.</summary>
    public HarnessChain Chain { get; }

    /// <summary>The in-memory peer network.</summary>
    public InMemoryPeerNetwork Network { get; }

    /// <summary>The nodes.</summary>
    public IReadOnlyList<HarnessNode> Nodes => _nodes;

    /// <summary>Node <paramref name="index"/>.</summary>
    public HarnessNode this[int index] => _nodes[index];

    /// <summary>Creates <paramref name="count"/> nodes, funds their wallets with mature coinbase coins and starts them.</summary>
    public static async Task<LightningHarness> CreateAsync(int count, HarnessOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var harness = new LightningHarness(options ?? new HarnessOptions());
        for (var i = 0; i < count; i++)
        {
            harness._nodes.Add(harness.CreateNode(i));
        }
        foreach (var node in harness._nodes)
        {
            await node.StartAsync().ConfigureAwait(false);
        }
        foreach (var node in harness._nodes)
        {
            for (var c = 0; c < harness.Options.WalletCoins; c++)
            {
                await harness.MineBlocksAsync(1, node.Wallet.GetNewAddress(AddressType.P2wpkh).ScriptPubKey).ConfigureAwait(false);
            }
            for (var c = 0; c < harness.Options.FeeCoins; c++)
            {
                await harness.MineBlocksAsync(1, node.FeeWallet.Script).ConfigureAwait(false);
            }
        }
        await harness.MineBlocksAsync(OnChainWallet.CoinbaseMaturity).ConfigureAwait(false);
        return harness;
    }

    private HarnessNode CreateNode(int index)
    {
        var seed = new byte[32];
        seed[0] = 0x5a;
        seed[31] = (byte)(index + 1);
        var entropy = new byte[16];
        entropy[0] = 0x77;
        entropy[15] = (byte)(index + 1);
        var mnemonic = new Mnemonic(Wordlist.English, entropy).ToString();
        var wallet = OnChainWallet.Restore(new WalletOptions(NBitcoin.Network.RegTest, null) { KdfIterations = 1, Random = new Random(index) }, mnemonic, "harness", Chain);
        return new HarnessNode(this, index, seed, new InMemoryKeyValueStore(), wallet, new HarnessFeeWallet(Chain, index));
    }

    /// <summary>Connects two nodes (both get <c>OnPeerConnected</c>; their channels reestablish) and settles.</summary>
    public async Task ConnectAsync(HarnessNode a, HarnessNode b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        await a.Node.ConnectAsync(b.NodeId, b.Node.ListenEndPoint).ConfigureAwait(false);
        if (Options.UseTcp)
        {
            await WaitUntilAsync(() => b.Node.ListPeers().Any(p => p.NodeId == a.NodeId), $"{b} sees {a} connected").ConfigureAwait(false);
        }
        await SettleAsync().ConfigureAwait(false);
    }

    /// <summary>Cuts the link between two nodes (queued messages are lost) and settles.</summary>
    public async Task DisconnectAsync(HarnessNode a, HarnessNode b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        await Network.DisconnectAsync(a.NodeId, b.NodeId).ConfigureAwait(false);
        await SettleAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a channel from <paramref name="funder"/> to <paramref name="fundee"/>, confirms the funding transaction to the
    /// minimum depth and settles until both sides are in the normal state.
    /// </summary>
    public async Task<ChannelId> OpenChannelAsync(HarnessNode funder, HarnessNode fundee, Money capacity, MilliSatoshi pushAmount = default)
    {
        ArgumentNullException.ThrowIfNull(funder);
        ArgumentNullException.ThrowIfNull(fundee);
        if (!Network.AreConnected(funder.NodeId, fundee.NodeId))
        {
            await ConnectAsync(funder, fundee).ConfigureAwait(false);
        }
        var temporary = await funder.Node.OpenChannelAsync(fundee.NodeId, capacity, pushAmount).ConfigureAwait(false);
        await SettleAsync().ConfigureAwait(false);
        var channelId = await funder.Node.WaitForChannelAsync(temporary).ConfigureAwait(false);
        await MineBlocksAsync((int)Options.Node.MinimumDepth).ConfigureAwait(false);
        if (Options.UseTcp)
        {
            await WaitUntilAsync(() => funder.Node.GetChannel(channelId)?.State == ChannelState.Normal && fundee.Node.GetChannel(channelId)?.State == ChannelState.Normal, "the channel is normal on both sides").ConfigureAwait(false);
        }
        var state = funder.Node.GetChannel(channelId)?.State;
        if (state != ChannelState.Normal || fundee.Node.GetChannel(channelId)?.State != ChannelState.Normal)
        {
            throw new InvalidOperationException($"Channel {channelId} is {state} / {fundee.Node.GetChannel(channelId)?.State} after {Options.Node.MinimumDepth} confirmations.");
        }
        return channelId;
    }

    /// <summary>Creates an invoice on <paramref name="payee"/>, pays it from <paramref name="payer"/> and settles; returns the payer's final record.</summary>
    public async Task<OutgoingPaymentRecord> PayAsync(HarnessNode payer, HarnessNode payee, MilliSatoshi amount)
    {
        ArgumentNullException.ThrowIfNull(payer);
        ArgumentNullException.ThrowIfNull(payee);
        var invoice = await payee.Node.CreateInvoiceAsync(amount, "harness payment").ConfigureAwait(false);
        var record = await payer.Node.PayInvoiceAsync(invoice.Bolt11).ConfigureAwait(false);
        await SettleAsync().ConfigureAwait(false);
        if (Options.UseTcp)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            return await payer.Node.WaitForPaymentAsync(record.PaymentHash, timeout.Token).ConfigureAwait(false);
        }
        return await payer.Node.LookupPaymentAsync(record.PaymentHash).ConfigureAwait(false) ?? record;
    }

    /// <summary>
    /// Delivers every queued message and flushes every node (signing pending updates) until nothing moves: the
    /// deterministic equivalent of "wait for the network to settle".
    /// </summary>
    /// <returns>How many messages were delivered.</returns>
    public async Task<int> SettleAsync(int maxRounds = 10_000)
    {
        var total = 0;
        for (var round = 0; round < maxRounds; round++)
        {
            var delivered = await Network.DeliverAllAsync().ConfigureAwait(false);
            total += delivered;
            var signed = 0;
            foreach (var node in _nodes.Where(n => n.IsRunning))
            {
                signed += await node.Node.FlushAsync().ConfigureAwait(false);
            }
            if (delivered == 0 && signed == 0 && Network.PendingCount == 0)
            {
                return total;
            }
        }
        throw new InvalidOperationException($"The network did not settle in {maxRounds} rounds.");
    }

    /// <summary>Polls (on the real clock) until <paramref name="condition"/> holds; for TCP mode, where messages flow on their own.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Mines blocks (coinbase to <paramref name="payTo"/> or a burn script), feeds them to every wallet and running node, and settles.</summary>
    public async Task MineBlocksAsync(int count, Script? payTo = null)
    {
        for (var i = 0; i < count; i++)
        {
            var (block, height) = (await Chain.MineAsync(1, payTo).ConfigureAwait(false))[0];
            Time.Advance(TimeSpan.FromMinutes(10));
            foreach (var node in _nodes)
            {
                await node.Wallet.BlockConnectedAsync(block, height).ConfigureAwait(false);
                node.FeeWallet.BlockConnected(block);
                if (node.IsRunning)
                {
                    await node.Node.BlockConnectedAsync(block, height).ConfigureAwait(false);
                }
            }
            await SettleAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Mines until the mempool is empty (at most <paramref name="maxBlocks"/>), e.g. to confirm every claim.</summary>
    public async Task MineUntilMempoolEmptyAsync(int maxBlocks = 20)
    {
        for (var i = 0; i < maxBlocks && Chain.Devnet.MempoolCount > 0; i++)
        {
            await MineBlocksAsync(1).ConfigureAwait(false);
        }
    }

    /// <summary>Crashes a node: its links drop (queued messages are lost) and its in-memory state is gone; the store survives.</summary>
    public async Task CrashAsync(HarnessNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        // The node dies first (it handles nothing more, not even the disconnection), then its peers notice.
        await node.StopAsync().ConfigureAwait(false);
        await Network.IsolateAsync(node.NodeId).ConfigureAwait(false);
        await SettleAsync().ConfigureAwait(false);
    }

    /// <summary>Copies a node's store (every namespace the node and its payment records use), e.g. to replay a stale state later.</summary>
    public static async Task<InMemoryKeyValueStore> SnapshotStoreAsync(HarnessNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var copy = new InMemoryKeyValueStore();
        var namespaces = new[]
        {
            (NodeStore.PrimaryNamespace, NodeStore.ChannelsNamespace), (NodeStore.PrimaryNamespace, NodeStore.MonitorsNamespace),
            (NodeStore.PrimaryNamespace, NodeStore.HtlcsNamespace), (NodeStore.PrimaryNamespace, NodeStore.ReceivedNamespace),
            (NodeStore.PrimaryNamespace, NodeStore.MetaNamespace), (InvoiceService.PrimaryNamespace, InvoiceService.SecondaryNamespace),
            (PaymentTracker.PrimaryNamespace, PaymentTracker.SecondaryNamespace),
            (NodeStore.PrimaryNamespace, ForwardRecord.Namespace), (NodeStore.PrimaryNamespace, PolicyRecord.Namespace),
            (LightningNode.OffersNamespace, LightningNode.OfferRecordsNamespace), (LightningNode.OffersNamespace, LightningNode.OfferInvoicesNamespace),
        };
        foreach (var (primary, secondary) in namespaces)
        {
            foreach (var key in await node.Store.ListAsync(primary, secondary).ConfigureAwait(false))
            {
                if (await node.Store.ReadAsync(primary, secondary, key).ConfigureAwait(false) is { } value)
                {
                    await copy.WriteAsync(primary, secondary, key, value.ToArray()).ConfigureAwait(false);
                }
            }
        }
        return copy;
    }

    /// <summary>Restarts a crashed node from another store (a stale copy: the node then runs on old state).</summary>
    public Task RestartAsync(HarnessNode node, InMemoryKeyValueStore store)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(store);
        if (node.IsRunning)
        {
            throw new InvalidOperationException($"{node} runs: crash it first.");
        }
        node.Store = store;
        return RestartAsync(node);
    }

    /// <summary>Restarts a crashed node from its store and catches it up with the chain (it reconnects nothing by itself).</summary>
    public async Task RestartAsync(HarnessNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        await node.StartAsync().ConfigureAwait(false);
        var from = (node.Node.BestBlock?.Height ?? -1) + 1;
        for (var height = from; height <= Chain.Height; height++)
        {
            var info = Chain.Devnet.GetBlockInfo(Chain.Devnet.GetBlockHash(height)!)!;
            await node.Node.BlockConnectedAsync(info.Block, height).ConfigureAwait(false);
        }
        await SettleAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.StopAsync().ConfigureAwait(false);
            node.Wallet.Dispose();
        }
        Chain.Dispose();
    }

    internal NodeDependencies DependenciesFor(HarnessNode node) => new()
    {
        Seed = node.Seed,
        Store = node.Store,
        Transport = Options.UseTcp
            ? new PeerManagerTransport(LightningNode.DeriveNodeSecret(node.Seed), new PeerManagerOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, TimeProvider.System)
            : Network.CreateTransport(node.NodeId),
        FundingWallet = new OnChainFundingWallet(node.Wallet, Chain),
        ClaimFeeWallet = Options.WalletBackedFeeWallet ? new WalletClaimFeeWallet(node.Wallet) : node.FeeWallet,
        Broadcaster = Chain,
        FeeEstimator = Chain,
        ChainSource = Chain.Devnet,
        Time = Time,
        Random = node.NextRandom,
    };
}

/// <summary>One node of a <see cref="LightningHarness"/>.</summary>
public sealed class HarnessNode
{
    private readonly LightningHarness _harness;
    private readonly Random _random;
    private LightningNode? _node;

    internal HarnessNode(LightningHarness harness, int index, byte[] seed, InMemoryKeyValueStore store, OnChainWallet wallet, HarnessFeeWallet feeWallet)
    {
        _harness = harness;
        Index = index;
        Seed = seed;
        Store = store;
        Wallet = wallet;
        FeeWallet = feeWallet;
        NodeId = new NodeId(LightningNode.DeriveNodeKey(seed).PubKey);
        _random = new Random(1000 + index);
    }

    /// <summary>The index in the harness.</summary>
    public int Index { get; }

    /// <summary>The node seed.</summary>
    public byte[] Seed { get; }

    /// <summary>The node's store (survives crashes).</summary>
    public InMemoryKeyValueStore Store { get; internal set; }

    /// <summary>The on-chain wallet (funding and sweeps).</summary>
    public OnChainWallet Wallet { get; }

    /// <summary>The fee coins for claims.</summary>
    public HarnessFeeWallet FeeWallet { get; }

    /// <summary>The node id.</summary>
    public NodeId NodeId { get; }

    /// <summary>Whether the node runs.</summary>
    public bool IsRunning => _node is not null;

    /// <summary>The running node.</summary>
    public LightningNode Node => _node ?? throw new InvalidOperationException($"Node {Index} is not running.");

    /// <summary>The wallet's total balance (confirmed, unconfirmed and immature).</summary>
    public Money WalletBalance => Wallet.GetBalance().Total;

    /// <summary>Where this node writes its static channel backup in <paramref name="directory"/>.</summary>
    public string BackupPath(string directory) => Path.Combine(directory, $"node{Index}.scb");

    internal void NextRandom(Span<byte> buffer) => _random.NextBytes(buffer);

    internal async Task StartAsync()
    {
        if (_node is not null)
        {
            throw new InvalidOperationException($"Node {Index} already runs.");
        }
        var options = _harness.Options.BackupDirectory is { } directory
            ? _harness.Options.Node with { StaticChannelBackupPath = BackupPath(directory) }
            : _harness.Options.Node;
        if (_harness.Options.NodeFor is { } adjust)
        {
            options = adjust(Index, options);
        }
        _node = await LightningNode.StartAsync(_harness.DependenciesFor(this), options).ConfigureAwait(false);
    }

    internal async Task StopAsync()
    {
        if (_node is { } node)
        {
            _node = null;
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"node{Index}";
}
