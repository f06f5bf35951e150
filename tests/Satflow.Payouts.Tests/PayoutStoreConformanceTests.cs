using CsCheck;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Tests;

/// <summary>The contract of <see cref="IPayoutStore"/>; each backend supplies fresh stores.</summary>
public abstract class PayoutStoreConformanceTests : IAsyncLifetime
{
    protected IPayoutStore Store { get; private set; } = null!;

    protected abstract Task<IPayoutStore> OpenAsync();

    public async Task InitializeAsync() => Store = await OpenAsync();

    public async Task DisposeAsync() => await Store.DisposeAsync();

    private static PullPayment Pull(string store = "s1", int minute = 0) => new()
    {
        Id = PullPaymentId.New(),
        StoreId = store,
        Name = "Refund ü",
        Description = "d",
        Amount = 0.12345678901m,
        Currency = "BTC",
        StartsAt = Kit.Start,
        ExpiresAt = Kit.Start.AddDays(3),
        MinimumClaim = 0.0001m,
        Methods = [PayoutMethod.Lightning],
        CreatedAt = Kit.Start.AddMinutes(minute),
    };

    private static Payout Payout(PullPayment? pull, PayoutState state = PayoutState.AwaitingApproval, int minute = 0, string store = "s1")
    {
        var invoice = Kit.Invoice(new MilliSatoshi(5000));
        var decoded = Satflow.Lightning.Invoices.Bolt11Invoice.Decode(invoice);
        return new Payout
        {
            Id = PayoutId.New(),
            StoreId = pull?.StoreId ?? store,
            PullPaymentId = pull?.Id,
            Destination = new PayoutDestination
            {
                Kind = PayoutDestinationKind.LnurlWithdraw,
                Value = invoice,
                PaymentHash = decoded.PaymentHash,
                InvoiceAmount = decoded.Amount,
                ExpiresAt = decoded.ExpiresAt,
            },
            Amount = 0.00000005m,
            Currency = "BTC",
            State = state,
            Rate = 1m,
            PayAmount = new MilliSatoshi(5000),
            Attempt = state == PayoutState.InProgress ? new PayoutAttempt { Reference = decoded.PaymentHash.Value.ToHex(), Number = 2, RecordedAt = Kit.Start } : null,
            CreatedAt = Kit.Start.AddMinutes(minute),
            UpdatedAt = Kit.Start.AddMinutes(minute),
        };
    }

    private async Task Commit(params object[] records)
    {
        var changes = new PayoutChangeSet();
        foreach (var r in records)
        {
            switch (r)
            {
                case PullPayment p: changes.PullPayments.Add(p); break;
                case Payout p: changes.Payouts.Add(p); break;
                case OnChainPayoutBatch b: changes.Batches.Add(b); break;
                case PaymentRequest q: changes.PaymentRequests.Add(q); break;
                case ProcessorLease l: changes.Leases.Add(l); break;
                default: throw new ArgumentException("unknown record");
            }
        }

        await Store.CommitAsync(changes);
    }

    [Fact]
    public async Task Records_round_trip_with_versions()
    {
        var pull = Pull();
        var payout = Payout(pull, PayoutState.InProgress);
        var batch = new OnChainPayoutBatch { Id = PayoutBatchId.New(), StoreId = "s1", PayoutIds = [payout.Id], TxId = new string('a', 64), RawTransaction = "00", CreatedAt = Kit.Start };
        var request = new PaymentRequest { Id = PaymentRequestId.New(), StoreId = "s1", Title = "Bill", Amount = 12.5m, Currency = "EUR", Payments = [new PaymentRequestPayment("inv1", 2m, Kit.Start)], CreatedAt = Kit.Start };
        var lease = new ProcessorLease { Name = "payout-processor:s1", Owner = "me", ExpiresAt = Kit.Start.AddMinutes(10) };
        await Commit(pull, payout, batch, request, lease);

        Assert.Equal(pull with { Version = 1 }, await Store.GetPullPaymentAsync(pull.Id), new PullComparer());
        var readPayout = (await Store.GetPayoutAsync(payout.Id))!;
        Assert.Equal(1, readPayout.Version);
        Assert.Equal(payout.Destination, readPayout.Destination);
        Assert.Equal(payout.Attempt, readPayout.Attempt);
        Assert.Equal(payout.PayAmount, readPayout.PayAmount);
        Assert.Equal(payout.PullPaymentId, readPayout.PullPaymentId);
        Assert.Equal(payout.UpdatedAt, readPayout.UpdatedAt);
        var readBatch = (await Store.GetBatchAsync(batch.Id))!;
        Assert.Equal(batch.PayoutIds, readBatch.PayoutIds);
        Assert.Equal(batch.TxId, readBatch.TxId);
        var readRequest = (await Store.GetPaymentRequestAsync(request.Id))!;
        Assert.Equal(request.Payments, readRequest.Payments);
        Assert.Equal(10.5m, readRequest.AmountDue);
        Assert.Equal(lease with { Version = 1 }, await Store.GetLeaseAsync(lease.Name));
        Assert.Null(await Store.GetPayoutAsync(PayoutId.New()));
        Assert.Null(await Store.GetLeaseAsync("other"));
    }

