using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Ledger;

namespace Satflow.Server.Hosting;

/// <summary>
/// The ledger's reconciliation with the in-process node's real balances: the stores' on-chain and Lightning totals
/// against the node wallet's balance (confirmed + unconfirmed + immature) and the sum of the local balances of the
/// node's open channels (HTLCs in flight excluded). Funds the operator put in the node (in the sandbox: the devnet
/// coinbase and the liquidity the customer nodes pushed to the merchant) show up as a difference.
/// </summary>
public sealed class NodeReconciliation
{
    private readonly ServerNode _node;
    private readonly MerchantService _merchant;

    /// <summary>Creates the service.</summary>
    /// <param name="node">The node holder.</param>
    /// <param name="merchant">The merchant service (ledger balances).</param>
    public NodeReconciliation(ServerNode node, MerchantService merchant)
    {
        _node = node;
        _merchant = merchant;
    }

    /// <summary>Builds the report now.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The report.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/> when the node is not running.</exception>
    public async Task<ReconciliationReport> ReportAsync(CancellationToken cancellationToken = default)
    {
        var host = await _node.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        var wallet = MilliSatoshi.FromSatoshis((ulong)host.Wallet.GetBalance().Total.Satoshi);
        var channels = host.Node.ListChannels()
            .Where(c => c.State is ChannelState.Normal or ChannelState.ShuttingDown or ChannelState.NegotiatingClose)
            .Aggregate(0UL, (sum, c) => sum + c.LocalBalance.Value);
        return await _merchant.ReconcileAsync(wallet, new MilliSatoshi(channels), cancellationToken).ConfigureAwait(false);
    }
}
