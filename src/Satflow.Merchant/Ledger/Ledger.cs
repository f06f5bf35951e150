using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Satflow.Lightning.Types;

namespace Satflow.Merchant.Ledger;

/// <summary>The kinds of ledger account each store has.</summary>
public enum LedgerAccountKind
{
    /// <summary>Asset: the store's share of the on-chain wallet (debit-normal).</summary>
    OnChainWallet,
    /// <summary>Asset: the store's share of Lightning channel balances (debit-normal).</summary>
    Lightning,
    /// <summary>Income: payments received for invoices (credit-normal).</summary>
    Revenue,
    /// <summary>Expense: mining and routing fees paid (debit-normal).</summary>
    Fees,
    /// <summary>Liability: payouts approved but not yet sent (credit-normal).</summary>
    PayoutsPending,
    /// <summary>Equity: withdrawals, corrections and opening balances (credit-normal).</summary>
    Equity,
    /// <summary>
    /// Equity of the node operator's book (<see cref="LedgerBooks.Node"/>): the operator's own money in the node — coinbase
    /// and deposits to the node wallet no invoice owns, pushes received when a peer opens a channel, Lightning payments to
    /// node invoices no store owns — less what the operator took out (credit-normal).
    /// </summary>
    NodeCapital,
    /// <summary>Income of the node operator's book: routing fees earned by forwarding payments (credit-normal).</summary>
    RoutingIncome,
}

/// <summary>Reserved ledger books that are not stores.</summary>
public static class LedgerBooks
{
    /// <summary>
    /// The node operator's book: its <see cref="LedgerAccountKind.OnChainWallet"/> and <see cref="LedgerAccountKind.Lightning"/>
    /// assets, <see cref="LedgerAccountKind.NodeCapital"/>, <see cref="LedgerAccountKind.RoutingIncome"/> and
    /// <see cref="LedgerAccountKind.Fees"/> (on-chain and Lightning fees the operator paid, channel-close fees and msat
    /// remainders). Store ids are random, so this id (with its leading underscore) never names a store.
    /// </summary>
    public static StoreId Node { get; } = new("_node");

    /// <summary>Whether an account belongs to the node operator's book rather than a store.</summary>
    /// <param name="account">The account.</param>
    /// <returns>True for the operator's book.</returns>
    public static bool IsNode(LedgerAccount account) => account.Store == Node;
}

/// <summary>One account of a store's ledger.</summary>
/// <param name="Store">The store.</param>
/// <param name="Kind">The account kind.</param>
public readonly record struct LedgerAccount(StoreId Store, LedgerAccountKind Kind)
{
    /// <summary>Whether the account's balance normally sits on the debit side (assets, expenses).</summary>
    public bool IsDebitNormal => Kind is LedgerAccountKind.OnChainWallet or LedgerAccountKind.Lightning or LedgerAccountKind.Fees;

    /// <inheritdoc/>
    public override string ToString() => $"{Store}:{Kind}";
}

/// <summary>Which side of an account a posting hits.</summary>
public enum PostingSide
{
    /// <summary>Debit (increases assets and expenses).</summary>
    Debit,
    /// <summary>Credit (increases income, liabilities and equity).</summary>
    Credit,
}

/// <summary>One line of a journal entry: a positive integer amount on one side of one account.</summary>
/// <param name="Account">The account.</param>
/// <param name="Side">Debit or credit.</param>
/// <param name="Currency">Currency code; for bitcoin use <see cref="LedgerCurrencies.Bitcoin"/> with millisatoshi units.</param>
/// <param name="Amount">Positive amount in the currency's smallest unit.</param>
public sealed record Posting(LedgerAccount Account, PostingSide Side, string Currency, long Amount)
{
    /// <summary>A bitcoin debit in millisatoshis.</summary>
    /// <param name="account">Account.</param>
    /// <param name="amount">Amount.</param>
    /// <returns>The posting.</returns>
    public static Posting Debit(LedgerAccount account, MilliSatoshi amount) => new(account, PostingSide.Debit, LedgerCurrencies.Bitcoin, ToLong(amount));

    /// <summary>A bitcoin credit in millisatoshis.</summary>
    /// <param name="account">Account.</param>
    /// <param name="amount">Amount.</param>
    /// <returns>The posting.</returns>
    public static Posting Credit(LedgerAccount account, MilliSatoshi amount) => new(account, PostingSide.Credit, LedgerCurrencies.Bitcoin, ToLong(amount));

