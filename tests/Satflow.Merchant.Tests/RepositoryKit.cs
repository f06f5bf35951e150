using Microsoft.Data.Sqlite;
using Npgsql;
using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Persistence;

namespace Satflow.Merchant.Tests;

/// <summary>The same repository behaviour, run against every provider.</summary>
public abstract class MerchantRepositoryKit : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    protected IMerchantRepository Repo { get; private set; } = null!;

    protected abstract Task<IMerchantRepository> OpenAsync();

    /// <summary>Runs raw SQL against the provider's tables (for immutability and version checks).</summary>
    protected abstract Task<int> ExecuteRawAsync(string sql);

    public async Task InitializeAsync() => Repo = await OpenAsync();

    public virtual async Task DisposeAsync() => await Repo.DisposeAsync();

    private async Task<(User Owner, Store Store)> SeedAsync(string storeId = "shop", string email = "owner@example.com")
    {
        var owner = new User(UserId.New(), email, new PasswordHasher(PasswordHasher.MinimumIterations).Hash("pw-owner"), T0, false);
        await Repo.CreateUserAsync(owner);
        var store = new Store(new StoreId(storeId), "Shop", "USD", "BTC_EUR = BTC_USD * USD_EUR;", InvoicePolicy.Default, T0);
        await Repo.CreateStoreAsync(store, owner.Id);
        return (owner, store);
    }

    [Fact]
    public async Task Schema_is_migrated_to_the_latest_version()
    {
        Assert.Equal(((SqlMerchantRepository)Repo).LatestSchemaVersion, Repo.SchemaVersion);
        Assert.True(Repo.SchemaVersion >= 1);
    }

    [Fact]
    public async Task Users_round_trip_and_emails_are_unique()
    {
        var (owner, _) = await SeedAsync();
        Assert.Equal(owner with { Email = "owner@example.com" }, await Repo.GetUserAsync(owner.Id));
        Assert.Equal(owner.Id, (await Repo.FindUserByEmailAsync("  OWNER@example.com"))!.Id);
        Assert.Null(await Repo.FindUserByEmailAsync("nobody@example.com"));
        Assert.Null(await Repo.GetUserAsync(new UserId("missing")));

        var dup = await Assert.ThrowsAsync<MerchantException>(() => Repo.CreateUserAsync(new User(UserId.New(), "Owner@Example.com", "h", T0, false)));
        Assert.Equal(MerchantErrorReason.AlreadyExists, dup.Reason);

        await Repo.UpdatePasswordHashAsync(owner.Id, "new-hash");
        Assert.Equal("new-hash", (await Repo.GetUserAsync(owner.Id))!.PasswordHash);
        Assert.Equal(MerchantErrorReason.NotFound, (await Assert.ThrowsAsync<MerchantException>(() => Repo.UpdatePasswordHashAsync(new UserId("missing"), "x"))).Reason);
    }

    [Fact]
    public async Task Login_flow_rehashes_on_parameter_change()
    {
        var (owner, _) = await SeedAsync();
        var stronger = new PasswordHasher(PasswordHasher.MinimumIterations + 1);
        var user = await Repo.FindUserByEmailAsync("owner@example.com");
        Assert.Equal(PasswordVerification.SuccessRehashNeeded, stronger.Verify(user!.PasswordHash, "pw-owner"));
        await Repo.UpdatePasswordHashAsync(owner.Id, stronger.Hash("pw-owner"));
        Assert.Equal(PasswordVerification.Success, stronger.Verify((await Repo.GetUserAsync(owner.Id))!.PasswordHash, "pw-owner"));
    }

    [Fact]
    public async Task Stores_and_roles()
    {
        var (owner, store) = await SeedAsync();
        Assert.Equal(store, await Repo.GetStoreAsync(store.Id));
        Assert.Equal(StoreRole.Owner, await Repo.GetStoreRoleAsync(store.Id, owner.Id));

        var updated = store with { Name = "Shop 2", RateRules = "", Policy = new InvoicePolicy(TimeSpan.FromMinutes(30), TimeSpan.FromHours(1), 2.5m, 0) };
        await Repo.UpdateStoreAsync(updated);
        Assert.Equal(updated, await Repo.GetStoreAsync(store.Id));
        await Assert.ThrowsAnyAsync<MerchantException>(() => Repo.UpdateStoreAsync(updated with { RateRules = "BTC_USD = ;" }));
        Assert.Equal(MerchantErrorReason.NotFound, (await Assert.ThrowsAsync<MerchantException>(() => Repo.UpdateStoreAsync(updated with { Id = new StoreId("nope") }))).Reason);
        Assert.Equal(MerchantErrorReason.AlreadyExists, (await Assert.ThrowsAsync<MerchantException>(() => Repo.CreateStoreAsync(store, owner.Id))).Reason);

        var clerk = new User(UserId.New(), "clerk@example.com", "h", T0, false);
        await Repo.CreateUserAsync(clerk);
        await Repo.SetStoreMemberAsync(new StoreMembership(store.Id, clerk.Id, StoreRole.Employee));
        Assert.Equal(StoreRole.Employee, await Repo.GetStoreRoleAsync(store.Id, clerk.Id));
        await Repo.SetStoreMemberAsync(new StoreMembership(store.Id, clerk.Id, StoreRole.Manager));
        Assert.Equal(StoreRole.Manager, await Repo.GetStoreRoleAsync(store.Id, clerk.Id));
        Assert.Equal(2, (await Repo.ListStoreMembersAsync(store.Id)).Count);
        Assert.Equal([(store.Id, StoreRole.Manager)], (await Repo.ListStoresForUserAsync(clerk.Id)).Select(s => (s.Store.Id, s.Role)));

        // The last owner can be neither demoted nor removed.
        Assert.Equal(MerchantErrorReason.InvalidState, (await Assert.ThrowsAsync<MerchantException>(() =>
            Repo.SetStoreMemberAsync(new StoreMembership(store.Id, owner.Id, StoreRole.Manager)))).Reason);
        Assert.Equal(MerchantErrorReason.InvalidState, (await Assert.ThrowsAsync<MerchantException>(() => Repo.RemoveStoreMemberAsync(store.Id, owner.Id))).Reason);
        await Repo.SetStoreMemberAsync(new StoreMembership(store.Id, clerk.Id, StoreRole.Owner));
        Assert.True(await Repo.RemoveStoreMemberAsync(store.Id, owner.Id));
        Assert.Null(await Repo.GetStoreRoleAsync(store.Id, owner.Id));
        Assert.False(await Repo.RemoveStoreMemberAsync(store.Id, owner.Id));

        Assert.Equal(MerchantErrorReason.NotFound, (await Assert.ThrowsAsync<MerchantException>(() =>
            Repo.SetStoreMemberAsync(new StoreMembership(store.Id, new UserId("ghost"), StoreRole.Guest)))).Reason);
    }

    [Fact]
    public async Task Api_keys_are_found_by_hash_and_revoked()
    {
        var (owner, store) = await SeedAsync();
        var created = ApiKeyTokens.Create(owner.Id, "pos terminal", [Permission.InvoicesCreate, Permission.InvoicesView], store.Id, T0);
        await Repo.CreateApiKeyAsync(created.Record);
        var global = ApiKeyTokens.Create(owner.Id, "all", Permissions.All, null, T0);
        await Repo.CreateApiKeyAsync(global.Record);

        var found = await ApiKeyTokens.AuthenticateAsync("token " + created.Token, Repo.FindApiKeyByHashAsync);
        Assert.Equal(created.Record.Id, found.Id);
        Assert.Equal(created.Record.Scopes.Order(), found.Scopes.Order());
        Assert.Equal(store.Id, found.StoreId);
        Assert.Equal(Permissions.All.Order(), (await Repo.FindApiKeyByHashAsync(global.Record.SecretHash))!.Scopes.Order());
        Assert.Null((await Repo.FindApiKeyByHashAsync(global.Record.SecretHash))!.StoreId);
        Assert.Equal(2, (await Repo.ListApiKeysAsync(owner.Id)).Count);

        var principal = new MerchantPrincipal(owner.Id, found);
        Assert.True(principal.IsAllowed(store.Id, await Repo.GetStoreRoleAsync(store.Id, owner.Id), Permission.InvoicesCreate));
        Assert.False(principal.IsAllowed(store.Id, await Repo.GetStoreRoleAsync(store.Id, owner.Id), Permission.PayoutsManage));

        Assert.True(await Repo.RevokeApiKeyAsync(created.Record.Id, T0.AddHours(1)));
        Assert.False(await Repo.RevokeApiKeyAsync(created.Record.Id, T0.AddHours(2)));
        Assert.Equal(T0.AddHours(1), (await Repo.FindApiKeyByHashAsync(created.Record.SecretHash))!.RevokedAt);
        Assert.Equal(AuthenticationFailure.Revoked, (await Assert.ThrowsAsync<ApiKeyAuthenticationException>(() =>
            ApiKeyTokens.AuthenticateAsync("token " + created.Token, Repo.FindApiKeyByHashAsync))).Failure);
    }

    [Fact]
    public Task Idempotency_keys() => IdempotencyTests.Protocol(Repo);

    [Fact]
    public async Task Concurrent_requests_with_one_idempotency_key_process_once()
    {
        const string scope = "key:concurrent";
        var hash = Idempotency.IdempotencyKeys.HashRequest("POST", "/x", "{}"u8);
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                return (await Idempotency.IdempotencyKeys.BeginAsync(Repo, scope, "same", hash, T0)).ShouldProcess ? "process" : "replay";
            }
            catch (Idempotency.IdempotencyConflictException e)
            {
                return e.Conflict.ToString();
            }
        }));
        Assert.Equal(1, outcomes.Count(o => o == "process"));
        Assert.All(outcomes.Where(o => o != "process"), o => Assert.Equal("InProgress", o));
    }

    [Fact]
    public void Migrations_are_numbered_contiguously_from_one()
    {
        var migrations = ((SqlMerchantRepository)Repo).Migrations();
        Assert.Equal(Enumerable.Range(1, migrations.Count), migrations.Select(m => m.Version));
        Assert.All(migrations, m => Assert.False(string.IsNullOrWhiteSpace(m.Sql)));
    }

    [Fact]
    public async Task Completing_an_unreserved_idempotency_key_is_refused()
    {
        var e = await Assert.ThrowsAsync<MerchantException>(() => Repo.CompleteIdempotencyKeyAsync("key:x", "nope", new Idempotency.IdempotentResponse(200, "text/plain", [])));
        Assert.Equal(MerchantErrorReason.InvalidState, e.Reason);
    }

    [Fact]
    public async Task An_invoice_insert_completes_its_idempotency_key_in_the_same_transaction()
    {
        await SeedAsync();
        var response = new Idempotency.IdempotentResponse(201, "application/json", "{\"id\":\"inv1\"}"u8.ToArray());
        // The key is not reserved (or was released): the completion is refused and the invoice insert rolls back with it.
        var unreserved = new Idempotency.IdempotentCompletion("key:x", "k-tx");
        unreserved.RespondWithInvoice(_ => response);
        var e = await Assert.ThrowsAsync<MerchantException>(() => Repo.CreateInvoiceAsync(InvoiceFixtures.New(), unreserved, CancellationToken.None));
        Assert.Equal(MerchantErrorReason.InvalidState, e.Reason);
        Assert.Null(unreserved.Response);
        Assert.Null(await Repo.GetInvoiceAsync(new InvoiceId("inv1")));

        // Reserved: one write inserts the invoice and stores the response; the renderer sees the invoice once.
        Assert.Null(await Repo.TryReserveIdempotencyKeyAsync(new Idempotency.IdempotencyRecord("key:x", "k-tx", "h", null, T0)));
        var completion = new Idempotency.IdempotentCompletion("key:x", "k-tx");
        var rendered = new List<string>();
        completion.RespondWithInvoice(i =>
        {
            rendered.Add(i.Id.Value);
            return response;
        });
        var invoice = InvoiceFixtures.New();
        await Repo.CreateInvoiceAsync(invoice, completion, CancellationToken.None);
        Assert.Equal(["inv1"], rendered);
        Assert.Same(response, completion.Response);
        Assert.Null(completion.TakeInvoiceResponse());
        Assert.NotNull(await Repo.GetInvoiceAsync(invoice.Id));
        var stored = await Repo.TryReserveIdempotencyKeyAsync(new Idempotency.IdempotencyRecord("key:x", "k-tx", "h", null, T0));
        Assert.Equal(201, stored!.Response!.StatusCode);
        Assert.Equal(response.Body, stored.Response.Body);

        // Completed keys are never completed twice (the middleware's own completion would be refused).
        await Assert.ThrowsAsync<MerchantException>(() => Repo.CompleteIdempotencyKeyAsync("key:x", "k-tx", response));
    }

    private static void AssertSameInvoice(Invoice expected, Invoice actual)
    {
        Assert.Equal(Satflow.Merchant.Persistence.InvoiceDocumentProbe.Serialize(expected), Satflow.Merchant.Persistence.InvoiceDocumentProbe.Serialize(actual));
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.PaymentUri, actual.PaymentUri);
    }

    [Fact]
    public async Task Invoices_round_trip_and_are_found_by_destination()
    {
        await SeedAsync();
        var invoice = InvoiceFixtures.New();
        await Repo.CreateInvoiceAsync(invoice);
        Assert.Equal(1, invoice.Version);
        var loaded = await Repo.GetInvoiceAsync(invoice.Id);
        Assert.NotNull(loaded);
        AssertSameInvoice(invoice, loaded);
        Assert.Equal(invoice.RedirectUrl, loaded.RedirectUrl);
        Assert.Equal(invoice.MetadataJson, loaded.MetadataJson);
        Assert.Equal(InvoiceFixtures.Hash, loaded.Prompt(PaymentMethodId.Lightning)!.PaymentHash);

        AssertSameInvoice(invoice, (await Repo.FindInvoiceByPaymentDestinationAsync(PaymentMethodId.OnChain, InvoiceFixtures.Address))!);
        AssertSameInvoice(invoice, (await Repo.FindInvoiceByPaymentDestinationAsync(PaymentMethodId.Lightning, InvoiceFixtures.Hash.ToString()))!);
        Assert.Null(await Repo.FindInvoiceByPaymentDestinationAsync(PaymentMethodId.Lightning, InvoiceFixtures.Address));
        Assert.Null(await Repo.GetInvoiceAsync(new InvoiceId("missing")));

        // The same destination cannot serve two invoices.
        var twin = InvoiceFixtures.New(id: "inv2");
        Assert.Equal(MerchantErrorReason.AlreadyExists, (await Assert.ThrowsAsync<MerchantException>(() => Repo.CreateInvoiceAsync(twin))).Reason);
        Assert.Null(await Repo.GetInvoiceAsync(twin.Id));
        Assert.Equal(MerchantErrorReason.NotFound, (await Assert.ThrowsAsync<MerchantException>(() =>
            Repo.CreateInvoiceAsync(Invoice.Create(new InvoiceId("inv3"), new StoreId("nostore"), new InvoiceAmount(1m, "SATS"), MilliSatoshi.FromSatoshis(1), null,
                InvoicePolicy.Default, null, null, null, [new PaymentPrompt(PaymentMethodId.OnChain, "bcrt1qotheraddress000000", null)], T0)))).Reason);
    }

    [Fact]
    public async Task Payment_and_ledger_posting_are_atomic_with_optimistic_concurrency()
    {
        await SeedAsync();
        var invoice = InvoiceFixtures.New();
        await Repo.CreateInvoiceAsync(invoice);

        var stale = (await Repo.GetInvoiceAsync(invoice.Id))!;
        var update = invoice.RecordPayment(new PaymentObservation(PaymentMethodId.Lightning, InvoiceFixtures.Hash.ToString(), MilliSatoshi.FromSatoshis(100_000), 0, true, T0.AddMinutes(1)), T0.AddMinutes(1));
        var entry = InvoiceService.PaymentEntry(invoice, update.Payment, T0.AddMinutes(1));
        await Repo.UpdateInvoiceAsync(invoice, [entry]);
        Assert.Equal(2, invoice.Version);
        var reloaded = (await Repo.GetInvoiceAsync(invoice.Id))!;
        Assert.Equal(InvoiceStatus.Settled, reloaded.Status);
        AssertSameInvoice(invoice, reloaded);

        // A writer holding version 1 loses, and its ledger entry is not posted.
        stale.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx9:0", MilliSatoshi.FromSatoshis(100_000), 6, false, T0.AddMinutes(2)), T0.AddMinutes(2));
        var staleEntry = InvoiceService.PaymentEntry(stale, stale.Payments[0], T0.AddMinutes(2));
        Assert.Equal(MerchantErrorReason.ConcurrencyConflict, (await Assert.ThrowsAsync<MerchantException>(() => Repo.UpdateInvoiceAsync(stale, [staleEntry]))).Reason);

        // A duplicate journal entry rolls the invoice change back.
        invoice.Tick(T0.AddMinutes(3));
        invoice.MarkInvalid(T0.AddMinutes(3));
        Assert.Equal(MerchantErrorReason.AlreadyExists, (await Assert.ThrowsAsync<MerchantException>(() => Repo.UpdateInvoiceAsync(invoice, [entry]))).Reason);
        Assert.Equal(InvoiceStatus.Settled, (await Repo.GetInvoiceAsync(invoice.Id))!.Status);

        var balances = await Repo.GetBalancesAsync(new StoreId("shop"));
        Assert.Equal(100_000_000L, balances.Single(b => b.Account.Kind == LedgerAccountKind.Lightning).Balance);
        Assert.Equal(100_000_000L, balances.Single(b => b.Account.Kind == LedgerAccountKind.Revenue).NormalBalance);
        Assert.DoesNotContain(balances, b => b.Account.Kind == LedgerAccountKind.OnChainWallet);

        var report = ReconciliationReport.Create(await Repo.GetBalancesAsync(), MilliSatoshi.Zero, MilliSatoshi.FromSatoshis(100_000), T0);
        Assert.True(report.IsReconciled, report.ToText());
    }

    [Fact]
    public async Task Concurrent_payments_on_one_invoice_all_land_once_through_retries()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        var invoices = new InvoiceService(time, new Rates.RateRuleEvaluator([Rates.RateTableSource.Parse("BTC_USD = 50000")]), [new FakeOnChainProvider(), new FakeLightningProvider()]);
        var service = new MerchantService(Repo, invoices, new PasswordHasher(PasswordHasher.MinimumIterations), time);
        var (owner, store) = await SeedAsync();
        var invoice = await service.CreateInvoiceAsync(new MerchantPrincipal(owner.Id, null), store.Id, new CreateInvoiceRequest(100_000m, "SATS"));
        var address = invoice.Prompt(PaymentMethodId.OnChain)!.Destination;

        await Task.WhenAll(Enumerable.Range(0, 5).Select(i => service.RecordPaymentAsync(address,
            new PaymentObservation(PaymentMethodId.OnChain, $"tx{i}:0", MilliSatoshi.FromSatoshis(20_000), 1, false, T0))));

        var final = (await Repo.GetInvoiceAsync(invoice.Id))!;
        Assert.Equal(5, final.Payments.Count);
        Assert.Equal(InvoiceStatus.Settled, final.Status);
        Assert.Equal(5, (await Repo.ListJournalEntriesAsync(store.Id, 0, 100)).Count);
        Assert.True((await service.ReconcileAsync(MilliSatoshi.FromSatoshis(100_000), MilliSatoshi.Zero)).IsReconciled);
    }

    [Fact]
    public async Task Invoice_listing_filters_pages_and_monitoring()
    {
        await SeedAsync();
        var invoices = new List<Invoice>();
        for (var i = 0; i < 5; i++)
        {
            var inv = Invoice.Create(new InvoiceId($"inv{i}"), new StoreId("shop"), new InvoiceAmount(1000m, "SATS"), MilliSatoshi.FromSatoshis(1000), null,
                new InvoicePolicy(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(60), 0m, 1), i % 2 == 0 ? "even" : "odd", null, null,
                [new PaymentPrompt(PaymentMethodId.OnChain, $"bcrt1qlistingaddress{i:D4}", null)], T0.AddMinutes(i));
            await Repo.CreateInvoiceAsync(inv);
            invoices.Add(inv);
        }

        invoices[0].MarkSettled(T0.AddMinutes(10));
        await Repo.UpdateInvoiceAsync(invoices[0], []);
        invoices[1].Tick(T0.AddMinutes(20));
        await Repo.UpdateInvoiceAsync(invoices[1], []);

        var store = new StoreId("shop");
        Assert.Equal(["inv4", "inv3", "inv2", "inv1", "inv0"], (await Repo.ListInvoicesAsync(store, new InvoiceQuery())).Select(i => i.Id.Value));
        Assert.Equal(["inv3", "inv2"], (await Repo.ListInvoicesAsync(store, new InvoiceQuery(Skip: 1, Take: 2))).Select(i => i.Id.Value));
        Assert.Equal(["inv4", "inv2", "inv0"], (await Repo.ListInvoicesAsync(store, new InvoiceQuery(OrderId: "even"))).Select(i => i.Id.Value));
        Assert.Equal(["inv1"], (await Repo.ListInvoicesAsync(store, new InvoiceQuery(Status: InvoiceStatus.Expired))).Select(i => i.Id.Value));
        Assert.Empty(await Repo.ListInvoicesAsync(new StoreId("other"), new InvoiceQuery()));
        await Assert.ThrowsAsync<MerchantException>(() => Repo.ListInvoicesAsync(store, new InvoiceQuery(Take: 0)));

        // Monitoring: New ones, plus the expired one while its window lasts; never the marked one.
        Assert.Equal(["inv1", "inv2", "inv3", "inv4"], (await Repo.ListMonitoredInvoicesAsync(T0.AddMinutes(30))).Select(i => i.Id.Value));
        Assert.Equal(["inv2", "inv3", "inv4"], (await Repo.ListMonitoredInvoicesAsync(T0.AddMinutes(80))).Select(i => i.Id.Value));
    }

    [Fact]
    public async Task Ledger_entries_post_atomically_and_list_in_order()
    {
        var a = new StoreId("shop");
        var b = new StoreId("shopb");
        await SeedAsync();
        await SeedAsync("shopb", "other@example.com");
        var e1 = JournalEntry.Create("e1", T0, "deposit", [Posting.Debit(new(a, LedgerAccountKind.OnChainWallet), new MilliSatoshi(5_000)), Posting.Credit(new(a, LedgerAccountKind.Equity), new MilliSatoshi(5_000))]);
        var e2 = JournalEntry.Create("e2", T0.AddMinutes(1), "fee", [Posting.Debit(new(a, LedgerAccountKind.Fees), new MilliSatoshi(7)), Posting.Credit(new(a, LedgerAccountKind.OnChainWallet), new MilliSatoshi(7))]);
        var e3 = JournalEntry.Create("e3", T0.AddMinutes(2), "b", [Posting.Debit(new(b, LedgerAccountKind.Lightning), new MilliSatoshi(9)), Posting.Credit(new(b, LedgerAccountKind.Revenue), new MilliSatoshi(9))]);
        await Repo.PostJournalEntriesAsync([e1, e2]);
        await Repo.PostJournalEntriesAsync([e3]);

        // A batch with a duplicate posts nothing.
        var e4 = JournalEntry.Create("e4", T0, "x", [Posting.Debit(new(b, LedgerAccountKind.Lightning), new MilliSatoshi(1)), Posting.Credit(new(b, LedgerAccountKind.Revenue), new MilliSatoshi(1))]);
        Assert.Equal(MerchantErrorReason.AlreadyExists, (await Assert.ThrowsAsync<MerchantException>(() => Repo.PostJournalEntriesAsync([e4, e1]))).Reason);

        var all = await Repo.ListJournalEntriesAsync(null, 0, 100);
        Assert.Equal(["e1", "e2", "e3"], all.Select(e => e.Id));
        Assert.Equal(e2.Postings.ToArray(), all[1].Postings.ToArray());
        Assert.Equal(e2.At, all[1].At);
        Assert.Equal(["e3"], (await Repo.ListJournalEntriesAsync(b, 0, 100)).Select(e => e.Id));
        Assert.Equal(["e2"], (await Repo.ListJournalEntriesAsync(a, 1, 1)).Select(e => e.Id));

        var memory = new MerchantLedger();
        foreach (var e in all)
        {
            memory.Post(e);
        }

        Assert.Equal(memory.Balances().Select(x => (x.Account, x.Currency, x.Debits, x.Credits)), (await Repo.GetBalancesAsync()).Select(x => (x.Account, x.Currency, x.Debits, x.Credits)));
        var report = ReconciliationReport.Create(await Repo.GetBalancesAsync(), new MilliSatoshi(4_993), new MilliSatoshi(9), T0);
        Assert.True(report.IsReconciled, report.ToText());
        Assert.Equal(0L, report.LedgerImbalance);
    }

    [Fact]
    public async Task Node_book_entries_persist_with_their_account_kinds_and_reconcile_exactly()
    {
        await SeedAsync();
        var shop = new StoreId("shop");
        JournalEntry[] entries =
        [
            NodeLedgerEntries.Deposit("aa:0", MilliSatoshi.FromSatoshis(1_000_000), T0)!,
            NodeLedgerEntries.PushReceived("c1", new MilliSatoshi(500_000_123), T0)!,
            NodeLedgerEntries.RoutingFee("c1:0", new MilliSatoshi(17), T0)!,
            NodeLedgerEntries.LightningSent("h1", new MilliSatoshi(1_000), new MilliSatoshi(3), T0)!,
            JournalEntry.Create("payment:i:Lightning:h2", T0, "ln", [Posting.Debit(new(shop, LedgerAccountKind.Lightning), new MilliSatoshi(90_000)), Posting.Credit(new(shop, LedgerAccountKind.Revenue), new MilliSatoshi(90_000))]),
            NodeLedgerEntries.StorePayout(shop, "po", "h3", true, new MilliSatoshi(40_000), new MilliSatoshi(1), T0)!,
        ];
        foreach (var e in entries)
        {
            await Repo.PostJournalEntriesAsync([e]);
        }

        // A restart re-deriving the same movement: the repository refuses the duplicate and nothing changes.
        Assert.Equal(MerchantErrorReason.AlreadyExists, (await Assert.ThrowsAsync<MerchantException>(() =>
            Repo.PostJournalEntriesAsync([NodeLedgerEntries.Deposit("aa:0", MilliSatoshi.FromSatoshis(1_000_000), T0.AddDays(1))!]))).Reason);

        var balances = await Repo.GetBalancesAsync();
        Assert.Contains(balances, b => b.Account == new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.NodeCapital) && b.NormalBalance == 1_000_000_000 + 500_000_123 - 1_000);
        Assert.Contains(balances, b => b.Account == new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.RoutingIncome) && b.NormalBalance == 17);
        var wallet = new MilliSatoshi(1_000_000_000);
        var channels = new MilliSatoshi(500_000_123 + 17 - 1_003 + 90_000 - 40_001);
        var report = ReconciliationReport.Create(balances, wallet, channels, T0);
        Assert.True(report.Exact, report.ToText());
        Assert.Equal(90_000 - 40_001, Assert.Single(report.Stores).Total);
        Assert.Equal(3, report.OperatorExpenses);
        Assert.Equal(entries.Select(e => e.Id), (await Repo.ListJournalEntriesAsync(null, 0, 100)).Select(e => e.Id));
    }

    [Fact]
    public async Task A_corrupt_invoice_document_is_a_typed_storage_error()
    {
        await SeedAsync();
        var invoice = InvoiceFixtures.New();
        await Repo.CreateInvoiceAsync(invoice);
        await ExecuteRawAsync("UPDATE invoices SET document = '{\"Layout\":1,\"Id\":null}'");
        Assert.Equal(MerchantErrorReason.StorageFailure, (await Assert.ThrowsAsync<MerchantException>(() => Repo.GetInvoiceAsync(invoice.Id))).Reason);
        await ExecuteRawAsync("UPDATE invoices SET document = 'not json'");
        Assert.Equal(MerchantErrorReason.StorageFailure, (await Assert.ThrowsAsync<MerchantException>(() => Repo.GetInvoiceAsync(invoice.Id))).Reason);
    }

    [Fact]
    public async Task Postings_are_immutable_in_the_database()
    {
        await SeedAsync();
        await Repo.PostJournalEntriesAsync([JournalEntry.Create("e1", T0, "d", [Posting.Debit(new(new StoreId("shop"), LedgerAccountKind.OnChainWallet), new MilliSatoshi(5)),
            Posting.Credit(new(new StoreId("shop"), LedgerAccountKind.Equity), new MilliSatoshi(5))])]);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => ExecuteRawAsync("UPDATE postings SET amount = 6"));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => ExecuteRawAsync("DELETE FROM postings"));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => ExecuteRawAsync("DELETE FROM journal_entries"));
        Assert.Equal(5L, (await Repo.GetBalancesAsync()).Single(b => b.Account.Kind == LedgerAccountKind.OnChainWallet).Balance);
    }

    [Fact]
    public async Task Reopening_is_idempotent_and_a_newer_schema_is_refused()
    {
        await using (var again = await OpenSameAsync())
        {
            Assert.Equal(Repo.SchemaVersion, again.SchemaVersion);
        }

        await ExecuteRawAsync("INSERT INTO schema_version (id, version) VALUES (99, 99)");
        var e = await Assert.ThrowsAsync<MerchantException>(OpenSameAsync);
        Assert.Equal(MerchantErrorReason.UnsupportedSchemaVersion, e.Reason);
    }

    /// <summary>Opens a second repository on the same database.</summary>
    protected abstract Task<IMerchantRepository> OpenSameAsync();
}

