using Satflow.Lightning.Types;

namespace Satflow.Merchant.Ledger;

/// <summary>
/// The balanced journal entries of the node's own balance movements, each keyed by what moved (an outpoint, a txid, a
/// payment hash, a channel id, a forward), so posting one twice — after a restart or a re-scan — is a no-op. Entries of
/// the operator's money use the <see cref="LedgerBooks.Node"/> book; payouts use the paying store's book. All amounts
/// are in millisatoshis; a method returns null when there is nothing to post (a zero amount).
/// </summary>
public static class NodeLedgerEntries
{
    private static LedgerAccount Node(LedgerAccountKind kind) => new(LedgerBooks.Node, kind);

    /// <summary>
    /// Money arriving in the node wallet that no invoice owns (coinbase, a deposit): debit the operator's on-chain
    /// asset, credit its capital. Id <c>node:deposit:&lt;txid:vout&gt;</c>.
    /// </summary>
    /// <param name="outpoint">The output (txid:vout).</param>
    /// <param name="amount">Its value.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? Deposit(string outpoint, MilliSatoshi amount, DateTimeOffset at)
        => Pair($"node:deposit:{outpoint}", at, $"Deposit to the node wallet {outpoint}", Node(LedgerAccountKind.OnChainWallet), Node(LedgerAccountKind.NodeCapital), amount);

    /// <summary>
    /// The node wallet sending to an address that is neither a channel nor a payout: the operator takes money out.
    /// Id <c>node:withdrawal:&lt;txid:vout&gt;</c>.
    /// </summary>
    /// <param name="outpoint">The paid output (txid:vout).</param>
    /// <param name="amount">Its value.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? Withdrawal(string outpoint, MilliSatoshi amount, DateTimeOffset at)
        => Pair($"node:withdrawal:{outpoint}", at, $"Withdrawal from the node wallet {outpoint}", Node(LedgerAccountKind.NodeCapital), Node(LedgerAccountKind.OnChainWallet), amount);

    /// <summary>
    /// The mining fee of a transaction the node wallet made: debit the payer's fees, credit its on-chain asset. The payer
    /// is the store of an on-chain payout batch, the operator otherwise. Id <c>fee:&lt;txid&gt;</c>.
    /// </summary>
    /// <param name="payer">The paying book (a store or <see cref="LedgerBooks.Node"/>).</param>
    /// <param name="txid">The transaction.</param>
    /// <param name="fee">The fee.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? OnChainFee(StoreId payer, string txid, MilliSatoshi fee, DateTimeOffset at)
        => Pair($"fee:{txid}", at, $"Mining fee of {txid}", new LedgerAccount(payer, LedgerAccountKind.Fees), new LedgerAccount(payer, LedgerAccountKind.OnChainWallet), fee);

    /// <summary>
    /// A channel funding output the node wallet paid: a transfer from the operator's on-chain asset to its Lightning
    /// asset. Id <c>node:funding:&lt;txid:vout&gt;</c>.
    /// </summary>
    /// <param name="outpoint">The funding outpoint.</param>
    /// <param name="capacity">The channel capacity.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? ChannelFunding(string outpoint, MilliSatoshi capacity, DateTimeOffset at)
        => Pair($"node:funding:{outpoint}", at, $"Channel funding {outpoint}", Node(LedgerAccountKind.Lightning), Node(LedgerAccountKind.OnChainWallet), capacity);

    /// <summary>
    /// The balance a channel opened by a peer starts with on our side (its push): debit the operator's Lightning asset,
    /// credit its capital. Id <c>node:channel-open:&lt;channel&gt;</c>.
    /// </summary>
    /// <param name="channelId">The channel id (hex).</param>
    /// <param name="push">Our opening balance.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? PushReceived(string channelId, MilliSatoshi push, DateTimeOffset at)
        => Pair($"node:channel-open:{channelId}", at, $"Opening balance (push) of channel {channelId}", Node(LedgerAccountKind.Lightning), Node(LedgerAccountKind.NodeCapital), push);

    /// <summary>
    /// What we pushed to the peer when we opened a channel (the funding output less our opening balance): debit capital,
    /// credit the Lightning asset. Id <c>node:channel-open:&lt;channel&gt;</c>.
    /// </summary>
    /// <param name="channelId">The channel id (hex).</param>
    /// <param name="push">The amount given away.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? PushSent(string channelId, MilliSatoshi push, DateTimeOffset at)
        => Pair($"node:channel-open:{channelId}", at, $"Push to the peer of channel {channelId}", Node(LedgerAccountKind.NodeCapital), Node(LedgerAccountKind.Lightning), push);

