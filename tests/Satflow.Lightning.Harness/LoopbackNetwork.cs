using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node;
using Satflow.Node.Funding;
using Satflow.Node.Transport;
using Satflow.Payments;
using Satflow.Storage;
using Satflow.Storage.Sqlite;

namespace Satflow.Lightning.Harness;

/// <summary>Settings of a <see cref="LoopbackNetwork"/>.</summary>
public sealed record LoopbackNetworkOptions
{
    /// <summary>The node options every node gets (the system clock drives them; AutoFlush on: messages flow on their own).</summary>
    public NodeOptions Node { get; init; } = new() { AutoFlush = true, MinimumDepth = 3 };

    /// <summary>When set, each node persists to its own SQLite file (WAL, synchronous=FULL) here; otherwise in memory.</summary>
    public string? SqliteDirectory { get; init; }

    /// <summary>The per-peer send queue of the TCP transport.</summary>
    public int SendQueueCapacity { get; init; } = 1024;

    /// <summary>The fixed feerate of the chain's estimator.</summary>
    public FeeRatePerKw FeeRate { get; init; } = new(1000);

    /// <summary>How many channel openings run at once.</summary>
    public int OpenParallelism { get; init; } = 8;

    /// <summary>Logs of the nodes and transports (none when null).</summary>
    public ILoggerFactory? Loggers { get; init; }

    /// <summary>Progress lines (setup steps), e.g. to the test output.</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>How often the host drives each node's payment timers (<see cref="LightningNode.ProcessPaymentTimersAsync"/>: retries that are due, deadlines).</summary>
    public TimeSpan TimerInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A distinct byte per network so two networks in one process derive different keys.</summary>
    public byte SeedTag { get; init; } = 0x6c;
}

/// <summary>One real node of a <see cref="LoopbackNetwork"/>.</summary>
public sealed class LoopbackNode
{
    internal LoopbackNode(int index, LightningNode node, OnChainWallet wallet, IKeyValueStore store)
    {
        Index = index;
        Node = node;
        Wallet = wallet;
        Store = store;
    }

    /// <summary>The index in the network.</summary>
    public int Index { get; }

    /// <summary>The running node.</summary>
    public LightningNode Node { get; }

    /// <summary>The node id.</summary>
    public NodeId NodeId => Node.NodeId;

    /// <summary>Its on-chain wallet.</summary>
    public OnChainWallet Wallet { get; }

    /// <summary>Its store.</summary>
    public IKeyValueStore Store { get; }

    /// <inheritdoc />
    public override string ToString() => $"node{Index}";
}

/// <summary>The outcome of one payment in a <see cref="LoopbackNetwork"/>.</summary>
/// <param name="Payer">The payer's index.</param>
/// <param name="Payee">The payee's index.</param>
/// <param name="Amount">The amount.</param>
/// <param name="Succeeded">Whether the payer recorded success.</param>
/// <param name="Reason">Why it failed (null on success).</param>
/// <param name="Latency">From the invoice being paid to the outcome.</param>
/// <param name="Fee">The fee the payer recorded, if any.</param>
public sealed record LoopbackPayment(int Payer, int Payee, MilliSatoshi Amount, bool Succeeded, string? Reason, TimeSpan Latency, MilliSatoshi? Fee);

/// <summary>
/// Real <see cref="LightningNode"/>s in one process, each with its own BOLT 8 TCP transport listening on 127.0.0.1
/// (port 0), its own store (in memory or SQLite) and wallet, on one shared in-process devnet chain, driven by the
/// system clock. Used by the 100-node network test and the multi-hop load program.
/// </summary>
public sealed class LoopbackNetwork : IAsyncDisposable
{
    private readonly List<LoopbackNode> _nodes = [];
    private readonly SemaphoreSlim _mining = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _timers = Task.CompletedTask;
    private static readonly Script BurnScript = new Key(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray()).PubKey.WitHash.ScriptPubKey;

    private LoopbackNetwork(LoopbackNetworkOptions options)
    {
        Options = options;
        Chain = new HarnessChain(TimeProvider.System, options.FeeRate);
    }

