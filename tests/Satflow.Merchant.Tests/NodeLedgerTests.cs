using Satflow.Lightning.Types;
using Satflow.Merchant.Ledger;

namespace Satflow.Merchant.Tests;

/// <summary>The operator's book (node capital, routing income, fees) and the keyed node entries: balanced, idempotent, exact.</summary>
public sealed class NodeLedgerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly StoreId Shop = new("shop");
    private static readonly LedgerAccount ShopLightning = new(Shop, LedgerAccountKind.Lightning);
    private static readonly LedgerAccount ShopOnChain = new(Shop, LedgerAccountKind.OnChainWallet);
    private static readonly LedgerAccount ShopRevenue = new(Shop, LedgerAccountKind.Revenue);

    private static MilliSatoshi M(ulong msat) => new(msat);

    /// <summary>
    /// A node's life as the node reconciler books it, with the node's real balances tracked alongside by hand:
    /// a coinbase, a push received, store invoices, a channel we fund (with a mining fee and a push), a store payout
    /// with a routing fee, the operator's own payment, a routing fee earned, and a cooperative close whose output cannot
    /// carry the msat remainder.
    /// </summary>
    private static (List<JournalEntry> Entries, long Wallet, long Channels) Life(DateTimeOffset at)
    {
        var entries = new List<JournalEntry>();
        long wallet = 0, channels = 0;
        void Add(JournalEntry? e) => entries.Add(Assert.IsType<JournalEntry>(e));

        Add(NodeLedgerEntries.Deposit("aa:0", MilliSatoshi.FromSatoshis(5_000_000_000), at));
        wallet += 5_000_000_000_000;
        Add(NodeLedgerEntries.PushReceived("c1", MilliSatoshi.FromSatoshis(1_000_000), at));
        channels += 1_000_000_000;

        // Store invoices (booked by the invoice service, same shape).
        entries.Add(JournalEntry.Create("payment:inv1:Lightning:h1", at, "ln", [Posting.Debit(ShopLightning, M(40_000_123)), Posting.Credit(ShopRevenue, M(40_000_123))]));
        channels += 40_000_123;
        entries.Add(JournalEntry.Create("payment:inv2:OnChain:bb:1", at, "chain", [Posting.Debit(ShopOnChain, M(25_000_000)), Posting.Credit(ShopRevenue, M(25_000_000))]));
        wallet += 25_000_000;

        // We fund a 2,000,000 sat channel (fee 1,410 sat) and push 100,000 sat to the peer.
        Add(NodeLedgerEntries.ChannelFunding("cc:0", MilliSatoshi.FromSatoshis(2_000_000), at));
        Add(NodeLedgerEntries.OnChainFee(LedgerBooks.Node, "cc", MilliSatoshi.FromSatoshis(1_410), at));
        wallet -= 2_000_000_000 + 1_410_000;
        Add(NodeLedgerEntries.PushSent("c2", MilliSatoshi.FromSatoshis(100_000), at));
        channels += 1_900_000_000;

        // A store payout over Lightning with a routing fee, the operator's own payment, a forward's fee.
        Add(NodeLedgerEntries.StorePayout(Shop, "po1", "h2", true, M(10_000_000), M(1_001), at));
        channels -= 10_001_001;
        Add(NodeLedgerEntries.LightningSent("h3", M(5_000_000), M(7), at));
        channels -= 5_000_007;
        Add(NodeLedgerEntries.RoutingFee("c1:4", M(1_234), at));
        channels += 1_234;

        // Channel c2 closes cooperatively holding 1,234,567,891 msat; the closing output pays 1,234,000 sat.
        Add(NodeLedgerEntries.ChannelClose("c2", M(1_234_567_891), MilliSatoshi.FromSatoshis(1_234_000), at));
        channels -= 1_234_567_891;
        wallet += 1_234_000_000;

        // An on-chain payout batch of the store: 20,000 sat out, 300 sat mining fee paid by the store.
        Add(NodeLedgerEntries.StorePayout(Shop, "po2", "dd", false, MilliSatoshi.FromSatoshis(20_000), MilliSatoshi.Zero, at));
        Add(NodeLedgerEntries.OnChainFee(Shop, "dd", MilliSatoshi.FromSatoshis(300), at));
        wallet -= 20_300_000;
        return (entries, wallet, channels);
    }

    [Fact]
    public void Every_node_movement_balances_and_the_report_is_exact_to_the_msat()
    {
        var ledger = new MerchantLedger();
        var (entries, wallet, channels) = Life(T0);
        foreach (var e in entries)
        {
            Assert.Equal(0L, e.Postings.Sum(p => p.Signed));
            Assert.True(ledger.Post(e));
        }

        var report = ReconciliationReport.Create(ledger.Balances(), M((ulong)wallet), M((ulong)channels), T0);
        Assert.True(report.Exact, report.ToText());
        Assert.Equal(0, report.OnChainDifference);
        Assert.Equal(0, report.LightningDifference);
        Assert.Equal(report.ActualTotal, report.LedgerTotal);
        Assert.Equal(wallet + channels, report.StoreTotal + report.OperatorCapital + report.OperatorIncome - report.OperatorExpenses);

        // The store: revenue 65,000,123 less its payouts (10,000,000 + 20,000,000), routing fee 1,001 and mining fee 300,000.
        var store = Assert.Single(report.Stores);
        Assert.Equal(Shop, store.Store);
        Assert.Equal(65_000_123 - 30_000_000 - 1_001 - 300_000, store.Total);
        // The operator: capital = coinbase + push received - push sent - own payment; income = routing fee;
        // expenses = mining fee + routing fee + the close's fee and msat remainder (567,891 msat).
        Assert.Equal(5_000_000_000_000 + 1_000_000_000 - 100_000_000 - 5_000_000, report.OperatorCapital);
        Assert.Equal(1_234, report.OperatorIncome);
        Assert.Equal(1_410_000 + 7 + 567_891, report.OperatorExpenses);
        Assert.Empty(report.Items);
        Assert.Contains("RECONCILED", report.ToText(), StringComparison.Ordinal);
        Assert.DoesNotContain("NOT RECONCILED", report.ToText(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_rescan_after_a_restart_books_nothing_twice()
    {
        var ledger = new MerchantLedger();
        var (first, wallet, channels) = Life(T0);
        foreach (var e in first)
        {
            ledger.Post(e);
        }

        var before = ledger.Balances();
        // The same movements found again later (new timestamps, same keys): every post is a no-op.
        var (again, _, _) = Life(T0.AddHours(5));
        Assert.All(again, e => Assert.False(ledger.Post(e)));
        Assert.Equal(before, ledger.Balances());
        Assert.Equal(first.Count, ledger.Entries.Count);
        Assert.True(ReconciliationReport.Create(ledger.Balances(), M((ulong)wallet), M((ulong)channels), T0).Exact);

        // Ids are keyed by what moved, so the same key with another amount is a conflict, never a second booking.
        Assert.Equal(MerchantErrorReason.AlreadyExists, Assert.Throws<MerchantException>(() =>
            ledger.Post(NodeLedgerEntries.Deposit("aa:0", MilliSatoshi.FromSatoshis(1), T0)!)).Reason);
    }

    [Fact]
    public void Keys_name_what_moved_and_zero_amounts_post_nothing()
    {
        Assert.Equal("node:deposit:tx:1", NodeLedgerEntries.Deposit("tx:1", M(1_000), T0)!.Id);
        Assert.Equal("node:withdrawal:tx:1", NodeLedgerEntries.Withdrawal("tx:1", M(1_000), T0)!.Id);
        Assert.Equal("fee:tx", NodeLedgerEntries.OnChainFee(LedgerBooks.Node, "tx", M(1_000), T0)!.Id);
        Assert.Equal("node:funding:tx:0", NodeLedgerEntries.ChannelFunding("tx:0", M(1_000), T0)!.Id);
        Assert.Equal("node:channel-open:ch", NodeLedgerEntries.PushReceived("ch", M(1), T0)!.Id);
        Assert.Equal("node:channel-open:ch", NodeLedgerEntries.PushSent("ch", M(1), T0)!.Id);
        Assert.Equal("node:channel-close:ch", NodeLedgerEntries.ChannelClose("ch", M(1_500), M(1_000), T0)!.Id);
        Assert.Equal("node:ln-received:h", NodeLedgerEntries.LightningReceived("h", M(1), T0)!.Id);
        Assert.Equal("node:ln-sent:h", NodeLedgerEntries.LightningSent("h", M(1), M(0), T0)!.Id);
        Assert.Equal("node:forward:k", NodeLedgerEntries.RoutingFee("k", M(1), T0)!.Id);
        Assert.Equal("payout:p:h", NodeLedgerEntries.StorePayout(Shop, "p", "h", true, M(1), M(0), T0)!.Id);
        Assert.Equal("node:sweep:tx", NodeLedgerEntries.Sweep("tx", M(1), T0)!.Id);

        // A close names the transaction that brought it to the wallet, so a restart knows which transaction it was.
        Assert.Equal("abc", NodeLedgerEntries.CloseTransactionOf(NodeLedgerEntries.ChannelClose("ch", M(1_500), M(1_000), T0, "abc")!));
        Assert.Null(NodeLedgerEntries.CloseTransactionOf(NodeLedgerEntries.ChannelClose("ch", M(1_500), M(1_000), T0)!));
        Assert.Null(NodeLedgerEntries.CloseTransactionOf(NodeLedgerEntries.Deposit("tx:1", M(1_000), T0)!));

        Assert.Null(NodeLedgerEntries.Deposit("tx:1", M(0), T0));
        Assert.Null(NodeLedgerEntries.OnChainFee(LedgerBooks.Node, "tx", M(0), T0));
        Assert.Null(NodeLedgerEntries.PushReceived("ch", M(0), T0));
        Assert.Null(NodeLedgerEntries.RoutingFee("k", M(0), T0));
        Assert.Null(NodeLedgerEntries.LightningSent("h", M(0), M(0), T0));
        Assert.Null(NodeLedgerEntries.ChannelClose("ch", M(0), M(0), T0));

        // A payment with only a fee, and a close that paid us more than our balance (the excess is capital).
        Assert.Equal(2, NodeLedgerEntries.LightningSent("h", M(0), M(5), T0)!.Postings.Length);
        var generous = NodeLedgerEntries.ChannelClose("ch", M(1_000), M(3_000), T0)!;
        Assert.Contains(generous.Postings, p => p.Account == new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.NodeCapital) && p.Side == PostingSide.Credit && p.Amount == 2_000);
        // A close of a channel we held nothing in but whose output pays us (e.g. anchor change) still balances.
        Assert.Equal(0L, NodeLedgerEntries.ChannelClose("ch", M(0), M(330_000), T0)!.Postings.Sum(p => p.Signed));
        Assert.Equal(MerchantErrorReason.AmountOverflow, Assert.Throws<MerchantException>(() =>
            NodeLedgerEntries.LightningSent("h", M(ulong.MaxValue), M(1), T0)).Reason);
    }

    [Fact]
    public void A_difference_is_listed_line_by_line_with_what_explains_it()
    {
        var ledger = new MerchantLedger();
        var (entries, wallet, channels) = Life(T0);
        foreach (var e in entries)
        {
            ledger.Post(e);
        }

        // 30,000 sat arrived for an invoice that is not settled yet, an HTLC of 7,000 msat is in flight, and 5 msat nobody knows about.
        ReconciliationItem[] items =
        [
            new("invoice-output-unsettled", "ee:0", ReconciliationAsset.OnChain, 30_000_000, "unconfirmed"),
            new("htlc-in-flight", "h9", ReconciliationAsset.Lightning, -7_000, "outgoing"),
        ];
        var report = ReconciliationReport.Create(ledger.Balances(), M((ulong)(wallet + 30_000_000)), M((ulong)(channels - 7_000 + 5)), T0, items);
        Assert.False(report.Exact);
        Assert.Equal(30_000_000, report.OnChainDifference);
        Assert.Equal(-6_995, report.LightningDifference);
        Assert.Equal(0, report.UnexplainedOnChain);
        Assert.Equal(5, report.UnexplainedLightning);
        Assert.Equal(30_000_000 - 6_995, report.TotalDifference);
        var text = report.ToText();
        Assert.Contains("invoice-output-unsettled ee:0: 30000000", text, StringComparison.Ordinal);
        Assert.Contains("unexplained: on-chain 0, lightning 5", text, StringComparison.Ordinal);
        Assert.Contains("NOT RECONCILED", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_operator_book_is_not_a_store_line()
    {
        Assert.True(LedgerBooks.IsNode(new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.Fees)));
        Assert.False(LedgerBooks.IsNode(ShopOnChain));
        var ledger = new MerchantLedger();
        ledger.Post(NodeLedgerEntries.Deposit("aa:0", M(9_000), T0)!);
        var report = ReconciliationReport.Create(ledger.Balances(), M(9_000), M(0), T0);
        Assert.Empty(report.Stores);
        Assert.Equal(0, report.LedgerOnChain);
        Assert.Equal(9_000, report.OperatorOnChain);
        Assert.Equal(9_000, report.OperatorCapital);
        Assert.True(report.Exact);
    }
}
