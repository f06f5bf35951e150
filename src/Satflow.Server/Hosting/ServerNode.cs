using System.Threading.Channels;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Node.Hosting;
using Satflow.Payments;
using Satflow.Server.Payments;
using Satflow.Server.Sandbox;

namespace Satflow.Server.Hosting;

/// <summary>
/// The Lightning node satflowd runs in-process (sandbox and production modes): its chain backend, the
/// <see cref="NodeHost"/> (node, wallet, host loop) and, in sandbox mode, the <see cref="SandboxNetwork"/>. Started by
/// <see cref="NodeHostingService"/>; everything that needs the node awaits <see cref="WhenReadyAsync"/>.
/// </summary>
public sealed class ServerNode : IAsyncDisposable
{
    private readonly TaskCompletionSource<NodeHost> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ChainBackend? _chain;

    /// <summary>The merchant node, once started (null before).</summary>
    public NodeHost? Host { get; private set; }

    /// <summary>The chain backend, once started.</summary>
    public ChainBackend? Chain => _chain;

    /// <summary>The sandbox counterparties (sandbox mode, once started).</summary>
    public SandboxNetwork? Sandbox { get; private set; }

    /// <summary>Completes when the node (and, in sandbox mode, its counterparties and channels) is up; faults when the start failed.</summary>
    public Task<NodeHost> Ready => _ready.Task;

    /// <summary>Waits until the node runs.</summary>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <returns>The node host.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/> when the node failed to start.</exception>
    public async Task<NodeHost> WhenReadyAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _ready.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not MerchantException)
        {
            throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "The Lightning node failed to start: " + e.Message, e);
        }
    }

    /// <summary>Starts the chain backend, the node and (sandbox) the counterparties. Called once by <see cref="NodeHostingService"/>.</summary>
    /// <param name="options">The server options.</param>
    /// <param name="log">Progress log.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task.</returns>
    internal async Task StartAsync(ServerOptions options, ILogger log, CancellationToken cancellationToken)
    {
        try
        {
            var networkName = NetworkName(options.Network);
            if (options.Mode == ServerMode.Sandbox)
            {
                if (options.Network != Network.RegTest)
                {
                    throw new MerchantException(MerchantErrorReason.InvalidConfiguration, "The sandbox runs on regtest only (drop --network, or give --bitcoind-rpc for production).");
                }

                var devnetDir = Path.Combine(options.DataDirectory, "sandbox", "devnet");
                _chain = await ChainBackend.StartDevnetAsync(devnetDir, options.SandboxBlockInterval, cancellationToken).ConfigureAwait(false);
                log.LogInformation("Sandbox: embedded devnet at {Rpc}", _chain.Where);
            }
            else
            {
                _chain = await ChainBackend.ConnectAsync(options.BitcoindRpc!, networkName, options.Network, cancellationToken).ConfigureAwait(false);
                log.LogInformation("Chain backend: bitcoind at {Where}", _chain.Where);
            }

            using var progress = new LogWriter(log);
            Host = await NodeHost.LaunchAsync(
                new NodeHostSettings(options.NodeDirectory, networkName, options.Network, options.LightningListen!) { Alias = options.Mode == ServerMode.Sandbox ? "satflow-sandbox-merchant" : null },
                _chain.Client, progress, cancellationToken).ConfigureAwait(false);
            log.LogInformation("Lightning node {NodeId} listening on {Listen}", Host.NodeId, Host.ListenAddress);
            if (options.Mode == ServerMode.Sandbox)
            {
                Sandbox = await SandboxNetwork.StartAsync(options, _chain, Host, log, cancellationToken).ConfigureAwait(false);
            }

            _ready.TrySetResult(Host);
        }
        catch (Exception e)
        {
            _ready.TrySetException(e);
            throw;
        }
    }

    /// <summary>The node library's network name of an NBitcoin network.</summary>
    /// <param name="network">The network.</param>
    /// <returns>mainnet, testnet, signet or regtest.</returns>
    public static string NetworkName(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return network.ChainName == ChainName.Mainnet ? "mainnet"
            : network.ChainName == ChainName.Testnet ? "testnet"
            : network.ChainName == ChainName.Regtest ? "regtest"
            : "signet";
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Sandbox is not null)
        {
            await Sandbox.DisposeAsync().ConfigureAwait(false);
        }

        if (Host is not null)
        {
            await Host.DisposeAsync().ConfigureAwait(false);
        }

        if (_chain is not null)
        {
            await _chain.DisposeAsync().ConfigureAwait(false);
        }

        _ready.TrySetException(new ObjectDisposedException(nameof(ServerNode)));
    }

    /// <summary>Turns the node host's progress lines into log entries (the new wallet's mnemonic is not logged).</summary>
    private sealed class LogWriter(ILogger log) : TextWriter
    {
        private readonly System.Text.StringBuilder _line = new();
        private bool _skipNext;

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                var text = _line.ToString().TrimEnd('\r');
                _line.Clear();
                if (_skipNext)
                {
                    _skipNext = false;
                    log.LogWarning("The node wallet's mnemonic is not logged; the wallet key is in the node data directory (wallet_passphrase). Back up the node directory.");
                    return;
                }

                _skipNext = text.Contains("mnemonic", StringComparison.OrdinalIgnoreCase);
                log.LogInformation("node: {Line}", text);
                return;
            }

            _line.Append(value);
        }
    }
}