    /// <summary>Debit minus credit contribution.</summary>
    public long Signed => Side == PostingSide.Debit ? Amount : -Amount;

    private static long ToLong(MilliSatoshi amount)
        => amount.Value <= long.MaxValue ? (long)amount.Value : throw new MerchantException(MerchantErrorReason.AmountOverflow, "Amount too large for the ledger.");
}

/// <summary>Ledger currency codes.</summary>
public static class LedgerCurrencies
{
    /// <summary>Bitcoin, in millisatoshis.</summary>
    public const string Bitcoin = "BTC";
}

/// <summary>An immutable, balanced journal entry: for every currency, debits equal credits.</summary>
public sealed class JournalEntry
{
    private JournalEntry(string id, DateTimeOffset at, string description, ImmutableArray<Posting> postings)
    {
        Id = id;
        At = at;
        Description = description;
        Postings = postings;
    }

    /// <summary>Unique id; posting the same id twice is refused (so retried postings are idempotent).</summary>
    public string Id { get; }

    /// <summary>When the movement happened.</summary>
    public DateTimeOffset At { get; }

    /// <summary>What happened.</summary>
    public string Description { get; }

    /// <summary>The postings (at least two).</summary>
    public ImmutableArray<Posting> Postings { get; }

    /// <summary>The stores the entry touches.</summary>
    public IEnumerable<StoreId> Stores => Postings.Select(p => p.Account.Store).Distinct();

    /// <summary>Creates an entry, checking that it balances per currency.</summary>
    /// <param name="id">Unique id (1–200 characters).</param>
    /// <param name="at">Time.</param>
    /// <param name="description">Description (at most 500 characters).</param>
    /// <param name="postings">At least two postings with positive amounts.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.UnbalancedEntry"/>, <see cref="MerchantErrorReason.AmountOverflow"/> or <see cref="MerchantErrorReason.InvalidArgument"/>.</exception>
    public static JournalEntry Create(string id, DateTimeOffset at, string description, IEnumerable<Posting> postings)
    {
        ArgumentNullException.ThrowIfNull(postings);
        if (string.IsNullOrEmpty(id) || id.Length > 200)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A journal entry id must be 1 to 200 characters.");
        }

        if (description is null || description.Length > 500)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A journal entry description must be at most 500 characters.");
        }

        var list = postings.ToImmutableArray();
        if (list.Length < 2)
        {
            throw new MerchantException(MerchantErrorReason.UnbalancedEntry, "A journal entry needs at least two postings.");
        }

        var sums = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var p in list)
        {
            if (p is null || p.Amount <= 0 || !Rates.CurrencyPair.IsCurrencyCode(p.Currency) || !Enum.IsDefined(p.Side) || !Enum.IsDefined(p.Account.Kind))
            {
                throw new MerchantException(MerchantErrorReason.InvalidArgument, "Every posting needs a positive amount, a currency code, a side and a known account kind.");
            }

            sums.TryGetValue(p.Currency, out var sum);
            try
            {
                sums[p.Currency] = checked(sum + p.Signed);
            }
            catch (OverflowException e)
            {
                throw new MerchantException(MerchantErrorReason.AmountOverflow, "Journal entry amounts overflow.", e);
            }
        }

        foreach (var (currency, sum) in sums)
        {
            if (sum != 0)
            {
                throw new MerchantException(MerchantErrorReason.UnbalancedEntry, string.Create(CultureInfo.InvariantCulture, $"Journal entry {id} does not balance in {currency}: debits - credits = {sum}."));
            }
        }

        return new JournalEntry(id, at, description, list);
    }

    /// <summary>Restores an entry read from storage, re-checking the balance.</summary>
    internal static JournalEntry Restore(string id, DateTimeOffset at, string description, IEnumerable<Posting> postings) => Create(id, at, description, postings);
}

/// <summary>An account's totals in one currency.</summary>
/// <param name="Account">The account.</param>
/// <param name="Currency">The currency.</param>
/// <param name="Debits">Sum of debits.</param>
/// <param name="Credits">Sum of credits.</param>
public sealed record AccountBalance(LedgerAccount Account, string Currency, long Debits, long Credits)
{
    /// <summary>Debits minus credits (positive for a funded asset account).</summary>
    public long Balance => checked(Debits - Credits);

    /// <summary>The balance on the account's normal side (positive for funded assets and earned revenue).</summary>
    public long NormalBalance => Account.IsDebitNormal ? Balance : checked(-Balance);
}

