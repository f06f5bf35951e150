using Microsoft.Extensions.Time.Testing;
using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Merchant.Rates;

namespace Satflow.Merchant.Tests;

public sealed class MerchantServiceTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "satflow-merchant-svc-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly FakeTimeProvider _time = new(T0);
    private readonly FakeOnChainProvider _chain = new();
    private readonly FakeLightningProvider _lightning = new();
    private SqliteMerchantRepository _repository = null!;
    private MerchantService _service = null!;

    public async Task InitializeAsync()
    {
        _repository = await SqliteMerchantRepository.OpenInDataDirectoryAsync(_directory);
        var invoices = new InvoiceService(_time, new RateRuleEvaluator([RateTableSource.Parse("BTC_USD = 50000")]), [_chain, _lightning]);
        _service = new MerchantService(_repository, invoices, new PasswordHasher(PasswordHasher.MinimumIterations), _time);
    }

    public async Task DisposeAsync()
    {
        await _repository.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Login_accepts_the_right_password_only_and_rehashes_old_parameters()
    {
        var user = await _service.RegisterUserAsync("Alice@Example.com", "s3cret");
        Assert.Equal(user.Id, (await _service.LoginAsync("alice@example.com", "s3cret"))!.Id);
        Assert.Null(await _service.LoginAsync("alice@example.com", "wrong"));
        Assert.Null(await _service.LoginAsync("nobody@example.com", "s3cret"));
        Assert.Null(await _service.LoginAsync("not an email", "s3cret"));

        var upgraded = new MerchantService(_repository, new InvoiceService(_time, new RateRuleEvaluator([]), []), new PasswordHasher(PasswordHasher.MinimumIterations + 5), _time);
        var after = await upgraded.LoginAsync("alice@example.com", "s3cret");
        Assert.Contains("$i=210005$", after!.PasswordHash, StringComparison.Ordinal);
        Assert.Equal(after.PasswordHash, (await _repository.GetUserAsync(user.Id))!.PasswordHash);
    }

    [Fact]
    public async Task Invoice_lifecycle_through_the_service_posts_to_the_ledger_and_reconciles()
    {
        var owner = await _service.RegisterUserAsync("owner@example.com", "pw");
        var store = await _service.CreateStoreAsync(owner.Id, "Shop", "usd");
        var key = await _service.CreateApiKeyAsync(new MerchantPrincipal(owner.Id, null), "pos", [Permission.InvoicesCreate], store.Id);
        var principal = await _service.AuthenticateAsync("token " + key.Token);

        var invoice = await _service.CreateInvoiceAsync(principal, store.Id, new CreateInvoiceRequest(50m));
        Assert.Equal(MilliSatoshi.FromSatoshis(100_000), invoice.AmountDue);
        Assert.Equal(1, invoice.Version);

        var address = invoice.Prompt(PaymentMethodId.OnChain)!.Destination;
        _time.Advance(TimeSpan.FromMinutes(2));
        var seen = await _service.RecordPaymentAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "aa:0", MilliSatoshi.FromSatoshis(60_000), 0, false, _time.GetUtcNow()));
        Assert.Equal([InvoiceEventType.ReceivedPayment], seen!.Events.Select(e => e.Type));
        var hash = invoice.Prompt(PaymentMethodId.Lightning)!.LookupKey;
        var ln = await _service.RecordPaymentAsync(hash, new PaymentObservation(PaymentMethodId.Lightning, hash, MilliSatoshi.FromSatoshis(40_000), 0, true, _time.GetUtcNow()));
        Assert.Equal([InvoiceEventType.ReceivedPayment, InvoiceEventType.PaymentSettled, InvoiceEventType.Processing], ln!.Events.Select(e => e.Type));
        var conf = await _service.RecordPaymentAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "aa:0", MilliSatoshi.FromSatoshis(60_000), 1, false, _time.GetUtcNow()));
        Assert.Equal([InvoiceEventType.PaymentSettled, InvoiceEventType.Settled], conf!.Events.Select(e => e.Type));
        Assert.Null(await _service.RecordPaymentAsync("bcrt1qunknownaddress000", new PaymentObservation(PaymentMethodId.OnChain, "bb:0", MilliSatoshi.FromSatoshis(1), 1, false, _time.GetUtcNow())));

        var report = await _service.ReconcileAsync(MilliSatoshi.FromSatoshis(60_000), MilliSatoshi.FromSatoshis(40_000));
        Assert.True(report.IsReconciled, report.ToText());
        Assert.Equal(-1_000L, (await _service.ReconcileAsync(MilliSatoshi.FromSatoshis(59_999), MilliSatoshi.FromSatoshis(40_000))).OnChainDifference);
        Assert.Equal(InvoiceStatus.Settled, (await _repository.GetInvoiceAsync(invoice.Id))!.Status);
    }

    [Fact]
    public async Task Permissions_are_enforced_by_role_and_key_scope()
    {
        var owner = await _service.RegisterUserAsync("owner@example.com", "pw");
        var guest = await _service.RegisterUserAsync("guest@example.com", "pw");
        var store = await _service.CreateStoreAsync(owner.Id, "Shop", "SATS");
        await _repository.SetStoreMemberAsync(new StoreMembership(store.Id, guest.Id, StoreRole.Guest));

        var viewOnly = await _service.CreateApiKeyAsync(new MerchantPrincipal(owner.Id, null), "ro", [Permission.InvoicesView], null);
        var principal = await _service.AuthenticateAsync("token " + viewOnly.Token);
        Assert.Equal(MerchantErrorReason.Forbidden, (await Assert.ThrowsAsync<MerchantException>(() => _service.CreateInvoiceAsync(principal, store.Id, new CreateInvoiceRequest(5m)))).Reason);

        // A key cannot mint a key with more scopes than it has.
        Assert.Equal(MerchantErrorReason.Forbidden, (await Assert.ThrowsAsync<MerchantException>(() =>
            _service.CreateApiKeyAsync(principal, "escalate", [Permission.InvoicesView, Permission.PayoutsManage], null))).Reason);

        // A guest can create but not view or mark invoices.
        var guestSession = new MerchantPrincipal(guest.Id, null);
        var invoice = await _service.CreateInvoiceAsync(guestSession, store.Id, new CreateInvoiceRequest(5m));
        await Assert.ThrowsAsync<MerchantException>(() => _service.AuthorizeAsync(guestSession, store.Id, Permission.InvoicesView));
        await Assert.ThrowsAsync<MerchantException>(() => _service.MarkInvoiceAsync(guestSession, invoice.Id, settled: true));
        var marked = await _service.MarkInvoiceAsync(new MerchantPrincipal(owner.Id, null), invoice.Id, settled: true);
        Assert.True(marked.Events.Single().ManuallyMarked);

        // Store-restricted keys need membership.
        var stranger = await _service.RegisterUserAsync("stranger@example.com", "pw");
        await Assert.ThrowsAsync<MerchantException>(() => _service.CreateApiKeyAsync(new MerchantPrincipal(stranger.Id, null), "x", [Permission.InvoicesView], store.Id));
    }

    [Fact]
    public async Task Keys_are_revoked_by_their_owner_only_and_invoices_read_with_view_permission()
    {
        var owner = await _service.RegisterUserAsync("owner@example.com", "pw");
        var other = await _service.RegisterUserAsync("other@example.com", "pw");
        var store = await _service.CreateStoreAsync(owner.Id, "Shop", "SATS");
        var session = new MerchantPrincipal(owner.Id, null);
        var key = await _service.CreateApiKeyAsync(session, "k", [Permission.InvoicesView, Permission.InvoicesCreate], store.Id);
        var byKey = await _service.AuthenticateAsync("token " + key.Token);

        var invoice = await _service.CreateInvoiceAsync(byKey, store.Id, new CreateInvoiceRequest(10m));
        Assert.Equal(invoice.Id, (await _service.GetInvoiceAsync(byKey, invoice.Id)).Id);
        Assert.Equal([invoice.Id], (await _service.ListInvoicesAsync(byKey, store.Id, new InvoiceQuery())).Select(i => i.Id));
        await Assert.ThrowsAsync<MerchantException>(() => _service.GetInvoiceAsync(new MerchantPrincipal(other.Id, null), invoice.Id));
        Assert.Equal(MerchantErrorReason.NotFound, (await Assert.ThrowsAsync<MerchantException>(() => _service.GetInvoiceAsync(session, new InvoiceId("nope")))).Reason);

        Assert.Equal(MerchantErrorReason.NotFound, (await Assert.ThrowsAsync<MerchantException>(() =>
            _service.RevokeApiKeyAsync(new MerchantPrincipal(other.Id, null), key.Record.Id))).Reason);
        Assert.True(await _service.RevokeApiKeyAsync(session, key.Record.Id));
        Assert.False(await _service.RevokeApiKeyAsync(session, key.Record.Id));
        Assert.Equal(AuthenticationFailure.Revoked, (await Assert.ThrowsAsync<ApiKeyAuthenticationException>(() => _service.AuthenticateAsync("token " + key.Token))).Failure);
    }

    [Fact]
    public async Task Tick_expires_and_invalidates_and_reports_events()
    {
        var owner = await _service.RegisterUserAsync("owner@example.com", "pw");
        var store = await _service.CreateStoreAsync(owner.Id, "Shop", "SATS");
        var session = new MerchantPrincipal(owner.Id, null);
        var unpaid = await _service.CreateInvoiceAsync(session, store.Id, new CreateInvoiceRequest(1000m));
        var processing = await _service.CreateInvoiceAsync(session, store.Id, new CreateInvoiceRequest(1000m));
        await _service.RecordPaymentAsync(processing.Prompt(PaymentMethodId.OnChain)!.Destination,
            new PaymentObservation(PaymentMethodId.OnChain, "cc:1", MilliSatoshi.FromSatoshis(1000), 0, false, _time.GetUtcNow()));

        Assert.Empty(await _service.TickAsync());
        _time.Advance(InvoicePolicy.Default.InvoiceExpiry);
        var expired = Assert.Single(await _service.TickAsync());
        Assert.Equal((unpaid.Id, InvoiceEventType.Expired), (expired.InvoiceId, expired.Events.Single().Type));

        _time.Advance(InvoicePolicy.Default.MonitoringWindow + TimeSpan.FromSeconds(1));
        var invalid = Assert.Single(await _service.TickAsync());
        Assert.Equal((processing.Id, InvoiceEventType.Invalid), (invalid.InvoiceId, invalid.Events.Single().Type));
        Assert.Empty(await _repository.ListMonitoredInvoicesAsync(_time.GetUtcNow()));
    }
}