    /// <summary>
    /// A channel's close reaching the wallet: credit the Lightning asset with our last balance (msat), debit the on-chain
    /// asset with what the wallet received (whole sats), and book the rest — our share of the closing fee and the msat
    /// remainder a transaction output cannot carry — as an operator fee (or, should we receive more than our balance,
    /// as capital). Id <c>node:channel-close:&lt;channel&gt;</c>.
    /// </summary>
    /// <param name="channelId">The channel id (hex).</param>
    /// <param name="localBalance">Our balance in the channel when it closed.</param>
    /// <param name="received">What the closing transaction paid the wallet.</param>
    /// <param name="at">When seen.</param>
    /// <param name="txid">The transaction that brought the close to the wallet (named at the end of the description, see <see cref="CloseTransactionOf"/>).</param>
    /// <returns>The entry, or null when both amounts are zero.</returns>
    public static JournalEntry? ChannelClose(string channelId, MilliSatoshi localBalance, MilliSatoshi received, DateTimeOffset at, string? txid = null)
    {
        var postings = new List<Posting>();
        if (localBalance.Value > 0)
        {
            postings.Add(Posting.Credit(Node(LedgerAccountKind.Lightning), localBalance));
        }

        if (received.Value > 0)
        {
            postings.Add(Posting.Debit(Node(LedgerAccountKind.OnChainWallet), received));
        }

        if (localBalance > received)
        {
            postings.Add(Posting.Debit(Node(LedgerAccountKind.Fees), localBalance - received));
        }
        else if (received > localBalance)
        {
            postings.Add(Posting.Credit(Node(LedgerAccountKind.NodeCapital), received - localBalance));
        }

        return postings.Count == 0 ? null : JournalEntry.Create($"node:channel-close:{channelId}", at, $"Close of channel {channelId}" + (txid is null ? "" : CloseTransactionMarker + txid), postings);
    }

    private const string CloseTransactionMarker = " in transaction ";

    /// <summary>The transaction a <see cref="ChannelClose"/> entry names, or null.</summary>
    /// <param name="entry">A posted entry.</param>
    /// <returns>The txid text, or null for another entry or none named.</returns>
    public static string? CloseTransactionOf(JournalEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var at = entry.Description.LastIndexOf(CloseTransactionMarker, StringComparison.Ordinal);
        return entry.Id.StartsWith("node:channel-close:", StringComparison.Ordinal) && at >= 0 ? entry.Description[(at + CloseTransactionMarker.Length)..] : null;
    }

    /// <summary>
    /// A later sweep of a channel already closed (an HTLC output of a force close): what reaches the wallet moves from
    /// the Lightning side (where the HTLC's amount stayed, as it was never part of the channel balance we credited at the
    /// close) to the on-chain side. Id <c>node:sweep:&lt;txid&gt;</c>.
    /// </summary>
    /// <param name="txid">The sweeping transaction.</param>
    /// <param name="received">What it paid the wallet, less any wallet coins it spent.</param>
    /// <param name="at">When seen.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? Sweep(string txid, MilliSatoshi received, DateTimeOffset at)
        => Pair($"node:sweep:{txid}", at, $"Sweep {txid} of a closed channel's output", Node(LedgerAccountKind.OnChainWallet), Node(LedgerAccountKind.Lightning), received);

    /// <summary>
    /// A Lightning payment to a node invoice no store owns: debit the operator's Lightning asset, credit capital.
    /// Id <c>node:ln-received:&lt;hash&gt;</c>.
    /// </summary>
    /// <param name="paymentHash">The payment hash (hex).</param>
    /// <param name="amount">The amount received.</param>
    /// <param name="at">When settled.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? LightningReceived(string paymentHash, MilliSatoshi amount, DateTimeOffset at)
        => Pair($"node:ln-received:{paymentHash}", at, $"Lightning payment received {paymentHash}", Node(LedgerAccountKind.Lightning), Node(LedgerAccountKind.NodeCapital), amount);

