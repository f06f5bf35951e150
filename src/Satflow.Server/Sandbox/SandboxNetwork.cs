using System.Net;
using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;
using Satflow.Node.Hosting;
using Satflow.Payments;
using Satflow.Server.Hosting;

namespace Satflow.Server.Sandbox;

/// <summary>What the sandbox wallet did.</summary>
/// <param name="Method">"lightning" or "onchain".</param>
/// <param name="Succeeded">Whether the payment went through (Lightning: settled; on-chain: broadcast).</param>
/// <param name="Reference">The payment hash or the transaction id.</param>
/// <param name="AmountSat">What was paid, in satoshis.</param>
/// <param name="Message">A sentence for the page.</param>
public sealed record SandboxPaymentResult(string Method, bool Succeeded, string Reference, long AmountSat, string Message);

/// <summary>
/// The sandbox's counterparties: two in-process Lightning nodes ("customers") on loopback TCP, each with its own data
/// directory under <c>DATADIR/sandbox/customer-N</c>, an on-chain wallet funded by mining on the embedded devnet, and a
/// channel to the merchant node (opened by the customer, with part of it pushed to the merchant so the merchant can
/// also pay out). The first customer backs the sandbox wallet page.
/// </summary>
public sealed class SandboxNetwork : IAsyncDisposable
{
    /// <summary>Capacity of each customer's channel to the merchant.</summary>
    public static Money ChannelCapacity { get; } = Money.Satoshis(5_000_000);

    /// <summary>What each customer pushes to the merchant when opening (merchant outbound liquidity for payouts).</summary>
    public static MilliSatoshi PushAmount { get; } = MilliSatoshi.FromSatoshis(1_000_000);

    private static readonly Script Burn = new Script(OpcodeType.OP_TRUE).WitHash.ScriptPubKey;

    private readonly ChainBackend _chain;
    private readonly NodeHost _merchant;
    private readonly SemaphoreSlim _payGate = new(1, 1);

    private SandboxNetwork(ChainBackend chain, NodeHost merchant, IReadOnlyList<NodeHost> customers)
    {
        _chain = chain;
        _merchant = merchant;
        Customers = customers;
    }

    /// <summary>The customer nodes.</summary>
    public IReadOnlyList<NodeHost> Customers { get; }

    /// <summary>The customer that pays from the sandbox wallet page.</summary>
    public NodeHost Wallet => Customers[0];