public sealed class SqliteMerchantRepositoryTests : MerchantRepositoryKit
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "satflow-merchant-" + Guid.NewGuid().ToString("N")[..12]);

    protected override async Task<IMerchantRepository> OpenAsync() => await SqliteMerchantRepository.OpenInDataDirectoryAsync(_directory);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    protected override async Task<IMerchantRepository> OpenSameAsync() => await SqliteMerchantRepository.OpenInDataDirectoryAsync(_directory);

    protected override async Task<int> ExecuteRawAsync(string sql)
    {
        await using var c = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteMerchantRepository.DefaultFileName)};Pooling=False");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public void Database_lives_in_the_data_directory()
    {
        Assert.Equal(Path.Combine(_directory, "merchant.db"), ((SqliteMerchantRepository)Repo).Path);
        Assert.True(File.Exists(((SqliteMerchantRepository)Repo).Path));
    }
}

public sealed class PostgresMerchantRepositoryTests(PostgresServerFixture server) : MerchantRepositoryKit, IClassFixture<PostgresServerFixture>
{
    private string? _schema;

    protected override async Task<IMerchantRepository> OpenAsync()
    {
        _schema = server.NewSchema();
        return await PostgresMerchantRepository.OpenAsync(server.ConnectionString, _schema);
    }

    protected override async Task<IMerchantRepository> OpenSameAsync() => await PostgresMerchantRepository.OpenAsync(server.ConnectionString, _schema!);

    protected override async Task<int> ExecuteRawAsync(string sql)
    {
        var builder = new NpgsqlConnectionStringBuilder(server.ConnectionString) { SearchPath = _schema };
        await using var source = NpgsqlDataSource.Create(builder);
        await using var cmd = source.CreateCommand(sql);
        return await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Concurrent_opens_migrate_once()
    {
        var schema = server.NewSchema();
        var repositories = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostgresMerchantRepository.OpenAsync(server.ConnectionString, schema)));
        foreach (var r in repositories)
        {
            Assert.Equal(1, r.SchemaVersion);
            await r.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("Bad")]
    [InlineData("a-b")]
    [InlineData("")]
    [InlineData("x\"; DROP TABLE users; --")]
    public async Task Bad_schema_names_are_refused(string schema)
    {
        var e = await Assert.ThrowsAsync<MerchantException>(() => PostgresMerchantRepository.OpenAsync(server.ConnectionString, schema));
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, e.Reason);
    }
}
