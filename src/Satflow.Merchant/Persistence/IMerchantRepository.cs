using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Ledger;

namespace Satflow.Merchant.Persistence;

/// <summary>Filters for listing a store's invoices.</summary>
/// <param name="Status">Only this status, or null.</param>
/// <param name="OrderId">Only this order id, or null.</param>
/// <param name="Skip">Rows to skip (newest first).</param>
/// <param name="Take">Rows to return (1–1000).</param>
public sealed record InvoiceQuery(InvoiceStatus? Status = null, string? OrderId = null, int Skip = 0, int Take = 100);

/// <summary>
/// Everything the merchant domain persists. Implementations: <see cref="SqliteMerchantRepository"/> (default, a file
/// in the data directory) and <see cref="PostgresMerchantRepository"/>. Multi-row changes are atomic; invoice updates
/// use optimistic concurrency on <see cref="Invoice.Version"/>. Errors are <see cref="MerchantException"/>s.
/// </summary>
public interface IMerchantRepository : IIdempotencyStore, IAsyncDisposable
{
    /// <summary>The schema version of the open database.</summary>
    int SchemaVersion { get; }

    /// <summary>Adds a user (<see cref="MerchantErrorReason.AlreadyExists"/> for a taken id or e-mail).</summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task CreateUserAsync(User user, CancellationToken cancellationToken = default);

    /// <summary>Reads a user.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The user or null.</returns>
    Task<User?> GetUserAsync(UserId id, CancellationToken cancellationToken = default);

    /// <summary>Finds a user by e-mail (normalised).</summary>
    /// <param name="email">The e-mail.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The user or null.</returns>
    Task<User?> FindUserByEmailAsync(string email, CancellationToken cancellationToken = default);

    /// <summary>Replaces a user's password hash (after a password change or a rehash on login).</summary>
    /// <param name="id">The user.</param>
    /// <param name="passwordHash">The new hash.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task UpdatePasswordHashAsync(UserId id, string passwordHash, CancellationToken cancellationToken = default);

    /// <summary>Adds a store and makes <paramref name="owner"/> its owner, atomically.</summary>
    /// <param name="store">The store.</param>
    /// <param name="owner">The owner.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task CreateStoreAsync(Store store, UserId owner, CancellationToken cancellationToken = default);

    /// <summary>Reads a store.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The store or null.</returns>
    Task<Store?> GetStoreAsync(StoreId id, CancellationToken cancellationToken = default);

    /// <summary>Replaces a store's settings.</summary>
    /// <param name="store">The store.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task UpdateStoreAsync(Store store, CancellationToken cancellationToken = default);

    /// <summary>Lists the stores a user is a member of.</summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Stores with the user's role.</returns>
    Task<IReadOnlyList<(Store Store, StoreRole Role)>> ListStoresForUserAsync(UserId user, CancellationToken cancellationToken = default);

    /// <summary>Adds or changes a membership; demoting the last owner is refused (<see cref="MerchantErrorReason.InvalidState"/>).</summary>
    /// <param name="membership">The membership.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task SetStoreMemberAsync(StoreMembership membership, CancellationToken cancellationToken = default);

    /// <summary>Removes a membership; removing the last owner is refused.</summary>
    /// <param name="store">The store.</param>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether a membership was removed.</returns>
    Task<bool> RemoveStoreMemberAsync(StoreId store, UserId user, CancellationToken cancellationToken = default);

    /// <summary>A user's role in a store.</summary>
    /// <param name="store">The store.</param>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The role, or null when not a member.</returns>
    Task<StoreRole?> GetStoreRoleAsync(StoreId store, UserId user, CancellationToken cancellationToken = default);

    /// <summary>A store's members.</summary>
    /// <param name="store">The store.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Memberships.</returns>
    Task<IReadOnlyList<StoreMembership>> ListStoreMembersAsync(StoreId store, CancellationToken cancellationToken = default);

