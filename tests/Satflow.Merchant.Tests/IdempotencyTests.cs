using System.Text;
using Satflow.Merchant.Idempotency;

namespace Satflow.Merchant.Tests;

/// <summary>A dictionary-backed store, to test the protocol apart from the databases (the repository kit covers those).</summary>
internal sealed class MemoryIdempotencyStore : IIdempotencyStore
{
    public Dictionary<(string, string), IdempotencyRecord> Records { get; } = [];

    public Task<IdempotencyRecord?> TryReserveIdempotencyKeyAsync(IdempotencyRecord record, CancellationToken cancellationToken = default)
    {
        if (Records.TryGetValue((record.Scope, record.Key), out var existing))
        {
            return Task.FromResult<IdempotencyRecord?>(existing);
        }

        Records[(record.Scope, record.Key)] = record;
        return Task.FromResult<IdempotencyRecord?>(null);
    }

    public Task CompleteIdempotencyKeyAsync(string scope, string key, IdempotentResponse response, CancellationToken cancellationToken = default)
    {
        Records[(scope, key)] = Records[(scope, key)] with { Response = response };
        return Task.CompletedTask;
    }

    public Task ReleaseIdempotencyKeyAsync(string scope, string key, CancellationToken cancellationToken = default)
    {
        if (Records.TryGetValue((scope, key), out var r) && r.Response is null)
        {
            Records.Remove((scope, key));
        }

        return Task.CompletedTask;
    }

    public Task<int> PurgeIdempotencyKeysAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        var old = Records.Where(kv => kv.Value.CreatedAt < before).Select(kv => kv.Key).ToArray();
        foreach (var k in old)
        {
            Records.Remove(k);
        }

        return Task.FromResult(old.Length);
    }
}

public sealed class IdempotencyTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
    private static readonly string Scope = IdempotencyKeys.ScopeOf(new ApiKeyId("key1"));

    internal static async Task Protocol(IIdempotencyStore store)
    {
        var hash = IdempotencyKeys.HashRequest("POST", "/api/v1/stores/s/invoices", Encoding.UTF8.GetBytes("{\"amount\":1}"));
        var first = await IdempotencyKeys.BeginAsync(store, Scope, "k-1", hash, Now);
        Assert.True(first.ShouldProcess);

        // Same key while the first request runs: in progress.
        Assert.Equal(IdempotencyConflict.InProgress,
            (await Assert.ThrowsAsync<IdempotencyConflictException>(() => IdempotencyKeys.BeginAsync(store, Scope, "k-1", hash, Now))).Conflict);

        var response = new IdempotentResponse(201, "application/json", Encoding.UTF8.GetBytes("{\"id\":\"inv\"}"));
        await store.CompleteIdempotencyKeyAsync(Scope, "k-1", response);

        // Same key + same request → same response.
        var replay = await IdempotencyKeys.BeginAsync(store, Scope, "k-1", hash, Now.AddMinutes(1));
        Assert.False(replay.ShouldProcess);
        Assert.Equal(201, replay.Replay!.StatusCode);
        Assert.Equal(response.Body, replay.Replay.Body);

        // Same key + different request → conflict.
        var other = IdempotencyKeys.HashRequest("POST", "/api/v1/stores/s/invoices", Encoding.UTF8.GetBytes("{\"amount\":2}"));
        Assert.Equal(IdempotencyConflict.DifferentRequest,
            (await Assert.ThrowsAsync<IdempotencyConflictException>(() => IdempotencyKeys.BeginAsync(store, Scope, "k-1", other, Now))).Conflict);

        // Keys are per scope.
        Assert.True((await IdempotencyKeys.BeginAsync(store, IdempotencyKeys.ScopeOf(new UserId("bob")), "k-1", other, Now)).ShouldProcess);

        // A failed request releases its key so the client may retry.
        Assert.True((await IdempotencyKeys.BeginAsync(store, Scope, "k-2", hash, Now)).ShouldProcess);
        await store.ReleaseIdempotencyKeyAsync(Scope, "k-2");
        Assert.True((await IdempotencyKeys.BeginAsync(store, Scope, "k-2", other, Now)).ShouldProcess);

        // Retention.
        Assert.True(await store.PurgeIdempotencyKeysAsync(Now.AddSeconds(1)) >= 3);
        Assert.True((await IdempotencyKeys.BeginAsync(store, Scope, "k-1", other, Now.AddDays(2))).ShouldProcess);
    }

    [Fact]
    public Task Same_key_same_request_replays_and_different_request_conflicts() => Protocol(new MemoryIdempotencyStore());

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("tab\t")]
    [InlineData("é")]
    public async Task Malformed_keys_are_refused(string key)
    {
        var e = await Assert.ThrowsAsync<IdempotencyConflictException>(() => IdempotencyKeys.BeginAsync(new MemoryIdempotencyStore(), Scope, key, "h", Now));
        Assert.Equal(IdempotencyConflict.InvalidKey, e.Conflict);
    }

    [Fact]
    public void Long_keys_are_refused_at_256()
    {
        IdempotencyKeys.Validate(new string('a', 255));
        Assert.Throws<IdempotencyConflictException>(() => IdempotencyKeys.Validate(new string('a', 256)));
    }

    [Fact]
    public void Request_hash_separates_fields()
    {
        Assert.NotEqual(IdempotencyKeys.HashRequest("POST", "/ab", "c"u8), IdempotencyKeys.HashRequest("POST", "/a", "bc"u8));
        Assert.Equal(IdempotencyKeys.HashRequest("POST", "/a", "b"u8), IdempotencyKeys.HashRequest("POST", "/a", "b"u8));
    }
}
