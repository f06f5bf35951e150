using System.Globalization;
using System.Text;
using Satflow.Merchant;
using Satflow.Merchant.Ledger;
using Satflow.Server.Hosting;
using static Satflow.Server.Dashboard.DashboardHtml;

namespace Satflow.Server.Dashboard;

/// <summary>The wallet page's on-chain transactions and the ledger reconciliation (in-process node only).</summary>
public static partial class DashboardEndpoints
{
    /// <summary>How many on-chain transactions the wallet page lists.</summary>
    public const int WalletTransactionRows = 50;

    private static async Task AppendOnChainAndReconciliationAsync(HttpContext http, StringBuilder sb)
    {
        if (http.RequestServices.GetService<ServerNode>()?.Host is not { } host)
        {
            // A remote node (or none): the on-chain history and the ledger reconciliation need the in-process node.
            return;
        }

        var wallet = host.Wallet;
        var tip = wallet.Tip?.Height ?? -1;
        var transactions = wallet.ListTransactions();
        sb.Append("<h2>On-chain transactions</h2>");
        if (transactions.Count == 0)
        {
            sb.Append("<p id=\"onchain-empty\">No on-chain transactions yet.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"onchain-transactions\"><thead><tr><th scope=\"col\">Direction</th><th scope=\"col\">Amount</th><th scope=\"col\">Fee</th>")
              .Append("<th scope=\"col\">Confirmations</th><th scope=\"col\">Transaction</th></tr></thead><tbody>");
            foreach (var tx in transactions.Take(WalletTransactionRows))
            {
                var mine = tx.Transaction.Outputs.Where(o => wallet.IsMine(o.ScriptPubKey)).Sum(o => o.Value.Satoshi);
                var others = tx.Transaction.Outputs.Where(o => !wallet.IsMine(o.ScriptPubKey)).Sum(o => o.Value.Satoshi);
                var sent = tx.IsOwn;
                var amount = sent ? others : mine;
                var confirmations = tx.Height is int h && tip >= h ? tip - h + 1 : 0;
                sb.Append("<tr data-txid=\"").Append(E(tx.TxId.ToString())).Append("\" data-direction=\"").Append(sent ? "sent" : "received")
                  .Append("\" data-amount-sat=\"").Append(amount.ToString(CultureInfo.InvariantCulture)).Append("\" data-confirmations=\"").Append(confirmations.ToString(CultureInfo.InvariantCulture))
                  .Append("\"><td>").Append(sent ? "sent" : "received").Append("</td><td>").Append(E(amount.ToString("N0", CultureInfo.InvariantCulture))).Append(" sat</td><td>")
                  .Append(tx.Fee is { } fee && sent ? E(fee.Satoshi.ToString("N0", CultureInfo.InvariantCulture)) + " sat" : "—").Append("</td><td>")
                  .Append(confirmations == 0 ? Badge("Unconfirmed") : E(confirmations.ToString(CultureInfo.InvariantCulture))).Append("</td><td><code class=\"wrap\">")
                  .Append(E(tx.TxId.ToString())).Append("</code></td></tr>");
            }

            sb.Append("</tbody></table></div>");
            if (transactions.Count > WalletTransactionRows)
            {
                sb.Append("<p>The ").Append(WalletTransactionRows).Append(" most recent of ").Append(transactions.Count).Append(" transactions.</p>");
            }
        }

        ReconciliationReport report;
        try
        {
            report = await http.RequestServices.GetRequiredService<NodeReconciliation>().ReportAsync(http.RequestAborted).ConfigureAwait(false);
        }
        catch (MerchantException e) when (e.Reason == MerchantErrorReason.PaymentMethodUnavailable)
        {
            sb.Append("<h2>Reconciliation</h2><p id=\"reconciliation-unavailable\">").Append(E(e.Message)).Append("</p>");
            return;
        }

        AppendReconciliation(sb, report);
    }

