using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Persistence;

namespace Satflow.Merchant;

/// <summary>Events raised on one invoice by one operation (for webhook delivery).</summary>
/// <param name="InvoiceId">The invoice.</param>
/// <param name="StoreId">Its store.</param>
/// <param name="Events">The new events, in order.</param>
public sealed record InvoiceEvents(InvoiceId InvoiceId, StoreId StoreId, IReadOnlyList<InvoiceEvent> Events);

/// <summary>
/// The application façade the server host calls: accounts and login, stores, API keys and authorisation, invoice
/// creation, payment recording (invoice + ledger atomically, retried on concurrent updates), periodic ticks, and the
/// reconciliation report. Reads time only from the <see cref="TimeProvider"/>; starts no threads.
/// </summary>
public sealed class MerchantService
{
    private const int MaxConcurrencyRetries = 5;

    private readonly IMerchantRepository _repository;
    private readonly InvoiceService _invoices;
    private readonly PasswordHasher _hasher;
    private readonly TimeProvider _time;
    private readonly Lazy<string> _dummyHash;

    /// <summary>Creates the service.</summary>
    /// <param name="repository">Persistence.</param>
    /// <param name="invoices">Invoice creation and payment logic.</param>
    /// <param name="hasher">Password hasher (its iteration count is the current policy).</param>
    /// <param name="time">The clock.</param>
    public MerchantService(IMerchantRepository repository, InvoiceService invoices, PasswordHasher hasher, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(invoices);
        ArgumentNullException.ThrowIfNull(hasher);
        ArgumentNullException.ThrowIfNull(time);
        _repository = repository;
        _invoices = invoices;
        _hasher = hasher;
        _time = time;
        _dummyHash = new Lazy<string>(() => hasher.Hash("satflow-dummy-password"));
    }

    /// <summary>Registers a user.</summary>
    /// <param name="email">Login e-mail.</param>
    /// <param name="password">Password.</param>
    /// <param name="isServerAdmin">Server administrator flag.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The user.</returns>
    public async Task<User> RegisterUserAsync(string email, string password, bool isServerAdmin = false, CancellationToken cancellationToken = default)
    {
        var user = new User(UserId.New(), User.NormalizeEmail(email), _hasher.Hash(password), _time.GetUtcNow(), isServerAdmin);
        await _repository.CreateUserAsync(user, cancellationToken).ConfigureAwait(false);
        return user;
    }

    /// <summary>Checks a login; rehashes the password when the stored parameters are outdated.</summary>
    /// <param name="email">Login e-mail.</param>
    /// <param name="password">Password.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The user, or null for an unknown user or a wrong password (indistinguishable, and equally slow).</returns>
    public async Task<User?> LoginAsync(string email, string password, CancellationToken cancellationToken = default)
    {
        User? user;
        try
        {
            user = await _repository.FindUserByEmailAsync(email, cancellationToken).ConfigureAwait(false);
        }
        catch (MerchantException e) when (e.Reason == MerchantErrorReason.InvalidArgument)
        {
            user = null;
        }

        if (user is null)
        {
            _hasher.Verify(_dummyHash.Value, password ?? "");
            return null;
        }

        switch (_hasher.Verify(user.PasswordHash, password ?? ""))
        {
            case PasswordVerification.Success:
                return user;
            case PasswordVerification.SuccessRehashNeeded:
                var rehashed = _hasher.Hash(password!);
                await _repository.UpdatePasswordHashAsync(user.Id, rehashed, cancellationToken).ConfigureAwait(false);
                return user with { PasswordHash = rehashed };
            default:
                return null;
        }
    }

    /// <summary>Creates a store owned by a user.</summary>
    /// <param name="owner">The owner.</param>
    /// <param name="name">Store name.</param>
    /// <param name="defaultCurrency">Default invoice currency.</param>
    /// <param name="rateRules">Rate rules (empty: everything from the rate table).</param>
    /// <param name="policy">Invoice defaults, or null for <see cref="InvoicePolicy.Default"/>.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The store.</returns>
    public async Task<Store> CreateStoreAsync(UserId owner, string name, string defaultCurrency, string rateRules = "", InvoicePolicy? policy = null, CancellationToken cancellationToken = default)
    {
        var store = new Store(StoreId.New(), name, defaultCurrency?.Trim().ToUpperInvariant() ?? "", rateRules ?? "", policy ?? InvoicePolicy.Default, _time.GetUtcNow());
        await _repository.CreateStoreAsync(store, owner, cancellationToken).ConfigureAwait(false);
        return store;
    }