/// <summary>An in-memory double-entry ledger: append-only, idempotent by entry id, balances per account and currency.</summary>
public sealed class MerchantLedger
{
    private readonly Dictionary<string, JournalEntry> _entries = new(StringComparer.Ordinal);
    private readonly List<JournalEntry> _ordered = [];
    private readonly Dictionary<(LedgerAccount, string), (long Debits, long Credits)> _totals = [];

    /// <summary>All entries in posting order.</summary>
    public IReadOnlyList<JournalEntry> Entries => _ordered;

    /// <summary>Posts an entry; an identical id already posted is a no-op returning false.</summary>
    /// <param name="entry">The entry.</param>
    /// <returns>True when newly posted.</returns>
    /// <exception cref="MerchantException">The id was posted with different postings, or totals overflow.</exception>
    public bool Post(JournalEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (_entries.TryGetValue(entry.Id, out var existing))
        {
            return existing.Postings.SequenceEqual(entry.Postings)
                ? false
                : throw new MerchantException(MerchantErrorReason.AlreadyExists, $"Journal entry {entry.Id} was already posted with different postings.");
        }

        var updated = new Dictionary<(LedgerAccount, string), (long Debits, long Credits)>();
        try
        {
            foreach (var p in entry.Postings)
            {
                var key = (p.Account, p.Currency);
                if (!updated.TryGetValue(key, out var t))
                {
                    _totals.TryGetValue(key, out t);
                }

                updated[key] = p.Side == PostingSide.Debit ? (checked(t.Debits + p.Amount), t.Credits) : (t.Debits, checked(t.Credits + p.Amount));
            }
        }
        catch (OverflowException e)
        {
            throw new MerchantException(MerchantErrorReason.AmountOverflow, "Ledger totals overflow.", e);
        }

        foreach (var (k, v) in updated)
        {
            _totals[k] = v;
        }

        _entries.Add(entry.Id, entry);
        _ordered.Add(entry);
        return true;
    }

    /// <summary>Debits minus credits of an account.</summary>
    /// <param name="account">The account.</param>
    /// <param name="currency">The currency.</param>
    /// <returns>The balance.</returns>
    public long Balance(LedgerAccount account, string currency = LedgerCurrencies.Bitcoin)
        => _totals.TryGetValue((account, currency), out var t) ? t.Debits - t.Credits : 0;

    /// <summary>All account balances, optionally of one store.</summary>
    /// <param name="store">The store, or null for all.</param>
    /// <returns>Balances ordered by account.</returns>
    public IReadOnlyList<AccountBalance> Balances(StoreId? store = null)
        => _totals.Where(kv => store is null || kv.Key.Item1.Store == store.Value)
            .Select(kv => new AccountBalance(kv.Key.Item1, kv.Key.Item2, kv.Value.Debits, kv.Value.Credits))
            .OrderBy(b => b.Account.Store.Value, StringComparer.Ordinal).ThenBy(b => b.Account.Kind).ThenBy(b => b.Currency, StringComparer.Ordinal)
            .ToArray();
}

/// <summary>One store's asset balances in a reconciliation.</summary>
/// <param name="Store">The store.</param>
/// <param name="OnChain">On-chain wallet account balance (msat).</param>
/// <param name="Lightning">Lightning account balance (msat).</param>
public sealed record StoreAssetLine(StoreId Store, long OnChain, long Lightning)
{
    /// <summary>On-chain plus Lightning.</summary>
    public long Total => checked(OnChain + Lightning);
}

/// <summary>Which real balance a reconciliation item concerns.</summary>
public enum ReconciliationAsset
{
    /// <summary>The node wallet.</summary>
    OnChain,
    /// <summary>The node's channel balances.</summary>
    Lightning,
}

/// <summary>
/// One known reason why the real balances differ from the ledger right now (for example an on-chain payment to an
/// invoice that has not reached its confirmations, or an HTLC in flight). Items explain a difference; they never make
/// a report exact.
/// </summary>
/// <param name="Kind">A short machine-readable kind (<c>invoice-output-unsettled</c>, <c>htlc-in-flight</c>, …).</param>
/// <param name="Reference">What it is about (outpoint, payment hash, channel id).</param>
/// <param name="Asset">Which real balance it affects.</param>
/// <param name="Amount">Its contribution to real minus ledger, in msat (negative when the real balance is lower).</param>
/// <param name="Description">A sentence.</param>
public sealed record ReconciliationItem(string Kind, string Reference, ReconciliationAsset Asset, long Amount, string Description);