    [Fact]
    public async Task Lists_filter_by_store_pull_payment_and_state_in_creation_order()
    {
        var p1 = Pull("s1", 1);
        var p2 = Pull("s1", 0);
        var other = Pull("s2", 0);
        var a = Payout(p1, PayoutState.AwaitingApproval, 3);
        var b = Payout(p1, PayoutState.AwaitingPayment, 2);
        var c = Payout(p2, PayoutState.Completed, 1);
        var d = Payout(null, PayoutState.AwaitingPayment, 4, "s1");
        await Commit(p1, p2, other, a, b, c, d);

        Assert.Equal([p2.Id, p1.Id], (await Store.ListPullPaymentsAsync("s1")).Select(p => p.Id));
        Assert.Equal([other.Id], (await Store.ListPullPaymentsAsync("s2")).Select(p => p.Id));
        Assert.Equal([b.Id, a.Id], (await Store.ListPayoutsAsync(new PayoutQuery { PullPaymentId = p1.Id })).Select(p => p.Id));
        Assert.Equal([c.Id, b.Id, a.Id, d.Id], (await Store.ListPayoutsAsync(new PayoutQuery { StoreId = "s1" })).Select(p => p.Id));
        Assert.Equal([b.Id, d.Id], (await Store.ListPayoutsAsync(new PayoutQuery { StoreId = "s1", States = [PayoutState.AwaitingPayment] })).Select(p => p.Id));
        Assert.Equal([c.Id, b.Id], (await Store.ListPayoutsAsync(new PayoutQuery { States = [PayoutState.Completed, PayoutState.AwaitingPayment], StoreId = "s1", PullPaymentId = null })).Select(p => p.Id).Take(2));
        Assert.Empty(await Store.ListPayoutsAsync(new PayoutQuery { States = [] }));
        Assert.Empty(await Store.ListPayoutsAsync(new PayoutQuery { StoreId = "nobody" }));
    }

    [Fact]
    public async Task Updates_are_compare_and_swap_and_commits_are_all_or_nothing()
    {
        var pull = Pull();
        var payout = Payout(pull);
        await Commit(pull, payout);
        var v1 = (await Store.GetPayoutAsync(payout.Id))!;
        await Commit(v1 with { State = PayoutState.AwaitingPayment });

        // A stale version is a conflict, and the other record in the same commit is not written.
        var currentPull = (await Store.GetPullPaymentAsync(pull.Id))!;
        var stale = await Assert.ThrowsAsync<PayoutsException>(() => Commit(currentPull with { Claimed = 1m }, v1 with { State = PayoutState.Cancelled }));
        Assert.Equal(PayoutsErrorReason.Conflict, stale.Reason);
        Assert.Equal(0m, (await Store.GetPullPaymentAsync(pull.Id))!.Claimed);
        var v2 = (await Store.GetPayoutAsync(payout.Id))!;
        Assert.Equal(PayoutState.AwaitingPayment, v2.State);
        Assert.Equal(2, v2.Version);

        // Inserting an existing id is a conflict too.
        var duplicate = await Assert.ThrowsAsync<PayoutsException>(() => Commit(pull));
        Assert.Equal(PayoutsErrorReason.Conflict, duplicate.Reason);

        // Updating a record that does not exist is a conflict.
        var missing = await Assert.ThrowsAsync<PayoutsException>(() => Commit(Payout(pull) with { Version = 4 }));
        Assert.Equal(PayoutsErrorReason.Conflict, missing.Reason);

        // The same record twice in one commit is refused up front.
        var twice = await Assert.ThrowsAsync<PayoutsException>(() => Commit(v2 with { State = PayoutState.Cancelled }, v2));
        Assert.Equal(PayoutsErrorReason.InvalidArgument, twice.Reason);

        await Commit(v2 with { State = PayoutState.InProgress });
        Assert.Equal(3, (await Store.GetPayoutAsync(payout.Id))!.Version);
        Assert.Equal([payout.Id], (await Store.ListPayoutsAsync(new PayoutQuery { States = [PayoutState.InProgress] })).Select(p => p.Id));
    }

    [Fact]
    public async Task Concurrent_writers_of_one_version_have_exactly_one_winner()
    {
        var pull = Pull();
        await Commit(pull);
        var read = (await Store.GetPullPaymentAsync(pull.Id))!;
        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => Task.Run(async () =>
        {
            try
            {
                var changes = new PayoutChangeSet();
                changes.PullPayments.Add(read with { Claimed = i });
                await Store.CommitAsync(changes);
                return true;
            }
            catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
            {
                return false;
            }
        })));
        Assert.Single(results, r => r);
        Assert.Equal(2, (await Store.GetPullPaymentAsync(pull.Id))!.Version);
    }

    private sealed class PullComparer : IEqualityComparer<PullPayment?>
    {
        public bool Equals(PullPayment? x, PullPayment? y) =>
            x is not null && y is not null && x.Id == y.Id && x.Version == y.Version && x.Amount == y.Amount && x.Name == y.Name
            && x.Methods.SequenceEqual(y.Methods) && x.ExpiresAt == y.ExpiresAt && x.MinimumClaim == y.MinimumClaim && x.CreatedAt == y.CreatedAt;

        public int GetHashCode(PullPayment? obj) => obj?.Id.GetHashCode() ?? 0;
    }
}

