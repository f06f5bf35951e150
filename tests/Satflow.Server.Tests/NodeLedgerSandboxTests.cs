using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Persistence;
using Satflow.Payments;
using Satflow.Server.Hosting;

namespace Satflow.Server.Tests;

/// <summary>
/// The node reconciler over the sandbox network in process (no web server): the operator's own Lightning payments
/// (received on a node invoice no store owns, sent with a fee), a channel the merchant funds with a push, and its
/// cooperative close — each booked once under its key, the report exact after every step, and a fresh reconciler over
/// the same database (a restart) books nothing.
/// </summary>
[Collection(SandboxCollection.Name)]
public abstract class NodeLedgerSandboxTests() : TempDirectoryTest("satflowd-nodeledger-")
{
    /// <summary>Opens the merchant database the reconciler books into.</summary>
    protected abstract Task<IMerchantRepository> OpenRepositoryAsync(string dataDirectory, CancellationToken cancellationToken);

    private static readonly Script Burn = new Script(OpcodeType.OP_TRUE).WitHash.ScriptPubKey;
    private static async Task<ReconciliationReport> WaitExactAsync(ServerNode node, NodeReconciliation reconciliation, Func<ReconciliationReport, bool>? done = null)
    {
        ReconciliationReport report = null!;
        for (var i = 0; i < 300; i++)
        {
            await node.Host!.SyncNowAsync();
            report = await reconciliation.ReportAsync();
            if (report.Exact && (done?.Invoke(report) ?? true))
            {
                return report;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("not exact in time:\n" + report.ToText());
    }

    private static async Task<string> DumpAsync(Satflow.Node.Hosting.NodeHost host, IMerchantRepository repository)
    {
        var sb = new System.Text.StringBuilder("wallet transactions:\n");
        foreach (var tx in host.Wallet.ListTransactions())
        {
            sb.Append(tx.TxId).Append(" own=").Append(tx.IsOwn).Append(" height=").Append(tx.Height?.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(" fee=").Append(tx.Fee?.Satoshi.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(" in=[")
              .Append(string.Join(",", tx.Transaction.Inputs.Select(i => i.PrevOut.ToString()))).Append("] out=[")
              .Append(string.Join(",", tx.Transaction.Outputs.Select(o => o.Value.Satoshi + (host.Wallet.IsMine(o.ScriptPubKey) ? "(mine)" : "")))).Append("]\n");
        }

        sb.Append("entries:\n");
        foreach (var e in await repository.ListJournalEntriesAsync(null, 0, 1000))
        {
            sb.Append(e.Id).Append(": ").Append(string.Join(" ", e.Postings.Select(p => p.Account.Kind + (p.Side == Satflow.Merchant.Ledger.PostingSide.Debit ? "+" : "-") + p.Amount))).Append('\n');
        }

        foreach (var c in host.Node.ListChannels())
        {
            sb.Append("channel ").Append(c.ChannelId.Value.ToHex()).Append(' ').Append(c.State).Append(" local=").Append(c.LocalBalance.Value).Append(" closing=").Append(host.Node.GetClosingTransactionId(c.ChannelId)).Append('\n');
        }

        return sb.ToString();
    }

    private static async Task<HashSet<string>> EntryIdsAsync(IMerchantRepository repository)
        => (await repository.ListJournalEntriesAsync(null, 0, 1000)).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public async Task Operator_payments_a_funded_channel_and_its_close_are_booked_once_and_reconcile_exactly()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = timeout.Token;
        var options = new ServerOptions { DataDirectory = TempDir, Mode = ServerMode.Sandbox, LightningListen = new IPEndPoint(IPAddress.Loopback, 0), SandboxBlockInterval = TimeSpan.FromSeconds(2) };
        await using var node = new ServerNode();
        await node.StartAsync(options, NullLogger.Instance, ct);
        var host = node.Host!;
        var sandbox = node.Sandbox!;
        var devnet = node.Chain!.Devnet!.Chain;
        await using var repository = await OpenRepositoryAsync(TempDir, ct);
        using var reconciliation = new NodeReconciliation(node, repository, TimeProvider.System);

        var start = await WaitExactAsync(node, reconciliation);
        Assert.Equal(2 * 1_000_000_000L, start.OperatorLightning); // the two pushes
        Assert.Equal(start.ActualTotal, start.OperatorCapital);

        // The operator's own Lightning: a node invoice no store owns is paid to it (capital), and it pays a customer.
        var tip = await host.Node.CreateInvoiceAsync(new MilliSatoshi(12_345_678), "tip for the operator", cancellationToken: ct);
        Assert.True((await sandbox.PayLightningAsync(tip.Bolt11, ct)).Succeeded);
        var bill = await sandbox.Customers[1].Node.CreateInvoiceAsync(new MilliSatoshi(7_000_123), "the operator's bill", cancellationToken: ct);
        var sent = await host.Node.PayInvoiceAsync(bill.Bolt11, null, ct);
        if (sent.State == OutgoingPaymentState.Pending)
        {
            sent = await host.Node.WaitForPaymentAsync(sent.PaymentHash, ct);
        }

        Assert.Equal(OutgoingPaymentState.Succeeded, sent.State);
        var fee = (long)(sent.Fee ?? MilliSatoshi.Zero).Value;
        var afterPayments = await WaitExactAsync(node, reconciliation, r => r.OperatorCapital == start.OperatorCapital + 12_345_678 - 7_000_123);
        Assert.Equal(start.OperatorExpenses + fee, afterPayments.OperatorExpenses);
        var ids = await EntryIdsAsync(repository);
        Assert.Contains("node:ln-received:" + tip.PaymentHash, ids);
        Assert.Contains("node:ln-sent:" + sent.PaymentHash, ids);

        // The merchant funds a channel to the second customer and pushes 20,000.5 sat to it.
        var temporary = await host.Node.OpenChannelAsync(sandbox.Customers[1].NodeId, Money.Satoshis(300_000), new MilliSatoshi(20_000_500), ct);
        var channelId = await host.Node.WaitForChannelAsync(temporary, ct);
        var opened = await WaitExactAsync(node, reconciliation, r => r.OperatorCapital == afterPayments.OperatorCapital - 20_000_500 && r.OperatorExpenses > afterPayments.OperatorExpenses);
        var funding = host.Node.GetChannel(channelId)!.FundingOutPoint;
        var fundingFee = host.Wallet.GetTransaction(funding.Hash)!.Fee!.Satoshi * 1000;
        Assert.Equal(afterPayments.OperatorExpenses + fundingFee, opened.OperatorExpenses);
        ids = await EntryIdsAsync(repository);
        Assert.Contains("node:funding:" + funding, ids);
        Assert.Contains("fee:" + funding.Hash, ids);
        Assert.Contains("node:channel-open:" + channelId.Value.ToHex(), ids);

        for (var i = 0; i < 300 && host.Node.GetChannel(channelId)!.State != ChannelState.Normal; i++)
        {
            await devnet.MineBlocksAsync(1, Burn, ct);
            await host.SyncNowAsync(ct);
            await sandbox.Customers[1].SyncNowAsync(ct);
            await Task.Delay(200, ct);
        }

        Assert.Equal(ChannelState.Normal, host.Node.GetChannel(channelId)!.State);
        var local = (long)host.Node.GetChannel(channelId)!.LocalBalance.Value;
        Assert.Equal(300_000_000 - 20_000_500, local);

        // A cooperative close: the channel's 279,999,500 msat leave the Lightning side; the closing output carries whole
        // sats, so our share of the closing fee and the 500 msat remainder are the operator's expenses.
        await host.Node.CloseChannelAsync(channelId, force: false, ct);
        ReconciliationReport closed = null!;
        for (var i = 0; i < 100 && closed is null; i++)
        {
            await devnet.MineBlocksAsync(1, Burn, ct);
            var report = await WaitExactAsync(node, reconciliation);
            if ((await EntryIdsAsync(repository)).Contains("node:channel-close:" + channelId.Value.ToHex()))
            {
                closed = report;
            }
        }

        Assert.NotNull(closed);
        var closingTx = host.Wallet.GetTransaction(host.Node.GetClosingTransactionId(channelId)!)!;
        var received = closingTx.Transaction.Outputs.Where(o => host.Wallet.IsMine(o.ScriptPubKey)).Sum(o => o.Value.Satoshi) * 1000;
        Assert.Equal(opened.OperatorExpenses + (local - received), closed.OperatorExpenses);
        Assert.Equal(500, (local - received) % 1000);
        Assert.Equal(opened.OperatorCapital, closed.OperatorCapital);

        // A force close of a second funded channel: the balance stays on the Lightning side until the node sweeps our
        // output (after to_self_delay); the sweep reaching the wallet closes the channel in the ledger, the commitment
        // and sweep fees are the operator's expenses.
        var temporary2 = await host.Node.OpenChannelAsync(sandbox.Customers[0].NodeId, Money.Satoshis(200_000), MilliSatoshi.Zero, ct);
        var forced = await host.Node.WaitForChannelAsync(temporary2, ct);
        for (var i = 0; i < 300 && host.Node.GetChannel(forced)!.State != ChannelState.Normal; i++)
        {
            await devnet.MineBlocksAsync(1, Burn, ct);
            await host.SyncNowAsync(ct);
            await sandbox.Customers[0].SyncNowAsync(ct);
            await Task.Delay(200, ct);
        }

        var beforeForce = await WaitExactAsync(node, reconciliation, r => r.LightningDifference == 0);
        var forcedLocal = (long)host.Node.GetChannel(forced)!.LocalBalance.Value;
        Assert.Equal(200_000_000, forcedLocal);
        await host.Node.CloseChannelAsync(forced, force: true, ct);
        var forcedClose = "node:channel-close:" + forced.Value.ToHex();
        ReconciliationReport swept = null!;
        for (var i = 0; i < 200 && swept is null; i++)
        {
            await devnet.MineBlocksAsync(5, Burn, ct);
            ReconciliationReport report;
            try
            {
                report = await WaitExactAsync(node, reconciliation);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException(e.Message + "\n" + await DumpAsync(host, repository), e);
            }

            if ((await EntryIdsAsync(repository)).Contains(forcedClose))
            {
                swept = await WaitExactAsync(node, reconciliation);
            }
        }

        Assert.NotNull(swept);
        Assert.Equal(beforeForce.OperatorCapital, swept.OperatorCapital);
        Assert.True(swept.OperatorExpenses > beforeForce.OperatorExpenses && swept.OperatorExpenses - beforeForce.OperatorExpenses < forcedLocal / 10, swept.ToText());
        Assert.Equal(beforeForce.ActualTotal - (swept.OperatorExpenses - beforeForce.OperatorExpenses), swept.ActualTotal);

        // A restart: a new reconciler over the same database re-scans everything and books nothing.
        using var again = new NodeReconciliation(node, repository, TimeProvider.System);
        var count = (await repository.ListJournalEntriesAsync(null, 0, 1000)).Count;
        Assert.Equal(0, await again.SyncAsync(ct));
        Assert.Equal(count, (await repository.ListJournalEntriesAsync(null, 0, 1000)).Count);
        Assert.True((await again.ReportAsync(ct)).Exact);
    }
}

/// <summary>The node reconciler booking into SQLite.</summary>
public sealed class SqliteNodeLedgerSandboxTests : NodeLedgerSandboxTests
{
    protected override async Task<IMerchantRepository> OpenRepositoryAsync(string dataDirectory, CancellationToken cancellationToken)
        => await SqliteMerchantRepository.OpenInDataDirectoryAsync(dataDirectory, cancellationToken);
}

/// <summary>The node reconciler booking into a PostgreSQL schema.</summary>
public sealed class PostgresNodeLedgerSandboxTests(PostgresFixture postgres) : NodeLedgerSandboxTests, IClassFixture<PostgresFixture>
{
    protected override async Task<IMerchantRepository> OpenRepositoryAsync(string dataDirectory, CancellationToken cancellationToken)
        => await PostgresMerchantRepository.OpenAsync(postgres.ConnectionString, "nodeledger_" + Guid.NewGuid().ToString("N")[..12], cancellationToken);
}