/// <summary>
/// Compares what the ledger says the node holds — the stores' and the node operator's on-chain and Lightning asset
/// accounts, in msat — with what the node actually holds (wallet and channel balances). Differences are exact integers:
/// actual minus ledger. Because every entry balances, the operator's assets equal its capital plus income minus
/// expenses, so an exact report also states
/// <c>sum(store balances) + operator capital + income − expenses == wallet + channels</c>.
/// </summary>
/// <param name="At">Report time.</param>
/// <param name="Stores">Each store's asset balances (the operator's book excluded).</param>
/// <param name="LedgerOnChain">The stores' on-chain asset accounts (the operator's is <see cref="OperatorOnChain"/>).</param>
/// <param name="LedgerLightning">The stores' Lightning asset accounts (the operator's is <see cref="OperatorLightning"/>).</param>
/// <param name="WalletBalance">The wallet's balance (msat, whole sats).</param>
/// <param name="ChannelBalance">The sum of our channel balances (msat).</param>
/// <param name="LedgerImbalance">Debits minus credits over the whole ledger (always 0).</param>
public sealed record ReconciliationReport(
    DateTimeOffset At,
    IReadOnlyList<StoreAssetLine> Stores,
    long LedgerOnChain,
    long LedgerLightning,
    long WalletBalance,
    long ChannelBalance,
    long LedgerImbalance)
{
    /// <summary>Wallet balance minus the ledger's on-chain total (stores' and operator's).</summary>
    public long OnChainDifference => checked(WalletBalance - LedgerOnChain - OperatorOnChain);

    /// <summary>Channel balance minus the ledger's Lightning total (stores' and operator's).</summary>
    public long LightningDifference => checked(ChannelBalance - LedgerLightning - OperatorLightning);

    /// <summary>True when both differences are zero and the ledger itself balances.</summary>
    public bool IsReconciled => OnChainDifference == 0 && LightningDifference == 0 && LedgerImbalance == 0;

    /// <summary>Same as <see cref="IsReconciled"/>: the ledger explains every msat of the wallet and the channels.</summary>
    public bool Exact => IsReconciled;

    /// <summary>The sum of all stores' asset balances.</summary>
    public long StoreTotal { get; init; }

    /// <summary>The operator's on-chain asset account.</summary>
    public long OperatorOnChain { get; init; }

    /// <summary>The operator's Lightning asset account.</summary>
    public long OperatorLightning { get; init; }

    /// <summary>The operator's capital (<see cref="LedgerAccountKind.NodeCapital"/>, with any equity or liability of its book; credit side positive).</summary>
    public long OperatorCapital { get; init; }

    /// <summary>The operator's income (<see cref="LedgerAccountKind.RoutingIncome"/> and any revenue of its book).</summary>
    public long OperatorIncome { get; init; }

    /// <summary>The operator's expenses (on-chain and Lightning fees, close fees, msat remainders).</summary>
    public long OperatorExpenses { get; init; }

    /// <summary>Store balances plus operator capital and income minus its expenses: what the ledger says the node holds.</summary>
    public long LedgerTotal => checked(StoreTotal + OperatorCapital + OperatorIncome - OperatorExpenses);

    /// <summary>Wallet plus channels.</summary>
    public long ActualTotal => checked(WalletBalance + ChannelBalance);

    /// <summary>Actual minus ledger total.</summary>
    public long TotalDifference => checked(ActualTotal - LedgerTotal);

    /// <summary>Known reasons for a difference (unsettled invoice outputs, HTLCs in flight, …); empty when exact.</summary>
    public IReadOnlyList<ReconciliationItem> Items { get; init; } = [];

    /// <summary>The on-chain difference no item explains.</summary>
    public long UnexplainedOnChain => checked(OnChainDifference - Items.Where(i => i.Asset == ReconciliationAsset.OnChain).Sum(i => i.Amount));

    /// <summary>The Lightning difference no item explains.</summary>
    public long UnexplainedLightning => checked(LightningDifference - Items.Where(i => i.Asset == ReconciliationAsset.Lightning).Sum(i => i.Amount));

    /// <summary>Builds the report.</summary>
    /// <param name="balances">Bitcoin account balances of all books (other currencies are ignored).</param>
    /// <param name="walletBalance">The on-chain wallet's balance.</param>
    /// <param name="channelBalance">The sum of local channel balances.</param>
    /// <param name="at">Report time.</param>
    /// <param name="items">Known reasons for a difference, if any.</param>
    /// <returns>The report.</returns>
    public static ReconciliationReport Create(IEnumerable<AccountBalance> balances, MilliSatoshi walletBalance, MilliSatoshi channelBalance, DateTimeOffset at, IReadOnlyList<ReconciliationItem>? items = null)
    {
        ArgumentNullException.ThrowIfNull(balances);
        if (walletBalance.Value > long.MaxValue || channelBalance.Value > long.MaxValue)
        {
            throw new MerchantException(MerchantErrorReason.AmountOverflow, "Balance too large.");
        }

        try
        {
            var btc = balances.Where(b => b.Currency == LedgerCurrencies.Bitcoin).ToArray();
            var node = btc.Where(b => LedgerBooks.IsNode(b.Account)).ToArray();
            var lines = btc.Where(b => !LedgerBooks.IsNode(b.Account)).GroupBy(b => b.Account.Store)
                .Select(g => new StoreAssetLine(
                    g.Key,
                    g.Where(b => b.Account.Kind == LedgerAccountKind.OnChainWallet).Sum(b => b.Balance),
                    g.Where(b => b.Account.Kind == LedgerAccountKind.Lightning).Sum(b => b.Balance)))
                .OrderBy(l => l.Store.Value, StringComparer.Ordinal)
                .ToArray();
            long Sum(LedgerAccountKind kind) => node.Where(b => b.Account.Kind == kind).Sum(b => b.NormalBalance);
            var operatorOnChain = Sum(LedgerAccountKind.OnChainWallet);
            var operatorLightning = Sum(LedgerAccountKind.Lightning);
            return new ReconciliationReport(
                at,
                lines,
                lines.Sum(l => l.OnChain),
                lines.Sum(l => l.Lightning),
                (long)walletBalance.Value,
                (long)channelBalance.Value,
                btc.Sum(b => b.Balance))
            {
                StoreTotal = lines.Sum(l => l.Total),
                OperatorOnChain = operatorOnChain,
                OperatorLightning = operatorLightning,
                OperatorCapital = checked(Sum(LedgerAccountKind.NodeCapital) + Sum(LedgerAccountKind.Equity) + Sum(LedgerAccountKind.PayoutsPending)),
                OperatorIncome = checked(Sum(LedgerAccountKind.RoutingIncome) + Sum(LedgerAccountKind.Revenue)),
                OperatorExpenses = Sum(LedgerAccountKind.Fees),
                Items = items ?? [],
            };
        }
        catch (OverflowException e)
        {
            throw new MerchantException(MerchantErrorReason.AmountOverflow, "Reconciliation totals overflow.", e);
        }
    }

    /// <summary>A plain-text rendering.</summary>
    /// <returns>The report text.</returns>
    public string ToText()
    {
        var sb = new StringBuilder();
        var ic = CultureInfo.InvariantCulture;
        sb.AppendLine(ic, $"Reconciliation at {At:O} (amounts in msat)");
        foreach (var l in Stores)
        {
            sb.AppendLine(ic, $"  store {l.Store}: on-chain {l.OnChain}, lightning {l.Lightning}, total {l.Total}");
        }

        sb.AppendLine(ic, $"  operator: on-chain {OperatorOnChain}, lightning {OperatorLightning}; capital {OperatorCapital}, income {OperatorIncome}, expenses {OperatorExpenses}");
        sb.AppendLine(ic, $"  stores {StoreTotal} + capital {OperatorCapital} + income {OperatorIncome} - expenses {OperatorExpenses} = {LedgerTotal}; wallet + channels = {ActualTotal}; difference {TotalDifference}");
        sb.AppendLine(ic, $"  on-chain: stores {LedgerOnChain} + operator {OperatorOnChain}, wallet {WalletBalance}, difference {OnChainDifference}");
        sb.AppendLine(ic, $"  lightning: stores {LedgerLightning} + operator {OperatorLightning}, channels {ChannelBalance}, difference {LightningDifference}");
        sb.AppendLine(ic, $"  ledger imbalance (debits - credits): {LedgerImbalance}");
        foreach (var i in Items)
        {
            sb.AppendLine(ic, $"  {i.Asset} {i.Kind} {i.Reference}: {i.Amount} ({i.Description})");
        }

        if (!IsReconciled)
        {
            sb.AppendLine(ic, $"  unexplained: on-chain {UnexplainedOnChain}, lightning {UnexplainedLightning}");
        }

        sb.AppendLine(IsReconciled ? "  RECONCILED" : "  NOT RECONCILED");
        return sb.ToString();
    }
}
