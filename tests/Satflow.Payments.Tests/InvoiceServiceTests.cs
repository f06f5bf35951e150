using System.Security.Cryptography;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Payments.Tests;

public sealed class InvoiceServiceTests
{
    private static readonly MilliSatoshi Amount = new(150_000);

    [Theory]
    [MemberData(nameof(TestEnv.StoreKinds), MemberType = typeof(TestEnv))]
    public async Task Create_DecodesToTheSameHashAmountDescriptionAndPayee(string kind)
    {
        using var dir = new TempDir();
        await using var store = await TestEnv.OpenAsync(kind, dir.Path);
        var service = TestEnv.Invoices(store, TestEnv.Clock());

        var record = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "coffee" });

        var decoded = Bolt11Invoice.Decode(record.Bolt11);
        Assert.Equal(record.PaymentHash, decoded.PaymentHash);
        Assert.Equal(record.Preimage.Hash, decoded.PaymentHash);
        Assert.Equal(Amount, decoded.Amount);
        Assert.Equal("coffee", decoded.Description);
        Assert.Equal(service.NodeId, decoded.PayeeNodeId);
        Assert.Equal(record.PaymentSecret, decoded.PaymentSecret);
        Assert.Equal(Bolt11Network.Regtest, decoded.Network);
        Assert.Equal(3600UL, decoded.ExpirySeconds);
        Assert.Equal(18UL, decoded.MinFinalCltvExpiryDelta);
        Assert.Equal((ulong)TestEnv.Start.ToUnixTimeSeconds(), decoded.Timestamp);
        Assert.True(decoded.Features.IsSet(8));
        Assert.True(decoded.Features.IsSet(14));
        Assert.True(decoded.Features.IsSet(17));
        Assert.False(decoded.Features.IsSet(16));
        Assert.Equal(InvoiceState.Open, record.State);
        Assert.Equal(TestEnv.Start, record.CreatedAt);
    }

    [Fact]
    public async Task Create_WithDescriptionHashAndCustomExpiry()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var hash = new Bytes32(SHA256.HashData("a very long description"u8));

        var record = await service.CreateAsync(new InvoiceRequest { DescriptionHash = hash, ExpirySeconds = 60, MinFinalCltvExpiryDelta = 40 });

        var decoded = Bolt11Invoice.Decode(record.Bolt11);
        Assert.Null(decoded.Amount);
        Assert.Null(record.Amount);
        Assert.Equal(hash, decoded.DescriptionHash);
        Assert.True(decoded.MatchesDescription("a very long description"));
        Assert.Equal(60UL, decoded.ExpirySeconds);
        Assert.Equal(40UL, decoded.MinFinalCltvExpiryDelta);
        Assert.Equal(TestEnv.Start.AddSeconds(60), record.ExpiresAt);
    }

    [Fact]
    public async Task Create_ConvenienceOverloads_MatchTheRequestForm()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var withText = await service.CreateAsync(Amount, "tea", expirySeconds: 120);
        var withHash = await service.CreateAsync(null, new Bytes32(SHA256.HashData("tea"u8)), minFinalCltvExpiryDelta: 144);

        Assert.Equal("tea", Bolt11Invoice.Decode(withText.Bolt11).Description);
        Assert.Equal(120UL, withText.ExpirySeconds);
        Assert.Equal(18U, withText.MinFinalCltvExpiryDelta);
        Assert.True(Bolt11Invoice.Decode(withHash.Bolt11).MatchesDescription("tea"));
        Assert.Equal(144UL, Bolt11Invoice.Decode(withHash.Bolt11).MinFinalCltvExpiryDelta);
        Assert.Equal(2, (await service.ListAsync()).Count);
    }

    [Fact]
    public async Task ConcurrentSettles_OfOneInvoice_OnlyOneSucceeds()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = await service.CreateAsync(Amount, "race");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            try
            {
                await service.SettleAsync(record.PaymentHash, record.PaymentSecret, Amount);
                return true;
            }
            catch (InvoiceException e) when (e.Reason == PaymentsErrorReason.InvoiceNotOpen)
            {
                return false;
            }
        })));
        Assert.Single(results, won => won);
    }

    [Fact]
    public async Task Create_UsesTheInjectedRandomness()
    {
        await using var a = new InMemoryKeyValueStore();
        await using var b = new InMemoryKeyValueStore();
        var first = await TestEnv.Invoices(a, TestEnv.Clock()).CreateAsync(new InvoiceRequest { Amount = Amount, Description = "x" });
        var second = await TestEnv.Invoices(b, TestEnv.Clock()).CreateAsync(new InvoiceRequest { Amount = Amount, Description = "x" });
        Assert.Equal(first.Bolt11, second.Bolt11);
        Assert.NotEqual(first.Preimage.Value, first.PaymentSecret.Value);
    }

    [Fact]
    public async Task Create_RepeatedRandomness_IsATypedErrorNotAnOverwrite()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock(), span => span.Fill(7));
        var first = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "x" });
        var error = await Assert.ThrowsAsync<InvoiceException>(() => service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "y" }));
        Assert.Equal(PaymentsErrorReason.InvoiceAlreadyExists, error.Reason);
        Assert.Equal(first, await service.LookupAsync(first.PaymentHash));
    }

    public static TheoryData<string> InvalidRequests => ["both", "neither", "zero", "expiry0", "longdesc"];

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Create_InvalidRequest_IsRefusedAndNothingIsStored(string which)
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var request = which switch
        {
            "both" => new InvoiceRequest { Description = "d", DescriptionHash = Bytes32.Zero },
            "neither" => new InvoiceRequest { Amount = Amount },
            "zero" => new InvoiceRequest { Amount = MilliSatoshi.Zero, Description = "d" },
            "expiry0" => new InvoiceRequest { Description = "d", ExpirySeconds = 0 },
            _ => new InvoiceRequest { Description = new string('a', 640) },
        };
        var error = await Assert.ThrowsAsync<PaymentsException>(() => service.CreateAsync(request));
        Assert.Equal(PaymentsErrorReason.InvalidArgument, error.Reason);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task Create_IsPersistedBeforeItReturns()
    {
        await using var inner = new InMemoryKeyValueStore();
        var gated = new GatedStore(inner);
        var service = TestEnv.Invoices(gated, TestEnv.Clock());

        var task = service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "gated" });
        await gated.WriteStarted.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(task.IsCompleted);
        gated.Release.SetResult();
        var record = await task;

        var stored = await inner.ReadAsync(InvoiceService.PrimaryNamespace, InvoiceService.SecondaryNamespace, InvoiceService.KeyOf(record.PaymentHash));
        Assert.NotNull(stored);
        Assert.Equal(record, InvoiceRecord.Decode(stored.Value.Span));
    }

    [Theory]
    [MemberData(nameof(TestEnv.StoreKinds), MemberType = typeof(TestEnv))]
    public async Task Settle_WithTheRightSecretAndAmount_SettlesOnce(string kind)
    {
        using var dir = new TempDir();
        await using var store = await TestEnv.OpenAsync(kind, dir.Path);
        var clock = TestEnv.Clock();
        var service = TestEnv.Invoices(store, clock);
        var record = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "coffee" });
        clock.Advance(TimeSpan.FromMinutes(5));

        var settled = await service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(150_500));

        Assert.Equal(InvoiceState.Settled, settled.State);
        Assert.Equal(new MilliSatoshi(150_500), settled.SettledAmount);
        Assert.Equal(clock.GetUtcNow(), settled.ResolvedAt);
        Assert.Equal(settled, await service.LookupAsync(record.PaymentHash));

        var again = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(record.PaymentHash, record.PaymentSecret, Amount));
        Assert.Equal(PaymentsErrorReason.InvoiceNotOpen, again.Reason);
        Assert.Equal(settled, await service.LookupAsync(record.PaymentHash));
    }

    [Fact]
    public async Task Settle_AtExactlyTheExpiry_IsAcceptedButOneSecondLaterIsExpired()
    {
        await using var store = new InMemoryKeyValueStore();
        var clock = TestEnv.Clock();
        var service = TestEnv.Invoices(store, clock);
        var onTime = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "a" });
        var late = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "b" });

        clock.Advance(TimeSpan.FromSeconds(3600));
        Assert.Equal(InvoiceState.Settled, (await service.SettleAsync(onTime.PaymentHash, onTime.PaymentSecret, Amount)).State);

        clock.Advance(TimeSpan.FromSeconds(1));
        var error = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(late.PaymentHash, late.PaymentSecret, Amount));
        Assert.Equal(PaymentsErrorReason.InvoiceExpired, error.Reason);
        Assert.Equal(late.PaymentHash, error.PaymentHash);
        var stored = await service.LookupAsync(late.PaymentHash);
        Assert.Equal(InvoiceState.Expired, stored!.State);
        Assert.Null(stored.SettledAmount);

        var retry = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(late.PaymentHash, late.PaymentSecret, Amount));
        Assert.Equal(PaymentsErrorReason.InvoiceNotOpen, retry.Reason);
    }

    [Fact]
    public async Task Settle_WithTheWrongSecret_IsRefusedAndLeavesTheInvoiceOpen()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "a" });
        var wrong = PaymentSecret.FromBytes(Enumerable.Repeat((byte)0xee, 32).ToArray());

        var error = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(record.PaymentHash, wrong, Amount));

        Assert.Equal(PaymentsErrorReason.WrongPaymentSecret, error.Reason);
        Assert.Equal(record, await service.LookupAsync(record.PaymentHash));
    }

    [Theory]
    [InlineData(149_999UL, PaymentsErrorReason.Underpaid)]
    [InlineData(0UL, PaymentsErrorReason.Underpaid)]
    [InlineData(300_001UL, PaymentsErrorReason.Overpaid)]
    [InlineData(ulong.MaxValue, PaymentsErrorReason.Overpaid)]
    public async Task Settle_WithTheWrongAmount_IsRefusedAndLeavesTheInvoiceOpen(ulong received, PaymentsErrorReason expected)
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "a" });

        var error = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(received)));

        Assert.Equal(expected, error.Reason);
        Assert.Equal(record, await service.LookupAsync(record.PaymentHash));
    }

    [Theory]
    [InlineData(150_000UL)]
    [InlineData(300_000UL)]
    public async Task Settle_AtTheAmountBounds_IsAccepted(ulong received)
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "a" });
        var settled = await service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(received));
        Assert.Equal(new MilliSatoshi(received), settled.SettledAmount);
    }

    [Fact]
    public async Task Settle_AnyAmountInvoice_AcceptsAnyPositiveAmount()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = await service.CreateAsync(new InvoiceRequest { Description = "tip jar" });
        var settled = await service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(1));
        Assert.Equal(new MilliSatoshi(1), settled.SettledAmount);
    }

    [Fact]
    public async Task Settle_UnknownHash_IsNotFound()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var hash = TestEnv.PreimageOf(9).Hash;
        var error = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(hash, default, Amount));
        Assert.Equal(PaymentsErrorReason.InvoiceNotFound, error.Reason);
        Assert.Null(await service.LookupAsync(hash));
        var cancel = await Assert.ThrowsAsync<InvoiceException>(() => service.CancelAsync(hash));
        Assert.Equal(PaymentsErrorReason.InvoiceNotFound, cancel.Reason);
    }

    [Fact]
    public async Task Cancel_ThenSettle_IsRefused()
    {
        await using var store = new InMemoryKeyValueStore();
        var clock = TestEnv.Clock();
        var service = TestEnv.Invoices(store, clock);
        var record = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "a" });
        clock.Advance(TimeSpan.FromSeconds(10));

        var canceled = await service.CancelAsync(record.PaymentHash);
        Assert.Equal(InvoiceState.Canceled, canceled.State);
        Assert.Equal(clock.GetUtcNow(), canceled.ResolvedAt);

        var error = await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(record.PaymentHash, record.PaymentSecret, Amount));
        Assert.Equal(PaymentsErrorReason.InvoiceNotOpen, error.Reason);
        var cancelAgain = await Assert.ThrowsAsync<InvoiceException>(() => service.CancelAsync(record.PaymentHash));
        Assert.Equal(PaymentsErrorReason.InvoiceNotOpen, cancelAgain.Reason);
    }

    [Fact]
    public async Task List_ReturnsEveryInvoiceOrderedByHash()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        Assert.Empty(await service.ListAsync());
        var created = new List<InvoiceRecord>();
        for (var i = 0; i < 4; i++)
        {
            created.Add(await service.CreateAsync(new InvoiceRequest { Amount = new MilliSatoshi(1000UL * (ulong)(i + 1)), Description = $"n{i}" }));
        }
        await service.SettleAsync(created[2].PaymentHash, created[2].PaymentSecret, created[2].Amount!.Value);

        var listed = await service.ListAsync();

        Assert.Equal(created.Select(r => InvoiceService.KeyOf(r.PaymentHash)).Order(StringComparer.Ordinal), listed.Select(r => InvoiceService.KeyOf(r.PaymentHash)));
        Assert.Equal(InvoiceState.Settled, listed.Single(r => r.PaymentHash == created[2].PaymentHash).State);
    }

    [Fact]
    public async Task Restart_ReopeningTheSqliteStore_KeepsTheRecords()
    {
        using var dir = new TempDir();
        var clock = TestEnv.Clock();
        InvoiceRecord open, settled;
        await using (var store = await TestEnv.OpenAsync("sqlite", dir.Path))
        {
            var service = TestEnv.Invoices(store, clock);
            open = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "open" });
            var toSettle = await service.CreateAsync(new InvoiceRequest { Amount = Amount, Description = "settled" });
            settled = await service.SettleAsync(toSettle.PaymentHash, toSettle.PaymentSecret, Amount);
        }

        await using (var store = await TestEnv.OpenAsync("sqlite", dir.Path))
        {
            var service = TestEnv.Invoices(store, clock, TestEnv.CounterRandom(seed: 0x42));
            Assert.Equal(open, await service.LookupAsync(open.PaymentHash));
            Assert.Equal(settled, await service.LookupAsync(settled.PaymentHash));
            Assert.Equal(2, (await service.ListAsync()).Count);
            var after = await service.SettleAsync(open.PaymentHash, open.PaymentSecret, Amount);
            Assert.Equal(InvoiceState.Settled, after.State);
        }
    }

    /// <summary>Holds every write until <see cref="Release"/> completes, to observe ordering.</summary>
    private sealed class GatedStore(IKeyValueStore inner) : IKeyValueStore
    {
        public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(primaryNamespace, secondaryNamespace, key, cancellationToken);

        public async ValueTask WriteAsync(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        {
            WriteStarted.TrySetResult();
            await Release.Task.ConfigureAwait(false);
            await inner.WriteAsync(primaryNamespace, secondaryNamespace, key, value, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask<bool> RemoveAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default) =>
            inner.RemoveAsync(primaryNamespace, secondaryNamespace, key, cancellationToken);

        public ValueTask<IReadOnlyList<string>> ListAsync(string primaryNamespace, string secondaryNamespace, CancellationToken cancellationToken = default) =>
            inner.ListAsync(primaryNamespace, secondaryNamespace, cancellationToken);

        public ValueTask WriteBatchAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default) =>
            inner.WriteBatchAsync(operations, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
