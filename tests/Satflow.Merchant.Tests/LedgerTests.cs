using Satflow.Lightning.Types;
using Satflow.Merchant.Ledger;

namespace Satflow.Merchant.Tests;

public sealed class LedgerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly StoreId A = new("storea");
    private static readonly StoreId B = new("storeb");

    private static LedgerAccount Acc(StoreId s, LedgerAccountKind k) => new(s, k);

    [Fact]
    public void Unbalanced_or_malformed_entries_are_refused()
    {
        var wallet = Acc(A, LedgerAccountKind.OnChainWallet);
        var revenue = Acc(A, LedgerAccountKind.Revenue);
        Assert.Equal(MerchantErrorReason.UnbalancedEntry, Assert.Throws<MerchantException>(() =>
            JournalEntry.Create("e", T0, "", [Posting.Debit(wallet, new MilliSatoshi(10)), Posting.Credit(revenue, new MilliSatoshi(9))])).Reason);
        Assert.Equal(MerchantErrorReason.UnbalancedEntry, Assert.Throws<MerchantException>(() =>
            JournalEntry.Create("e", T0, "", [Posting.Debit(wallet, new MilliSatoshi(10))])).Reason);
        // Balanced in total but not per currency.
        Assert.Equal(MerchantErrorReason.UnbalancedEntry, Assert.Throws<MerchantException>(() => JournalEntry.Create("e", T0, "",
            [new Posting(wallet, PostingSide.Debit, "BTC", 5), new Posting(revenue, PostingSide.Credit, "USD", 5)])).Reason);
        Assert.Equal(MerchantErrorReason.InvalidArgument, Assert.Throws<MerchantException>(() => JournalEntry.Create("e", T0, "",
            [new Posting(wallet, PostingSide.Debit, "BTC", 0), new Posting(revenue, PostingSide.Credit, "BTC", 0)])).Reason);
        Assert.Equal(MerchantErrorReason.InvalidArgument, Assert.Throws<MerchantException>(() => JournalEntry.Create("", T0, "",
            [Posting.Debit(wallet, new MilliSatoshi(1)), Posting.Credit(revenue, new MilliSatoshi(1))])).Reason);
        Assert.Equal(MerchantErrorReason.AmountOverflow, Assert.Throws<MerchantException>(() => JournalEntry.Create("e", T0, "",
            [new Posting(wallet, PostingSide.Debit, "BTC", long.MaxValue), new Posting(wallet, PostingSide.Debit, "BTC", long.MaxValue),
             new Posting(revenue, PostingSide.Credit, "BTC", 1)])).Reason);
    }

    [Fact]
    public void Posting_is_idempotent_by_id_and_refuses_a_changed_replay()
    {
        var ledger = new MerchantLedger();
        var e = JournalEntry.Create("p1", T0, "pay", [Posting.Debit(Acc(A, LedgerAccountKind.Lightning), new MilliSatoshi(5)), Posting.Credit(Acc(A, LedgerAccountKind.Revenue), new MilliSatoshi(5))]);
        Assert.True(ledger.Post(e));
        Assert.False(ledger.Post(e));
        var changed = JournalEntry.Create("p1", T0, "pay", [Posting.Debit(Acc(A, LedgerAccountKind.Lightning), new MilliSatoshi(6)), Posting.Credit(Acc(A, LedgerAccountKind.Revenue), new MilliSatoshi(6))]);
        Assert.Equal(MerchantErrorReason.AlreadyExists, Assert.Throws<MerchantException>(() => ledger.Post(changed)).Reason);
        Assert.Equal(5, ledger.Balance(Acc(A, LedgerAccountKind.Lightning)));
        Assert.Equal(-5, ledger.Balance(Acc(A, LedgerAccountKind.Revenue)));
        Assert.Equal(5, ledger.Balances(A).Single(b => b.Account.Kind == LedgerAccountKind.Revenue).NormalBalance);
        Assert.Single(ledger.Entries);
    }

    [Fact]
    public void Reconciliation_reports_exact_differences()
    {
        var ledger = new MerchantLedger();
        ledger.Post(JournalEntry.Create("1", T0, "a", [Posting.Debit(Acc(A, LedgerAccountKind.OnChainWallet), new MilliSatoshi(100_000)), Posting.Credit(Acc(A, LedgerAccountKind.Revenue), new MilliSatoshi(100_000))]));
        ledger.Post(JournalEntry.Create("2", T0, "b", [Posting.Debit(Acc(B, LedgerAccountKind.Lightning), new MilliSatoshi(7_001)), Posting.Credit(Acc(B, LedgerAccountKind.Revenue), new MilliSatoshi(7_001))]));
        ledger.Post(JournalEntry.Create("3", T0, "fee", [Posting.Debit(Acc(B, LedgerAccountKind.Fees), new MilliSatoshi(1)), Posting.Credit(Acc(B, LedgerAccountKind.Lightning), new MilliSatoshi(1))]));

        var ok = ReconciliationReport.Create(ledger.Balances(), new MilliSatoshi(100_000), new MilliSatoshi(7_000), T0);
        Assert.True(ok.IsReconciled);
        Assert.Equal([(A, 100_000L, 0L), (B, 0L, 7_000L)], ok.Stores.Select(s => (s.Store, s.OnChain, s.Lightning)));
        Assert.Contains("RECONCILED", ok.ToText(), StringComparison.Ordinal);

        var off = ReconciliationReport.Create(ledger.Balances(), new MilliSatoshi(99_999), new MilliSatoshi(7_005), T0);
        Assert.False(off.IsReconciled);
        Assert.Equal(-1, off.OnChainDifference);
        Assert.Equal(5, off.LightningDifference);
        Assert.Contains("NOT RECONCILED", off.ToText(), StringComparison.Ordinal);
    }

    private static readonly LedgerAccountKind[] Kinds = Enum.GetValues<LedgerAccountKind>();

    /// <summary>A random balanced entry: random debits, then credits splitting the same total.</summary>
    private static readonly Gen<(int Store, int Kind, bool Debit, long Amount)[]> RandomEntry =
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, Kinds.Length - 1], Gen.Long[1, 1_000_000_000_000]).Array[1, 4]
            .SelectMany(debits => Gen.Select(Gen.Int[0, 2], Gen.Int[0, Kinds.Length - 1]).Array[1, 3].Select(credits =>
            {
                var total = debits.Sum(d => d.Item3);
                var lines = debits.Select(d => (d.Item1, d.Item2, true, d.Item3)).ToList();
                var remaining = total;
                for (var i = 0; i < credits.Length; i++)
                {
                    var share = i == credits.Length - 1 ? remaining : Math.Max(1, remaining / (credits.Length - i + 1));
                    if (share <= 0)
                    {
                        break;
                    }

                    lines.Add((credits[i].Item1, credits[i].Item2, false, share));
                    remaining -= share;
                }

                return lines.ToArray();
            }));

    [Fact]
    public void Random_balanced_entries_keep_the_ledger_balanced_and_reconciliation_exact()
    {
        var stores = new[] { A, B, new StoreId("storec") };
        RandomEntry.Array[1, 25].Sample(entries =>
        {
            var ledger = new MerchantLedger();
            var i = 0;
            foreach (var lines in entries)
            {
                var entry = JournalEntry.Create("e" + i++, T0, "random", lines.Select(l => new Posting(
                    new LedgerAccount(stores[l.Store], Kinds[l.Kind]), l.Debit ? PostingSide.Debit : PostingSide.Credit, LedgerCurrencies.Bitcoin, l.Amount)));
                Assert.Equal(0L, entry.Postings.Sum(p => p.Signed));
                ledger.Post(entry);
            }

            var balances = ledger.Balances();
            Assert.Equal(0L, balances.Sum(b => b.Balance));
            Assert.Equal(balances.Sum(b => b.Debits), balances.Sum(b => b.Credits));
            var onChain = balances.Where(b => b.Account.Kind == LedgerAccountKind.OnChainWallet).Sum(b => b.Balance);
            var lightning = balances.Where(b => b.Account.Kind == LedgerAccountKind.Lightning).Sum(b => b.Balance);
            if (onChain >= 0 && lightning >= 0)
            {
                var report = ReconciliationReport.Create(balances, new MilliSatoshi((ulong)onChain), new MilliSatoshi((ulong)lightning), T0);
                Assert.True(report.IsReconciled);
                var skew = ReconciliationReport.Create(balances, new MilliSatoshi((ulong)onChain + 3), new MilliSatoshi((ulong)lightning), T0);
                Assert.Equal(3, skew.OnChainDifference);
                Assert.False(skew.IsReconciled);
            }
        }, iter: 300);
    }

    [Fact]
    public void Random_unbalanced_postings_are_always_refused()
    {
        Gen.Select(Gen.Long[1, 1_000_000], Gen.Long[1, 1_000_000]).Where((d, c) => d != c).Sample((d, c) =>
        {
            var e = Assert.Throws<MerchantException>(() => JournalEntry.Create("x", T0, "",
                [new Posting(Acc(A, LedgerAccountKind.OnChainWallet), PostingSide.Debit, "BTC", d), new Posting(Acc(A, LedgerAccountKind.Revenue), PostingSide.Credit, "BTC", c)]));
            Assert.Equal(MerchantErrorReason.UnbalancedEntry, e.Reason);
        }, iter: 300);
    }
}