    /// <summary>Creates an API key for the principal's user; a store-restricted key needs membership of that store.</summary>
    /// <param name="principal">Who asks (an API key may only mint keys with a subset of its own scopes).</param>
    /// <param name="label">Label.</param>
    /// <param name="scopes">Scopes.</param>
    /// <param name="storeId">Optional store restriction.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The record and the one-time token.</returns>
    public async Task<CreatedApiKey> CreateApiKeyAsync(MerchantPrincipal principal, string label, IReadOnlyCollection<Permission> scopes, StoreId? storeId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(scopes);
        if (principal.ApiKey is { } parent && (!scopes.All(parent.Scopes.Contains) || (parent.StoreId is { } ps && storeId != ps)))
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, "An API key can only create keys with a subset of its own scopes and store.");
        }

        if (storeId is { } s && await _repository.GetStoreRoleAsync(s, principal.UserId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, $"Not a member of store {s}.");
        }

        var created = ApiKeyTokens.Create(principal.UserId, label, scopes, storeId, _time.GetUtcNow());
        await _repository.CreateApiKeyAsync(created.Record, cancellationToken).ConfigureAwait(false);
        return created;
    }

    /// <summary>Revokes one of the principal's own API keys.</summary>
    /// <param name="principal">Who asks.</param>
    /// <param name="keyId">The key.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether a live key was revoked.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.NotFound"/> when the user has no such key.</exception>
    public async Task<bool> RevokeApiKeyAsync(MerchantPrincipal principal, ApiKeyId keyId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var keys = await _repository.ListApiKeysAsync(principal.UserId, cancellationToken).ConfigureAwait(false);
        if (keys.All(k => k.Id != keyId))
        {
            throw new MerchantException(MerchantErrorReason.NotFound, $"No API key {keyId} for this user.");
        }

        return await _repository.RevokeApiKeyAsync(keyId, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Authenticates an <c>Authorization: token ...</c> header.</summary>
    /// <param name="authorizationHeader">The header value.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The principal.</returns>
    /// <exception cref="ApiKeyAuthenticationException">Typed failure.</exception>
    public async Task<MerchantPrincipal> AuthenticateAsync(string? authorizationHeader, CancellationToken cancellationToken = default)
    {
        var key = await ApiKeyTokens.AuthenticateAsync(authorizationHeader, _repository.FindApiKeyByHashAsync, cancellationToken).ConfigureAwait(false);
        return new MerchantPrincipal(key.UserId, key);
    }

    /// <summary>Throws <see cref="MerchantErrorReason.Forbidden"/> unless the principal holds the permission on the store.</summary>
    /// <param name="principal">Who.</param>
    /// <param name="store">Which store.</param>
    /// <param name="permission">What.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    public async Task AuthorizeAsync(MerchantPrincipal principal, StoreId store, Permission permission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(principal);
        principal.Demand(store, await _repository.GetStoreRoleAsync(store, principal.UserId, cancellationToken).ConfigureAwait(false), permission);
    }

    /// <summary>Creates and stores an invoice (needs <c>invoices.create</c>).</summary>
    /// <param name="principal">Who.</param>
    /// <param name="storeId">The store.</param>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The saved invoice.</returns>
    public async Task<Invoice> CreateInvoiceAsync(MerchantPrincipal principal, StoreId storeId, CreateInvoiceRequest request, CancellationToken cancellationToken = default)
    {
        await AuthorizeAsync(principal, storeId, Permission.InvoicesCreate, cancellationToken).ConfigureAwait(false);
        var store = await _repository.GetStoreAsync(storeId, cancellationToken).ConfigureAwait(false)
            ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No store {storeId}.");
        var invoice = await _invoices.CreateAsync(store, request, cancellationToken).ConfigureAwait(false);
        await _repository.CreateInvoiceAsync(invoice, request.Idempotency, cancellationToken).ConfigureAwait(false);
        return invoice;
    }

    /// <summary>Reads an invoice (needs <c>invoices.view</c> on its store).</summary>
    /// <param name="principal">Who.</param>
    /// <param name="invoiceId">The invoice.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The invoice.</returns>
    /// <exception cref="MerchantException">Not found, or forbidden.</exception>
    public async Task<Invoice> GetInvoiceAsync(MerchantPrincipal principal, InvoiceId invoiceId, CancellationToken cancellationToken = default)
    {
        var invoice = await _repository.GetInvoiceAsync(invoiceId, cancellationToken).ConfigureAwait(false)
            ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No invoice {invoiceId}.");
        await AuthorizeAsync(principal, invoice.StoreId, Permission.InvoicesView, cancellationToken).ConfigureAwait(false);
        return invoice;
    }

    /// <summary>Lists a store's invoices (needs <c>invoices.view</c>).</summary>
    /// <param name="principal">Who.</param>
    /// <param name="storeId">The store.</param>
    /// <param name="query">Filters and paging.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Invoices, newest first.</returns>
    public async Task<IReadOnlyList<Invoice>> ListInvoicesAsync(MerchantPrincipal principal, StoreId storeId, InvoiceQuery query, CancellationToken cancellationToken = default)
    {
        await AuthorizeAsync(principal, storeId, Permission.InvoicesView, cancellationToken).ConfigureAwait(false);
        return await _repository.ListInvoicesAsync(storeId, query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a payment the node saw on a destination: finds the invoice, updates it and posts the ledger entry in one
    /// transaction, re-reading and retrying when another writer got there first.
    /// </summary>
    /// <param name="lookupKey">The destination: address, or payment hash hex.</param>
    /// <param name="observation">What was seen.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The events raised, or null when no invoice owns the destination.</returns>
    public async Task<InvoiceEvents?> RecordPaymentAsync(string lookupKey, PaymentObservation observation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(observation);
        for (var attempt = 0; ; attempt++)
        {
            var invoice = await _repository.FindInvoiceByPaymentDestinationAsync(observation.Method, lookupKey, cancellationToken).ConfigureAwait(false);
            if (invoice is null)
            {
                return null;
            }

            var recording = _invoices.RecordPayment(invoice, observation);
            try
            {
                await _repository.UpdateInvoiceAsync(invoice, recording.JournalEntries, cancellationToken).ConfigureAwait(false);
                return new InvoiceEvents(invoice.Id, invoice.StoreId, recording.Update.Events);
            }
            catch (MerchantException e) when (e.Reason == MerchantErrorReason.ConcurrencyConflict && attempt < MaxConcurrencyRetries)
            {
                // Someone else updated the invoice; read it again and re-apply.
            }
        }
    }

    /// <summary>Applies expiry and monitoring deadlines to every monitored invoice.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Invoices that raised events.</returns>
    public async Task<IReadOnlyList<InvoiceEvents>> TickAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        var result = new List<InvoiceEvents>();
        foreach (var invoice in await _repository.ListMonitoredInvoicesAsync(now, cancellationToken).ConfigureAwait(false))
        {
            var events = invoice.Tick(now);
            if (events.Count == 0)
            {
                continue;
            }

            try
            {
                await _repository.UpdateInvoiceAsync(invoice, [], cancellationToken).ConfigureAwait(false);
                result.Add(new InvoiceEvents(invoice.Id, invoice.StoreId, events));
            }
            catch (MerchantException e) when (e.Reason == MerchantErrorReason.ConcurrencyConflict)
            {
                // Changed concurrently (e.g. a payment); the next tick sees the new version.
            }
        }

        return result;
    }

    /// <summary>Marks an invoice settled or invalid by hand (needs <c>invoices.manage</c>).</summary>
    /// <param name="principal">Who.</param>
    /// <param name="invoiceId">The invoice.</param>
    /// <param name="settled">True to mark settled, false to mark invalid.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The event raised.</returns>
    public async Task<InvoiceEvents> MarkInvoiceAsync(MerchantPrincipal principal, InvoiceId invoiceId, bool settled, CancellationToken cancellationToken = default)
    {
        var invoice = await _repository.GetInvoiceAsync(invoiceId, cancellationToken).ConfigureAwait(false)
            ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No invoice {invoiceId}.");
        await AuthorizeAsync(principal, invoice.StoreId, Permission.InvoicesManage, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var e = settled ? invoice.MarkSettled(now) : invoice.MarkInvalid(now);
        await _repository.UpdateInvoiceAsync(invoice, [], cancellationToken).ConfigureAwait(false);
        return new InvoiceEvents(invoice.Id, invoice.StoreId, [e]);
    }

    /// <summary>Compares all stores' ledger balances with the node's wallet and channel balances.</summary>
    /// <param name="walletBalance">On-chain wallet balance.</param>
    /// <param name="channelBalance">Sum of local channel balances.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The report.</returns>
    public async Task<ReconciliationReport> ReconcileAsync(MilliSatoshi walletBalance, MilliSatoshi channelBalance, CancellationToken cancellationToken = default)
        => ReconciliationReport.Create(await _repository.GetBalancesAsync(null, cancellationToken).ConfigureAwait(false), walletBalance, channelBalance, _time.GetUtcNow());
}
