using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Persistence;
using Satflow.Server.Hosting;

namespace Satflow.Server.Api;

/// <summary>One store's asset balances in a reconciliation report (msat).</summary>
/// <param name="StoreId">The store.</param>
/// <param name="OnChainMsat">Its on-chain wallet account.</param>
/// <param name="LightningMsat">Its Lightning account.</param>
/// <param name="TotalMsat">On-chain plus Lightning.</param>
public sealed record ReconciliationStoreLine(string StoreId, long OnChainMsat, long LightningMsat, long TotalMsat);

/// <summary>One known reason for a difference between the node and the ledger.</summary>
/// <param name="Kind">E.g. <c>htlc-in-flight</c>, <c>fee-unknown</c>.</param>
/// <param name="Reference">A txid, outpoint, payment hash or channel id.</param>
/// <param name="Asset">Which real balance it affects.</param>
/// <param name="AmountMsat">Its contribution to real minus ledger (negative when the real balance is lower).</param>
/// <param name="Description">A sentence.</param>
public sealed record ReconciliationItemResponse(string Kind, string Reference, ReconciliationAsset Asset, long AmountMsat, string Description);

/// <summary>
/// The server-wide reconciliation report: every store's and the node operator's ledger balances against the in-process
/// node's wallet and channel balances, exact to the msat (the figures of the dashboard's wallet page).
/// </summary>
/// <param name="Exact">True when the ledger explains every msat of the wallet and the channels (both differences and the ledger imbalance are zero).</param>
/// <param name="GeneratedAt">When the report was built.</param>
/// <param name="Stores">Each store's asset balances.</param>
/// <param name="StoreTotalMsat">The sum of the stores' balances.</param>
/// <param name="LedgerOnChainMsat">The stores' on-chain accounts.</param>
/// <param name="LedgerLightningMsat">The stores' Lightning accounts.</param>
/// <param name="OperatorOnChainMsat">The operator's on-chain account.</param>
/// <param name="OperatorLightningMsat">The operator's Lightning account.</param>
/// <param name="OperatorCapitalMsat">The operator's capital.</param>
/// <param name="OperatorIncomeMsat">The operator's routing income.</param>
/// <param name="OperatorExpensesMsat">The operator's fees paid.</param>
/// <param name="WalletMsat">The node wallet's balance (confirmed, unconfirmed and immature).</param>
/// <param name="ChannelsMsat">The local balances of the node's channels (HTLCs in flight excluded).</param>
/// <param name="LedgerTotalMsat">Stores + capital + income − expenses.</param>
/// <param name="ActualTotalMsat">Wallet + channels.</param>
/// <param name="OnChainDifferenceMsat">Wallet − (stores' + operator's on-chain).</param>
/// <param name="LightningDifferenceMsat">Channels − (stores' + operator's Lightning).</param>
/// <param name="TotalDifferenceMsat">Actual − ledger total.</param>
/// <param name="LedgerImbalanceMsat">Debits − credits over the whole ledger (zero unless the ledger is corrupt).</param>
/// <param name="UnexplainedOnChainMsat">The on-chain difference no item explains.</param>
/// <param name="UnexplainedLightningMsat">The Lightning difference no item explains.</param>
/// <param name="Items">Known reasons for a difference (empty when exact).</param>
public sealed record ReconciliationResponse(
    bool Exact,
    DateTimeOffset GeneratedAt,
    IReadOnlyList<ReconciliationStoreLine> Stores,
    long StoreTotalMsat,
    long LedgerOnChainMsat,
    long LedgerLightningMsat,
    long OperatorOnChainMsat,
    long OperatorLightningMsat,
    long OperatorCapitalMsat,
    long OperatorIncomeMsat,
    long OperatorExpensesMsat,
    long WalletMsat,
    long ChannelsMsat,
    long LedgerTotalMsat,
    long ActualTotalMsat,
    long OnChainDifferenceMsat,
    long LightningDifferenceMsat,
    long TotalDifferenceMsat,
    long LedgerImbalanceMsat,
    long UnexplainedOnChainMsat,
    long UnexplainedLightningMsat,
    IReadOnlyList<ReconciliationItemResponse> Items)
{
    /// <summary>Maps a report.</summary>
    /// <param name="r">The report.</param>
    /// <returns>The response.</returns>
    public static ReconciliationResponse From(ReconciliationReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.Exact, r.At, r.Stores.Select(l => new ReconciliationStoreLine(l.Store.Value, l.OnChain, l.Lightning, l.Total)).ToArray(),
            r.StoreTotal, r.LedgerOnChain, r.LedgerLightning, r.OperatorOnChain, r.OperatorLightning, r.OperatorCapital, r.OperatorIncome, r.OperatorExpenses,
            r.WalletBalance, r.ChannelBalance, r.LedgerTotal, r.ActualTotal, r.OnChainDifference, r.LightningDifference, r.TotalDifference, r.LedgerImbalance,
            r.UnexplainedOnChain, r.UnexplainedLightning,
            r.Items.Select(i => new ReconciliationItemResponse(i.Kind, i.Reference, i.Asset, i.Amount, i.Description)).ToArray());
    }
}