    /// <summary>
    /// A Lightning payment the operator sent (not a payout): debit capital with the amount and fees with the routing
    /// fee, credit the Lightning asset with both. Id <c>node:ln-sent:&lt;hash&gt;</c>.
    /// </summary>
    /// <param name="paymentHash">The payment hash (hex).</param>
    /// <param name="amount">The amount delivered.</param>
    /// <param name="fee">The routing fee paid.</param>
    /// <param name="at">When it succeeded.</param>
    /// <returns>The entry, or null when both are zero.</returns>
    public static JournalEntry? LightningSent(string paymentHash, MilliSatoshi amount, MilliSatoshi fee, DateTimeOffset at)
        => Spend($"node:ln-sent:{paymentHash}", at, $"Lightning payment sent {paymentHash}", LedgerBooks.Node, LedgerAccountKind.NodeCapital, LedgerAccountKind.Lightning, amount, fee);

    /// <summary>
    /// A routing fee earned by a settled forward: debit the operator's Lightning asset, credit routing income.
    /// Id <c>node:forward:&lt;key&gt;</c>.
    /// </summary>
    /// <param name="forwardKey">The forward's key (incoming channel and HTLC id).</param>
    /// <param name="fee">The fee earned.</param>
    /// <param name="at">When settled.</param>
    /// <returns>The entry, or null for zero.</returns>
    public static JournalEntry? RoutingFee(string forwardKey, MilliSatoshi fee, DateTimeOffset at)
        => Pair($"node:forward:{forwardKey}", at, $"Routing fee of forward {forwardKey}", Node(LedgerAccountKind.Lightning), Node(LedgerAccountKind.RoutingIncome), fee);

    /// <summary>
    /// A store's payout leaving the node: debit the store's equity (the money goes to its owner or customer) with the
    /// amount and its fees with the Lightning routing fee, credit its Lightning or on-chain asset with both. The mining
    /// fee of an on-chain batch is a separate <see cref="OnChainFee"/> entry. Id <c>payout:&lt;payout&gt;:&lt;reference&gt;</c>.
    /// </summary>
    /// <param name="store">The paying store.</param>
    /// <param name="payoutId">The payout.</param>
    /// <param name="reference">The payment hash or txid.</param>
    /// <param name="lightning">Lightning (else on-chain).</param>
    /// <param name="amount">The amount delivered.</param>
    /// <param name="fee">The routing fee (zero on-chain).</param>
    /// <param name="at">When it completed.</param>
    /// <returns>The entry, or null when both are zero.</returns>
    public static JournalEntry? StorePayout(StoreId store, string payoutId, string reference, bool lightning, MilliSatoshi amount, MilliSatoshi fee, DateTimeOffset at)
        => Spend($"payout:{payoutId}:{reference}", at, $"Payout {payoutId} ({(lightning ? "Lightning" : "on-chain")} {reference})", store, LedgerAccountKind.Equity,
            lightning ? LedgerAccountKind.Lightning : LedgerAccountKind.OnChainWallet, amount, fee);

    private static JournalEntry? Pair(string id, DateTimeOffset at, string description, LedgerAccount debit, LedgerAccount credit, MilliSatoshi amount)
        => amount.Value == 0 ? null : JournalEntry.Create(id, at, description, [Posting.Debit(debit, amount), Posting.Credit(credit, amount)]);

    private static JournalEntry? Spend(string id, DateTimeOffset at, string description, StoreId book, LedgerAccountKind spent, LedgerAccountKind asset, MilliSatoshi amount, MilliSatoshi fee)
    {
        if (amount.Value == 0 && fee.Value == 0)
        {
            return null;
        }

        ulong total;
        try
        {
            total = checked(amount.Value + fee.Value);
        }
        catch (OverflowException e)
        {
            throw new MerchantException(MerchantErrorReason.AmountOverflow, "Payment amount plus fee overflows.", e);
        }

        var postings = new List<Posting>();
        if (amount.Value > 0)
        {
            postings.Add(Posting.Debit(new LedgerAccount(book, spent), amount));
        }

        if (fee.Value > 0)
        {
            postings.Add(Posting.Debit(new LedgerAccount(book, LedgerAccountKind.Fees), fee));
        }

        postings.Add(Posting.Credit(new LedgerAccount(book, asset), new MilliSatoshi(total)));
        return JournalEntry.Create(id, at, description, postings);
    }
}