/// <summary>Starts the in-process node in the background, records its settled invoices and on-chain receipts as merchant payments.</summary>
public sealed class NodeHostingService : BackgroundService
{
    private readonly ServerNode _node;
    private readonly ServerOptions _options;
    private readonly PaymentRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ILogger<NodeHostingService> _log;
    private readonly Channel<InvoiceRecord> _settled = Channel.CreateUnbounded<InvoiceRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<OutPoint, int> _reported = [];

    /// <summary>Creates the service.</summary>
    /// <param name="node">The node holder.</param>
    /// <param name="options">Options.</param>
    /// <param name="recorder">Records payments on merchant invoices.</param>
    /// <param name="time">Clock.</param>
    /// <param name="log">Logger.</param>
    public NodeHostingService(ServerNode node, ServerOptions options, PaymentRecorder recorder, TimeProvider time, ILogger<NodeHostingService> log)
    {
        _node = node;
        _options = options;
        _recorder = recorder;
        _time = time;
        _log = log;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        NodeHost host;
        try
        {
            await _node.StartAsync(_options, _log, stoppingToken).ConfigureAwait(false);
            host = _node.Host!;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is NodeHostException or MerchantException or Satflow.Bitcoin.Chain.ChainSourceException or IOException or HttpRequestException or Satflow.Node.NodeOperationRefusedException or TimeoutException)
        {
            _log.LogCritical(e, "The Lightning node failed to start: {Message}", e.Message);
            return;
        }

        host.Node.Invoices.Settled += (_, record) => _settled.Writer.TryWrite(record);
        // Settlements before this process (or lost in a crash between the node's write and the event): record them again; recording is idempotent.
        foreach (var record in await host.Node.Invoices.ListAsync(stoppingToken).ConfigureAwait(false))
        {
            if (record.State == Satflow.Payments.InvoiceState.Settled)
            {
                _settled.Writer.TryWrite(record);
            }
        }

        var lightning = RecordSettlementsAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            do
            {
                try
                {
                    await RecordOnChainAsync(host, stoppingToken).ConfigureAwait(false);
                }
                catch (MerchantException e)
                {
                    _log.LogError(e, "Recording on-chain payments failed ({Reason})", e.Reason);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }

        await lightning.ConfigureAwait(false);
    }

    private async Task RecordSettlementsAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var record in _settled.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        var observation = new PaymentObservation(PaymentMethodId.Lightning, record.PaymentHash.ToString(), record.SettledAmount ?? record.Amount ?? MilliSatoshi.Zero, 0, true, record.ResolvedAt ?? _time.GetUtcNow());
                        await _recorder.RecordAsync(record.PaymentHash.ToString(), observation, ct).ConfigureAwait(false);
                        break;
                    }
                    catch (MerchantException e) when (attempt < 5)
                    {
                        _log.LogWarning(e, "Recording Lightning payment {PaymentHash} failed ({Reason}); retrying", record.PaymentHash, e.Reason);
                        await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
                    }
                    catch (MerchantException e)
                    {
                        _log.LogError(e, "Recording Lightning payment {PaymentHash} failed ({Reason})", record.PaymentHash, e.Reason);
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Reports every wallet output paying one of its receive addresses to the merchant, whenever its confirmation count changed (up to 6).</summary>
    private async Task RecordOnChainAsync(NodeHost host, CancellationToken ct)
    {
        var wallet = host.Wallet;
        var tip = wallet.Tip?.Height ?? -1;
        foreach (var tx in wallet.ListTransactions())
        {
            var confirmations = tx.Height is int h && tip >= h ? tip - h + 1 : 0;
            for (var i = 0; i < tx.Transaction.Outputs.Count; i++)
            {
                var output = tx.Transaction.Outputs[i];
                if (!wallet.IsMine(output.ScriptPubKey))
                {
                    continue;
                }

                var outpoint = new OutPoint(tx.TxId, i);
                if (_reported.TryGetValue(outpoint, out var seen) && (seen == confirmations || seen >= 6))
                {
                    continue;
                }

                var address = output.ScriptPubKey.GetDestinationAddress(_options.Network)?.ToString();
                if (address is null)
                {
                    continue;
                }

                var observation = new PaymentObservation(PaymentMethodId.OnChain, outpoint.ToString(), MilliSatoshi.FromSatoshis((ulong)output.Value.Satoshi), confirmations, false, _time.GetUtcNow());
                await _recorder.RecordAsync(address, observation, ct).ConfigureAwait(false);
                _reported[outpoint] = confirmations;
            }
        }
    }
}

/// <summary>The Lightning invoice source over the in-process node: invoices wait for the node to be up.</summary>
public sealed class NodeLightningInvoiceSource : ILightningDescriptionHashInvoiceSource
{
    private readonly ServerNode _node;
    private readonly TimeProvider _time;