    /// <summary>Starts (or restarts) the customers, funds them, connects them to the merchant and opens the channels that are missing.</summary>
    /// <param name="options">Server options (data directory).</param>
    /// <param name="chain">The embedded devnet backend.</param>
    /// <param name="merchant">The merchant node.</param>
    /// <param name="log">Progress log.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The running sandbox network.</returns>
    public static async Task<SandboxNetwork> StartAsync(ServerOptions options, ChainBackend chain, NodeHost merchant, ILogger log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(merchant);
        ArgumentNullException.ThrowIfNull(log);
        var devnet = chain.Devnet ?? throw new InvalidOperationException("The sandbox needs the embedded devnet.");
        var customers = new List<NodeHost>();
        try
        {
            for (var i = 1; i <= 2; i++)
            {
                customers.Add(await NodeHost.LaunchAsync(
                    new NodeHostSettings(Path.Combine(options.DataDirectory, "sandbox", $"customer-{i}"), "regtest", Network.RegTest, new IPEndPoint(IPAddress.Loopback, 0)) { Alias = $"sandbox-customer-{i}" },
                    chain.Client, TextWriter.Null, cancellationToken).ConfigureAwait(false));
            }

            var network = new SandboxNetwork(chain, merchant, customers);
            var all = customers.Append(merchant).ToList();

            // Fund every wallet that has nothing yet: one coinbase each, then 100 blocks to mature them.
            var funded = false;
            foreach (var host in all)
            {
                if (host.Wallet.GetBalance().Total == Money.Zero)
                {
                    await devnet.Chain.MineBlocksAsync(1, host.Wallet.GetNewAddress(AddressType.P2wpkh).ScriptPubKey, cancellationToken).ConfigureAwait(false);
                    funded = true;
                }
            }

            if (funded)
            {
                await devnet.Chain.MineBlocksAsync(100, Burn, cancellationToken).ConfigureAwait(false);
                log.LogInformation("Sandbox: funded the wallets on the devnet");
            }

            await network.SyncAllAsync(cancellationToken).ConfigureAwait(false);
            var merchantEndPoint = IPEndPoint.Parse(merchant.ListenAddress);
            var opened = false;
            foreach (var customer in customers)
            {
                await customer.Node.ConnectAsync(merchant.NodeId, merchantEndPoint, cancellationToken).ConfigureAwait(false);
                if (!customer.Node.ListChannels().Any(c => c.Peer == merchant.NodeId && c.State is ChannelState.Normal or ChannelState.AwaitingFundingConfirmation))
                {
                    var temporary = await customer.Node.OpenChannelAsync(merchant.NodeId, ChannelCapacity, PushAmount, cancellationToken).ConfigureAwait(false);
                    await customer.Node.WaitForChannelAsync(temporary, cancellationToken).ConfigureAwait(false);
                    opened = true;
                }
            }

            if (opened || customers.Any(c => c.Node.ListChannels().Any(ch => ch.State == ChannelState.AwaitingFundingConfirmation)))
            {
                // Let the funding transactions reach the mempool, then confirm them.
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
                await devnet.Chain.MineBlocksAsync(6, Burn, cancellationToken).ConfigureAwait(false);
            }

            await network.WaitForActiveChannelsAsync(log, cancellationToken).ConfigureAwait(false);
            log.LogInformation("Sandbox: {Count} customer nodes with active channels to the merchant", customers.Count);
            return network;
        }
        catch
        {
            foreach (var host in customers)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private async Task SyncAllAsync(CancellationToken cancellationToken)
    {
        foreach (var host in Customers.Append(_merchant))
        {
            await host.SyncNowAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitForActiveChannelsAsync(ILogger log, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            await SyncAllAsync(cancellationToken).ConfigureAwait(false);
            var ready = Customers.All(c => c.Node.ListChannels().Any(ch => ch.Peer == _merchant.NodeId && ch.State == ChannelState.Normal && !ch.IsOffline))
                && _merchant.Node.ListChannels().Count(ch => ch.State == ChannelState.Normal && !ch.IsOffline) >= Customers.Count;
            if (ready)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The sandbox channels did not become active within 90 s.");
            }

            if (Customers.Any(c => c.Node.ListChannels().Any(ch => ch.State == ChannelState.AwaitingFundingConfirmation)))
            {
                await _chain.Devnet!.Chain.MineBlocksAsync(1, Burn, cancellationToken).ConfigureAwait(false);
            }

            log.LogDebug("Sandbox: waiting for the channels");
            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Pays a BOLT 11 invoice from the wallet customer and waits for the outcome (at most 30 s).</summary>
    /// <param name="bolt11">The invoice.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The result.</returns>
    public async Task<SandboxPaymentResult> PayLightningAsync(string bolt11, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bolt11);
        await _payGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            OutgoingPaymentRecord record;
            try
            {
                record = await Wallet.Node.PayInvoiceAsync(bolt11.Trim(), null, cancellationToken).ConfigureAwait(false);
            }
            catch (Satflow.Node.NodeOperationRefusedException e)
            {
                return new SandboxPaymentResult("lightning", false, "", 0, "The sandbox wallet refused the invoice: " + e.Message);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            if (record.State == OutgoingPaymentState.Pending)
            {
                try
                {
                    record = await Wallet.Node.WaitForPaymentAsync(record.PaymentHash, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return new SandboxPaymentResult("lightning", false, record.PaymentHash.ToString(), (long)(record.Amount.Value / 1000), "The payment is still in flight after 30 s.");
                }
            }

            var sats = (long)(record.Amount.Value / 1000);
            return record.State == OutgoingPaymentState.Succeeded
                ? new SandboxPaymentResult("lightning", true, record.PaymentHash.ToString(), sats, $"Paid {sats} sat over Lightning.")
                : new SandboxPaymentResult("lightning", false, record.PaymentHash.ToString(), sats, "The payment failed: " + (record.FailureMessage ?? record.FailureReason?.ToString() ?? "unknown reason"));
        }
        finally
        {
            _payGate.Release();
        }
    }

    /// <summary>Sends bitcoin on-chain from the wallet customer (the devnet confirms it with its next block).</summary>
    /// <param name="address">The destination.</param>
    /// <param name="amount">The amount.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The result.</returns>
    public async Task<SandboxPaymentResult> PayOnChainAsync(BitcoinAddress address, Money amount, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(amount);
        await _payGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Wallet.SyncNowAsync(cancellationToken).ConfigureAwait(false);
            var sent = await Wallet.Wallet.SendAsync(address, SendAmount.Of(amount), new FeeRate(Money.Satoshis(2), 1), true, cancellationToken).ConfigureAwait(false);
            return new SandboxPaymentResult("onchain", true, sent.TxId.ToString(), amount.Satoshi, $"Sent {amount.Satoshi} sat on-chain in {sent.TxId}; the sandbox devnet confirms it with its next block.");
        }
        catch (WalletException e)
        {
            return new SandboxPaymentResult("onchain", false, "", amount.Satoshi, "The sandbox wallet could not send: " + e.Message);
        }
        finally
        {
            _payGate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var host in Customers)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }

        _payGate.Dispose();
    }
}