/// <summary>
/// <c>GET /api/v1/server/reconciliation</c>: the server-wide reconciliation report. It covers every store and the node
/// operator's book, so it needs a key holding <see cref="Permission.ServerReconciliationView"/>, not restricted to a
/// store, of a server administrator. Without a node in this process (standalone mode) it answers 409
/// <c>NoInProcessNode</c>; while the node starts, or when it failed to start, 503 <c>NodeUnavailable</c>.
/// </summary>
public static class ReconciliationEndpoints
{
    /// <summary>The problem code when satflowd runs without an in-process node.</summary>
    public const string NoInProcessNode = "NoInProcessNode";

    /// <summary>The problem code while the node is starting or after it failed to start.</summary>
    public const string NodeUnavailable = "NodeUnavailable";

    /// <summary>Maps the endpoint on the API group.</summary>
    /// <param name="api">The <c>/api/v1</c> group.</param>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/server/reconciliation", GetReconciliation).WithMetadata(new ApiScope(Permission.ServerReconciliationView, false))
            .WithTags("server").WithName("GetServerReconciliation")
            .Produces<ReconciliationResponse>().ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(503);
    }

    private static async Task<IResult> GetReconciliation(HttpContext http, IMerchantRepository repo, ServerOptions options)
    {
        var principal = ApiPrincipal.Of(http);
        if (principal.ApiKey?.StoreId is { } restricted)
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, $"The report covers every store; this API key is restricted to store {restricted}.");
        }

        var user = await repo.GetUserAsync(principal.UserId, http.RequestAborted).ConfigureAwait(false);
        if (user is not { IsServerAdmin: true })
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, "The server reconciliation is for server administrators.");
        }

        if (options.Mode == ServerMode.Standalone)
        {
            await ApiProblems.WriteAsync(http, StatusCodes.Status409Conflict, "No in-process node",
                "satflowd runs in standalone mode: no Lightning node or wallet runs in this process, so there is nothing to reconcile the ledger with.", NoInProcessNode).ConfigureAwait(false);
            return Results.Empty;
        }

        var node = http.RequestServices.GetRequiredService<ServerNode>();
        if (!node.Ready.IsCompleted)
        {
            http.Response.Headers.RetryAfter = "5";
            await ApiProblems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "Node unavailable", "The Lightning node is still starting; try again shortly.", NodeUnavailable).ConfigureAwait(false);
            return Results.Empty;
        }

        ReconciliationReport report;
        try
        {
            report = await http.RequestServices.GetRequiredService<NodeReconciliation>().ReportAsync(http.RequestAborted).ConfigureAwait(false);
        }
        catch (MerchantException e) when (e.Reason == MerchantErrorReason.PaymentMethodUnavailable)
        {
            await ApiProblems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "Node unavailable", e.Message, NodeUnavailable).ConfigureAwait(false);
            return Results.Empty;
        }

        return Results.Ok(ReconciliationResponse.From(report));
    }
}