    /// <summary>Creates the source.</summary>
    /// <param name="node">The node holder.</param>
    /// <param name="time">Clock (for the expiry in seconds).</param>
    public NodeLightningInvoiceSource(ServerNode node, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(time);
        _node = node;
        _time = time;
    }

    /// <inheritdoc />
    public bool IsAvailable => !_node.Ready.IsFaulted;

    /// <inheritdoc />
    public string? UnavailableReason => _node.Ready.IsFaulted ? "The Lightning node failed to start: " + _node.Ready.Exception?.InnerException?.Message : null;

    /// <inheritdoc />
    public Task<LightningInvoice> CreateInvoiceAsync(MilliSatoshi amount, DateTimeOffset expiresAt, string description, CancellationToken cancellationToken = default) =>
        CreateAsync(expiresAt, (node, seconds) => node.CreateInvoiceAsync(amount, description, seconds, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task<LightningInvoice> CreateInvoiceWithDescriptionHashAsync(MilliSatoshi amount, DateTimeOffset expiresAt, Bytes32 descriptionHash, CancellationToken cancellationToken = default) =>
        CreateAsync(expiresAt, (node, seconds) => node.CreateInvoiceAsync(amount, descriptionHash, seconds, cancellationToken), cancellationToken);

    /// <summary>Waits for the node, then creates the invoice with an expiry matching the merchant invoice (at least a minute).</summary>
    private async Task<LightningInvoice> CreateAsync(DateTimeOffset expiresAt, Func<Satflow.Node.LightningNode, ulong, Task<InvoiceRecord>> create, CancellationToken cancellationToken)
    {
        var host = await _node.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        var seconds = (ulong)Math.Max(60, Math.Ceiling((expiresAt - _time.GetUtcNow()).TotalSeconds));
        try
        {
            var record = await create(host.Node, seconds).ConfigureAwait(false);
            return new LightningInvoice(record.Bolt11, record.PaymentHash);
        }
        catch (PaymentsException e)
        {
            throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "The Lightning node refused the invoice: " + e.Message, e);
        }
    }
}

/// <summary>On-chain invoice addresses from the in-process node's wallet (BIP 84 receive chain); waits for the node to be up.</summary>
public sealed class NodeWalletAddressSource : IOnChainAddressSource
{
    private readonly ServerNode _node;

    /// <summary>Creates the source.</summary>
    /// <param name="node">The node holder.</param>
    public NodeWalletAddressSource(ServerNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _node = node;
    }

    /// <inheritdoc />
    public string Description => "node wallet";

    /// <inheritdoc />
    public async Task<string> NextAddressAsync(CancellationToken cancellationToken = default)
    {
        var host = await _node.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        return await new WalletAddressSource(host.Wallet).NextAddressAsync(cancellationToken).ConfigureAwait(false);
    }
}