    /// <summary>The settings.</summary>
    public LoopbackNetworkOptions Options { get; }

    /// <summary>The shared chain (broadcaster and fee estimator of every node).</summary>
    public HarnessChain Chain { get; }

    /// <summary>The nodes.</summary>
    public IReadOnlyList<LoopbackNode> Nodes => _nodes;

    /// <summary>Node <paramref name="index"/>.</summary>
    public LoopbackNode this[int index] => _nodes[index];

    /// <summary>
    /// Starts <paramref name="count"/> nodes (each listening on 127.0.0.1), gives every wallet one mature coinbase coin
    /// and feeds the chain to every node.
    /// </summary>
    public static async Task<LoopbackNetwork> CreateAsync(int count, LoopbackNetworkOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        var network = new LoopbackNetwork(options ?? new LoopbackNetworkOptions());
        try
        {
            for (var i = 0; i < count; i++)
            {
                network._nodes.Add(await network.StartNodeAsync(i, cancellationToken).ConfigureAwait(false));
            }
            network.Report($"{count} nodes listening on 127.0.0.1 ({(network.Options.SqliteDirectory is null ? "in-memory stores" : "SQLite stores in " + network.Options.SqliteDirectory)})");
            // The nodes hold no channel yet: only the wallets need these blocks; the nodes are given the last one (their
            // first block: nothing before it can concern them).
            foreach (var node in network._nodes)
            {
                await network.MineAsync(1, node.Wallet.GetNewAddress(AddressType.P2wpkh).ScriptPubKey, cancellationToken, feedNodes: false).ConfigureAwait(false);
            }
            await network.MineAsync(OnChainWallet.CoinbaseMaturity - 1, null, cancellationToken, feedNodes: false).ConfigureAwait(false);
            await network.MineAsync(1, null, cancellationToken).ConfigureAwait(false);
            network.Report($"wallets funded at height {network.Chain.Height}");
            network._timers = network.TimerLoopAsync(network._stop.Token);
            return network;
        }
        catch
        {
            await network.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<LoopbackNode> StartNodeAsync(int index, CancellationToken cancellationToken)
    {
        var seed = new byte[32];
        seed[0] = Options.SeedTag;
        seed[30] = (byte)(index >> 8);
        seed[31] = (byte)index;
        IKeyValueStore store = Options.SqliteDirectory is { } directory
            ? await SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = directory, FileName = $"node{index}.sqlite3" }, cancellationToken).ConfigureAwait(false)
            : new InMemoryKeyValueStore();
        var entropy = new byte[16];
        entropy[0] = Options.SeedTag;
        entropy[14] = (byte)(index >> 8);
        entropy[15] = (byte)index;
        var mnemonic = new Mnemonic(Wordlist.English, entropy).ToString();
        var wallet = OnChainWallet.Restore(new WalletOptions(NBitcoin.Network.RegTest, null) { KdfIterations = 1, Random = new Random(index) }, mnemonic, "loopback", Chain);
        var transport = new PeerManagerTransport(
            LightningNode.DeriveNodeSecret(seed),
            new PeerManagerOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), SendQueueCapacity = Options.SendQueueCapacity },
            TimeProvider.System,
            Options.Loggers);
        var dependencies = new NodeDependencies
        {
            Seed = seed,
            Store = store,
            Transport = transport,
            FundingWallet = new OnChainFundingWallet(wallet, Chain),
            ClaimFeeWallet = new WalletClaimFeeWallet(wallet),
            Broadcaster = Chain,
            FeeEstimator = Chain,
            Time = TimeProvider.System,
            Loggers = Options.Loggers,
        };
        var node = await LightningNode.StartAsync(dependencies, Options.Node with { Alias = $"node{index}" }, cancellationToken).ConfigureAwait(false);
        return new LoopbackNode(index, node, wallet, store);
    }

    private void Report(string line) => Options.Progress?.Invoke(line);

    /// <summary>Mines blocks (coinbase to <paramref name="payTo"/> or a burn script) and feeds each to every wallet and node.</summary>
    public Task MineAsync(int count, Script? payTo = null, CancellationToken cancellationToken = default) => MineAsync(count, payTo, cancellationToken, feedNodes: true);

    private async Task MineAsync(int count, Script? payTo, CancellationToken cancellationToken, bool feedNodes)
    {
        await _mining.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var (block, height) in await Chain.MineAsync(count, payTo ?? BurnScript).ConfigureAwait(false))
            {
                foreach (var node in _nodes)
                {
                    await node.Wallet.BlockConnectedAsync(block, height, cancellationToken).ConfigureAwait(false);
                    if (feedNodes)
                    {
                        await node.Node.BlockConnectedAsync(block, height, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            _mining.Release();
        }
    }

    /// <summary>Connects two nodes over TCP and waits until both see the other.</summary>
    public async Task ConnectAsync(LoopbackNode a, LoopbackNode b, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!a.Node.ListPeers().Any(p => p.NodeId == b.NodeId))
        {
            await a.Node.ConnectAsync(b.NodeId, b.Node.ListenEndPoint, cancellationToken).ConfigureAwait(false);
        }
        await LightningHarness.WaitUntilAsync(() => b.Node.ListPeers().Any(p => p.NodeId == a.NodeId) && a.Node.ListPeers().Any(p => p.NodeId == b.NodeId), $"{a} and {b} see each other").ConfigureAwait(false);
    }

    /// <summary>
    /// Opens the channels in rounds: in each round every funder opens its next channel (openings run in parallel, at
    /// most <see cref="LoopbackNetworkOptions.OpenParallelism"/> at once) and one block confirms the round's fundings
    /// (so the funders' change is spendable for the next round); then the minimum depth is mined and every channel
    /// must be normal on both sides.
    /// </summary>
    public async Task<IReadOnlyList<TopologyChannel>> OpenChannelsAsync(IReadOnlyList<ChannelSpec> specs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var watch = Stopwatch.StartNew();
        var opened = new (ChannelSpec Spec, ChannelId ChannelId)[specs.Count];
        var rounds = specs.Select((spec, i) => (spec, i)).GroupBy(x => x.spec.Funder)
            .SelectMany(g => g.Select((x, round) => (x.spec, x.i, round)))
            .GroupBy(x => x.round).OrderBy(g => g.Key).ToList();
        var pairs = specs.Select(s => (Math.Min(s.Funder, s.Fundee), Math.Max(s.Funder, s.Fundee))).Distinct().ToList();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.OpenParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(pairs, parallel, async (pair, ct) => await ConnectAsync(_nodes[pair.Item1], _nodes[pair.Item2], ct).ConfigureAwait(false)).ConfigureAwait(false);
        Report($"{pairs.Count} peer connections up in {watch.Elapsed.TotalSeconds:0.0} s");
        foreach (var round in rounds)
        {
            await Parallel.ForEachAsync(round, parallel, async (item, ct) =>
            {
                var funder = _nodes[item.spec.Funder].Node;
                var temporary = await funder.OpenChannelAsync(_nodes[item.spec.Fundee].NodeId, item.spec.Capacity, item.spec.Push, ct).ConfigureAwait(false);
                opened[item.i] = (item.spec, await funder.WaitForChannelAsync(temporary, ct).ConfigureAwait(false));
            }).ConfigureAwait(false);
            await MineAsync(1, null, cancellationToken).ConfigureAwait(false);
            Report($"funding round {round.Key + 1}: {round.Count()} channels funded, block {Chain.Height}");
        }
        await MineAsync((int)Options.Node.MinimumDepth, null, cancellationToken).ConfigureAwait(false);
        await LightningHarness.WaitUntilAsync(
            () => opened.All(o => IsNormal(o.Spec.Funder, o.ChannelId) && IsNormal(o.Spec.Fundee, o.ChannelId)),
            "every channel is normal on both sides",
            TimeSpan.FromSeconds(120)).ConfigureAwait(false);
        Report($"{specs.Count} channels normal after {watch.Elapsed.TotalSeconds:0.0} s");
        return [.. opened.Select(o => new TopologyChannel(o.Spec.Funder, o.Spec.Fundee, o.ChannelId, _nodes[o.Spec.Funder].Node.GetChannel(o.ChannelId)!.ShortChannelId!.Value, o.Spec.Capacity))];
    }

    private bool IsNormal(int node, ChannelId channelId) =>
        _nodes[node].Node.GetChannel(channelId) is { State: ChannelState.Normal, IsOffline: false, ShortChannelId: not null };

    /// <summary>
    /// Fills every node's <see cref="LightningNode.Graph"/> with the topology (what gossip would teach it once the
    /// channels are announced). The graph is not thread-safe and a node writes its own channels' policies into it as
    /// channels become active (each end sends its peer a <c>channel_update</c>), so this first waits, reading under
    /// each node's lock, until every node holds both policies of each of its channels; after that nothing else touches
    /// the graphs until channels are 6 blocks deep. Call it before payments start.
    /// </summary>
    public async Task FillGraphsAsync(IReadOnlyList<TopologyChannel> channels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channels);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        foreach (var node in _nodes)
        {
            var own = channels.Where(c => c.Funder == node.Index || c.Fundee == node.Index).Select(c => c.ShortChannelId).ToHashSet();
            while (true)
            {
                var known = (await node.Node.GetGraphNodeAsync(node.NodeId, cancellationToken).ConfigureAwait(false))?.Channels ?? [];
                if (own.All(scid => known.Any(k => k.ShortChannelId == scid && k.Policy1 is not null && k.Policy2 is not null)))
                {
                    break;
                }
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{node} did not learn both policies of its {own.Count} channels from its peers.");
                }
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var node in _nodes)
        {
            Topologies.FillGraph(node.Node.Graph, channels, i => _nodes[i].NodeId, Options.Node.DefaultForwardingPolicy);
        }
    }

    /// <summary>
    /// One payment: the payee issues an invoice, the payer pays it and the outcome is awaited (at most
    /// <paramref name="timeout"/>). A refusal or a timeout is a failure with its reason, never an exception.
    /// </summary>
    public async Task<LoopbackPayment> PayAsync(int payer, int payee, MilliSatoshi amount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var invoice = await _nodes[payee].Node.CreateInvoiceAsync(amount, $"node{payer} pays node{payee}", cancellationToken: cancellationToken).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        try
        {
            var pending = await _nodes[payer].Node.PayInvoiceAsync(invoice.Bolt11, cancellationToken: cancellationToken).ConfigureAwait(false);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            var final = await _nodes[payer].Node.WaitForPaymentAsync(pending.PaymentHash, limit.Token).ConfigureAwait(false);
            return final.State == OutgoingPaymentState.Succeeded
                ? new LoopbackPayment(payer, payee, amount, true, null, watch.Elapsed, final.Fee)
                : new LoopbackPayment(payer, payee, amount, false, $"{final.FailureReason}: {final.FailureMessage}", watch.Elapsed, null);
        }
        catch (NodeOperationRefusedException e)
        {
            return new LoopbackPayment(payer, payee, amount, false, $"refused ({e.Reason}): {e.Message}", watch.Elapsed, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new LoopbackPayment(payer, payee, amount, false, $"no outcome within {timeout.TotalSeconds:0} s (still pending)", watch.Elapsed, null);
        }
    }

    /// <summary>
    /// With AutoFlush off, the host signs: every <paramref name="interval"/> each node flushes (one
    /// <c>commitment_signed</c> covers the updates queued since), until <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task FlushLoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var node in _nodes)
                {
                    await node.Node.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private async Task TimerLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.TimerInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var node in _nodes)
                {
                    await node.Node.ProcessPaymentTimersAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Every HTLC pending on any channel of any node.</summary>
    public int PendingHtlcCount() => _nodes.Sum(n => n.Node.ListChannels().Sum(c => c.PendingHtlcs));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _timers.ConfigureAwait(false);
        _stop.Dispose();
        foreach (var node in _nodes)
        {
            await node.Node.DisposeAsync().ConfigureAwait(false);
            node.Wallet.Dispose();
            await node.Store.DisposeAsync().ConfigureAwait(false);
        }
        Chain.Dispose();
        _mining.Dispose();
    }
}