    /// <summary>The reconciliation summary: the verdict, the per-line figures in msat, and the items that explain a difference.</summary>
    private static void AppendReconciliation(StringBuilder sb, ReconciliationReport report)
    {
        static string M(long msat) => msat.ToString("N0", CultureInfo.InvariantCulture) + " msat";
        sb.Append("<h2>Reconciliation</h2><p id=\"reconciliation-verdict\" data-exact=\"").Append(report.Exact ? "true" : "false").Append("\">")
          .Append(report.Exact
              ? Badge("Exact") + " The ledger explains every msat of the wallet and the channels."
              : Badge("Not exact") + " The ledger and the node differ by " + E(M(report.TotalDifference)) + "; the lines below say where.")
          .Append("</p><div class=\"scroll\"><table id=\"reconciliation\"><thead><tr><th scope=\"col\">Line</th><th scope=\"col\">Ledger</th><th scope=\"col\">Node</th><th scope=\"col\">Difference</th></tr></thead><tbody>");
        void Row(string key, string label, string ledger, string node, long? difference)
            => sb.Append("<tr data-line=\"").Append(key).Append("\"").Append(difference is { } d ? " data-difference-msat=\"" + d.ToString(CultureInfo.InvariantCulture) + "\"" : "").Append("><td>").Append(E(label)).Append("</td><td>")
                 .Append(E(ledger)).Append("</td><td>").Append(E(node)).Append("</td><td>").Append(difference is { } v ? E(M(v)) : "").Append("</td></tr>");
        Row("onchain", "On-chain: stores + operator vs wallet", M(report.LedgerOnChain) + " + " + M(report.OperatorOnChain), M(report.WalletBalance), report.OnChainDifference);
        Row("lightning", "Lightning: stores + operator vs channels", M(report.LedgerLightning) + " + " + M(report.OperatorLightning), M(report.ChannelBalance), report.LightningDifference);
        Row("stores", "Store balances", M(report.StoreTotal), "", null);
        Row("capital", "Operator capital", M(report.OperatorCapital), "", null);
        Row("income", "Operator routing income", M(report.OperatorIncome), "", null);
        Row("expenses", "Operator fees paid", M(report.OperatorExpenses), "", null);
        Row("total", "Stores + capital + income − fees vs wallet + channels", M(report.LedgerTotal), M(report.ActualTotal), report.TotalDifference);
        Row("imbalance", "Ledger imbalance (debits − credits)", M(report.LedgerImbalance), "", report.LedgerImbalance);
        sb.Append("</tbody></table></div>");
        foreach (var line in report.Stores)
        {
            sb.Append("<p class=\"note\" data-store=\"").Append(E(line.Store.Value)).Append("\">Store ").Append(E(line.Store.Value)).Append(": ").Append(E(M(line.OnChain))).Append(" on-chain, ")
              .Append(E(M(line.Lightning))).Append(" Lightning.</p>");
        }

        if (report.Items.Count > 0 || !report.Exact)
        {
            sb.Append("<h3>Differences</h3><ul id=\"reconciliation-items\">");
            foreach (var item in report.Items)
            {
                sb.Append("<li data-kind=\"").Append(E(item.Kind)).Append("\">").Append(E(item.Asset.ToString())).Append(" ").Append(E(M(item.Amount))).Append(": <code class=\"wrap\">")
                  .Append(E(item.Reference)).Append("</code> ").Append(E(item.Description)).Append("</li>");
            }

            if (!report.Exact)
            {
                sb.Append("<li data-kind=\"unexplained\">Unexplained: on-chain ").Append(E(M(report.UnexplainedOnChain))).Append(", Lightning ").Append(E(M(report.UnexplainedLightning))).Append("</li>");
            }

            sb.Append("</ul>");
        }

        sb.Append("<p class=\"note\">Amounts are exact millisatoshis: the wallet holds whole satoshis, channels hold msat; the msat a channel close cannot put on chain are booked as operator fees.</p>");
    }
}