public sealed class InMemoryPayoutStoreTests : PayoutStoreConformanceTests
{
    protected override Task<IPayoutStore> OpenAsync() => Task.FromResult<IPayoutStore>(PayoutStore.CreateInMemory());
}

public sealed class SqlitePayoutStoreTests : PayoutStoreConformanceTests, IDisposable
{
    private readonly TempDirectory _dir = new();

    protected override async Task<IPayoutStore> OpenAsync() => await PayoutStore.OpenSqliteAsync(_dir.File("payouts.db"));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Data_survives_reopening_and_a_newer_schema_is_refused()
    {
        var file = _dir.File("reopen.db");
        var pull = new PullPayment { Id = PullPaymentId.New(), StoreId = "s", Name = "n", Amount = 1m, Currency = "BTC", StartsAt = Kit.Start };
        await using (var first = await PayoutStore.OpenSqliteAsync(file))
        {
            var changes = new PayoutChangeSet();
            changes.PullPayments.Add(pull);
            await first.CommitAsync(changes);
        }

        await using (var again = await PayoutStore.OpenSqliteAsync(file))
        {
            Assert.Equal(1, (await again.GetPullPaymentAsync(pull.Id))!.Version);
        }

        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + file + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO satflow_schema_migrations (component, version) VALUES ('payouts', 2)";
            await command.ExecuteNonQueryAsync();
        }

        var e = await Assert.ThrowsAsync<PayoutsException>(() => PayoutStore.OpenSqliteAsync(file));
        Assert.Equal(PayoutsErrorReason.UnsupportedSchemaVersion, e.Reason);
    }

    [Fact]
    public async Task A_corrupt_document_is_a_storage_failure()
    {
        var pull = new PullPayment { Id = PullPaymentId.New(), StoreId = "s", Name = "n", Amount = 1m, Currency = "BTC", StartsAt = Kit.Start };
        var changes = new PayoutChangeSet();
        changes.PullPayments.Add(pull);
        await Store.CommitAsync(changes);
        await Store.DisposeAsync();
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + _dir.File("payouts.db") + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE payout_records SET doc = '{\"id\":\"bad id\"}'";
            await command.ExecuteNonQueryAsync();
        }

        await InitializeAsync();
        var e = await Assert.ThrowsAsync<PayoutsException>(() => Store.GetPullPaymentAsync(pull.Id));
        Assert.Equal(PayoutsErrorReason.StorageFailure, e.Reason);
    }
}

public sealed class PostgresPayoutStoreTests(PostgresServerFixture server) : PayoutStoreConformanceTests, IClassFixture<PostgresServerFixture>
{
    protected override async Task<IPayoutStore> OpenAsync() =>
        await PayoutStore.OpenPostgresAsync(server.ConnectionString, server.Schema + "_" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task Every_payout_is_paid_exactly_once_across_random_crashes_on_postgres()
    {
        var n = 0;
        await DoublePayPropertyTests.Scenarios.SampleAsync(s =>
        {
            var schema = server.Schema + "_p" + Interlocked.Increment(ref n).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return DoublePayPropertyTests.RunAsync(s, async () => await PayoutStore.OpenPostgresAsync(server.ConnectionString, schema), reopenAfterCrash: true);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public async Task Migrations_are_recorded_once_per_schema()
    {
        var schema = server.Schema + "_m";
        await (await PayoutStore.OpenPostgresAsync(server.ConnectionString, schema)).DisposeAsync();
        await (await PayoutStore.OpenPostgresAsync(server.ConnectionString, schema)).DisposeAsync();
        await using var command = server.DataSource.CreateCommand($"SELECT count(*) FROM \"{schema}\".satflow_schema_migrations WHERE component = 'payouts'");
        Assert.Equal((long)PayoutStore.CurrentSchemaVersion, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Bad_settings_are_typed_errors()
    {
        Assert.Equal(PayoutsErrorReason.InvalidConfiguration, (await Assert.ThrowsAsync<PayoutsException>(() => PayoutStore.OpenPostgresAsync(server.ConnectionString, "Bad"))).Reason);
        Assert.Equal(PayoutsErrorReason.StorageFailure, (await Assert.ThrowsAsync<PayoutsException>(() =>
            PayoutStore.OpenPostgresAsync("Host=127.0.0.1;Port=1;Username=postgres;Database=postgres;Timeout=3", "x"))).Reason);
    }
}