    /// <summary>Stores an API key record.</summary>
    /// <param name="key">The record.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>Finds a key by <see cref="ApiKeyTokens.HashToken"/>.</summary>
    /// <param name="secretHash">The hash.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The key or null.</returns>
    Task<ApiKeyRecord?> FindApiKeyByHashAsync(string secretHash, CancellationToken cancellationToken = default);

    /// <summary>A user's keys.</summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The keys.</returns>
    Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(UserId user, CancellationToken cancellationToken = default);

    /// <summary>Revokes a key.</summary>
    /// <param name="id">The key.</param>
    /// <param name="at">Revocation time.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether an unrevoked key was revoked.</returns>
    Task<bool> RevokeApiKeyAsync(ApiKeyId id, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Inserts a new invoice and its payment lookups; sets its version to 1.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task CreateInvoiceAsync(Invoice invoice, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts a new invoice like <see cref="CreateInvoiceAsync(Invoice, CancellationToken)"/> and, when
    /// <paramref name="idempotency"/> has a response renderer registered, completes its reserved key with that response
    /// in the same transaction (a key no longer reserved rolls the insert back).
    /// </summary>
    /// <param name="invoice">The invoice.</param>
    /// <param name="idempotency">The idempotent request the invoice is created under, or null.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task CreateInvoiceAsync(Invoice invoice, Idempotency.IdempotentCompletion? idempotency, CancellationToken cancellationToken);

    /// <summary>
    /// Saves a changed invoice and posts ledger entries in one transaction; fails with
    /// <see cref="MerchantErrorReason.ConcurrencyConflict"/> when the stored version differs from <see cref="Invoice.Version"/>.
    /// Increments the version on success.
    /// </summary>
    /// <param name="invoice">The invoice.</param>
    /// <param name="journalEntries">Entries to post with it.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task UpdateInvoiceAsync(Invoice invoice, IReadOnlyList<JournalEntry> journalEntries, CancellationToken cancellationToken = default);

    /// <summary>Reads an invoice.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The invoice or null.</returns>
    Task<Invoice?> GetInvoiceAsync(InvoiceId id, CancellationToken cancellationToken = default);

    /// <summary>Finds the invoice a payment destination belongs to (address, or payment hash hex).</summary>
    /// <param name="method">The method.</param>
    /// <param name="lookupKey">The <see cref="PaymentPrompt.LookupKey"/>.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The invoice or null.</returns>
    Task<Invoice?> FindInvoiceByPaymentDestinationAsync(PaymentMethodId method, string lookupKey, CancellationToken cancellationToken = default);

    /// <summary>Lists a store's invoices, newest first.</summary>
    /// <param name="store">The store.</param>
    /// <param name="query">Filters and paging.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Invoices.</returns>
    Task<IReadOnlyList<Invoice>> ListInvoicesAsync(StoreId store, InvoiceQuery query, CancellationToken cancellationToken = default);

    /// <summary>Invoices that may still change automatically at a time (New, Processing, or Expired within monitoring; not marked).</summary>
    /// <param name="now">The time.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Invoices to tick.</returns>
    Task<IReadOnlyList<Invoice>> ListMonitoredInvoicesAsync(DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Posts journal entries atomically (a duplicate id fails with <see cref="MerchantErrorReason.AlreadyExists"/> and posts nothing).</summary>
    /// <param name="entries">The entries.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task PostJournalEntriesAsync(IReadOnlyList<JournalEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>Account balances, of one store or all.</summary>
    /// <param name="store">The store, or null.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Balances.</returns>
    Task<IReadOnlyList<AccountBalance>> GetBalancesAsync(StoreId? store = null, CancellationToken cancellationToken = default);

    /// <summary>Journal entries in posting order, of entries touching one store or all.</summary>
    /// <param name="store">The store, or null.</param>
    /// <param name="skip">Entries to skip.</param>
    /// <param name="take">Entries to return (1–1000).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Entries.</returns>
    Task<IReadOnlyList<JournalEntry>> ListJournalEntriesAsync(StoreId? store, int skip, int take, CancellationToken cancellationToken = default);
}
