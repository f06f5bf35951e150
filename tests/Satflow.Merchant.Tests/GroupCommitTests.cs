using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Persistence;

namespace Satflow.Merchant.Tests;

/// <summary>SQLite group commit (concurrent writes share a transaction, each fails alone, all durable when awaited) and the auth read cache.</summary>
public sealed class GroupCommitTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "satflow-gc-" + Guid.NewGuid().ToString("N")[..10]);
    private SqliteMerchantRepository _repo = null!;

    public async Task InitializeAsync() => _repo = await SqliteMerchantRepository.OpenInDataDirectoryAsync(_dir);

    public async Task DisposeAsync()
    {
        await _repo.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Concurrent_writes_all_commit_a_duplicate_fails_alone_and_everything_is_durable_once_awaited()
    {
        var writes = Enumerable.Range(0, 400).Select(i => _repo.TryReserveIdempotencyKeyAsync(new IdempotencyRecord("scope", "k" + (i % 300), "h" + i, null, T0))).ToArray();
        var results = await Task.WhenAll(writes);

        // 300 distinct keys: the first write of each reserves it (null), the repeats find the reservation.
        Assert.Equal(300, results.Count(r => r is null));
        Assert.Equal(100, results.Count(r => r is not null));

        // A write that throws inside the batch (completing an unknown key) fails alone; the concurrent ones land.
        var bad = _repo.CompleteIdempotencyKeyAsync("scope", "nope", new IdempotentResponse(201, "application/json", [1]));
        var good = Enumerable.Range(0, 50).Select(i => _repo.CompleteIdempotencyKeyAsync("scope", "k" + i, new IdempotentResponse(201, "application/json", [(byte)i]))).ToArray();
        var e = await Assert.ThrowsAsync<MerchantException>(() => bad);
        Assert.Equal(MerchantErrorReason.InvalidState, e.Reason);
        await Task.WhenAll(good);

        // A second repository on the same file (no shared cache or writer) sees every awaited write.
        await using var other = await SqliteMerchantRepository.OpenInDataDirectoryAsync(_dir);
        for (var i = 0; i < 300; i++)
        {
            var seen = await other.TryReserveIdempotencyKeyAsync(new IdempotencyRecord("scope", "k" + i, "other", null, T0));
            Assert.NotNull(seen);
            Assert.Equal(i < 50 ? 201 : null, seen!.Response?.StatusCode);
        }
    }

    [Fact]
    public async Task A_cancelled_write_is_not_applied()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _repo.TryReserveIdempotencyKeyAsync(new IdempotencyRecord("s", "cancelled", "h", null, T0), cts.Token));
        Assert.Null(await _repo.TryReserveIdempotencyKeyAsync(new IdempotencyRecord("s", "cancelled", "h", null, T0)));
    }

    [Fact]
    public async Task Cached_keys_roles_and_stores_follow_this_repository_s_writes_at_once()
    {
        var owner = new User(UserId.New(), "o@example.com", new PasswordHasher(PasswordHasher.MinimumIterations).Hash("pw-owner"), T0, false);
        var clerk = new User(UserId.New(), "c@example.com", owner.PasswordHash, T0, false);
        await _repo.CreateUserAsync(owner);
        await _repo.CreateUserAsync(clerk);
        var store = new Store(new StoreId("shop"), "Shop", "USD", "", InvoicePolicy.Default, T0);
        Assert.Null(await _repo.GetStoreAsync(store.Id));
        Assert.Null(await _repo.GetStoreRoleAsync(store.Id, owner.Id));
        await _repo.CreateStoreAsync(store, owner.Id);
        Assert.Equal("Shop", (await _repo.GetStoreAsync(store.Id))!.Name);
        Assert.Equal(StoreRole.Owner, await _repo.GetStoreRoleAsync(store.Id, owner.Id));

        await _repo.UpdateStoreAsync(store with { Name = "Renamed" });
        Assert.Equal("Renamed", (await _repo.GetStoreAsync(store.Id))!.Name);

        Assert.Null(await _repo.GetStoreRoleAsync(store.Id, clerk.Id));
        await _repo.SetStoreMemberAsync(new StoreMembership(store.Id, clerk.Id, StoreRole.Employee));
        Assert.Equal(StoreRole.Employee, await _repo.GetStoreRoleAsync(store.Id, clerk.Id));
        await _repo.RemoveStoreMemberAsync(store.Id, clerk.Id);
        Assert.Null(await _repo.GetStoreRoleAsync(store.Id, clerk.Id));

        var key = ApiKeyTokens.Create(owner.Id, "k", [Permission.InvoicesView], null, T0);
        Assert.Null(await _repo.FindApiKeyByHashAsync(key.Record.SecretHash));
        await _repo.CreateApiKeyAsync(key.Record);
        Assert.False((await _repo.FindApiKeyByHashAsync(key.Record.SecretHash))!.IsRevoked);
        await _repo.RevokeApiKeyAsync(key.Record.Id, T0);
        Assert.True((await _repo.FindApiKeyByHashAsync(key.Record.SecretHash))!.IsRevoked);
    }

    [Fact]
    public async Task A_prepared_statement_that_hit_a_constraint_is_reused_cleanly_and_binds_nulls_and_values_alike()
    {
        var hash = new PasswordHasher(PasswordHasher.MinimumIterations).Hash("pw-prepared");
        var first = new User(UserId.New(), "dup@example.com", hash, T0, false);
        await _repo.CreateUserAsync(first);

        // The same INSERT fails inside a batch (unique e-mail, a SQLite constraint error on the cached command) next to
        // writes that succeed; then the cached command runs again for new rows.
        var duplicate = _repo.CreateUserAsync(new User(UserId.New(), "dup@example.com", hash, T0, false));
        var others = Enumerable.Range(0, 20).Select(i => _repo.CreateUserAsync(new User(UserId.New(), $"u{i}@example.com", hash, T0, i % 2 == 0))).ToArray();
        var e = await Assert.ThrowsAsync<MerchantException>(() => duplicate);
        Assert.Equal(MerchantErrorReason.AlreadyExists, e.Reason);
        await Task.WhenAll(others);
        var late = new User(UserId.New(), "late@example.com", hash, T0, true);
        await _repo.CreateUserAsync(late);
        Assert.True((await _repo.GetUserAsync(late.Id))!.IsServerAdmin);
        Assert.False((await _repo.FindUserByEmailAsync("u1@example.com"))!.IsServerAdmin);

        // One statement bound with a null, then a value, then a null again (the API key's store and revocation time).
        var store = new Store(new StoreId("prepared-shop"), "Shop", "USD", "", InvoicePolicy.Default, T0);
        await _repo.CreateStoreAsync(store, first.Id);
        var unrestricted = ApiKeyTokens.Create(first.Id, "a", [Permission.InvoicesView], null, T0);
        var restricted = ApiKeyTokens.Create(first.Id, "b", [Permission.InvoicesView], store.Id, T0);
        var again = ApiKeyTokens.Create(first.Id, "c", [Permission.InvoicesView], null, T0);
        await Task.WhenAll(_repo.CreateApiKeyAsync(unrestricted.Record), _repo.CreateApiKeyAsync(restricted.Record), _repo.CreateApiKeyAsync(again.Record));
        Assert.Null((await _repo.FindApiKeyByHashAsync(unrestricted.Record.SecretHash))!.StoreId);
        Assert.Equal(store.Id, (await _repo.FindApiKeyByHashAsync(restricted.Record.SecretHash))!.StoreId);
        Assert.Null((await _repo.FindApiKeyByHashAsync(again.Record.SecretHash))!.StoreId);

        // Everything is on disk for a second repository on the same file.
        await using var other = await SqliteMerchantRepository.OpenInDataDirectoryAsync(_dir);
        Assert.NotNull(await other.FindUserByEmailAsync("u19@example.com"));
        Assert.Equal(store.Id, (await other.FindApiKeyByHashAsync(restricted.Record.SecretHash))!.StoreId);
    }
}
