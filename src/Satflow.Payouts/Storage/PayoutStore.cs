using Satflow.Payouts.Storage;
using Satflow.SqlStorage;

namespace Satflow.Payouts;

/// <summary>
/// <see cref="IPayoutStore"/> over a document backend: in memory (<see cref="CreateInMemory"/>, for tests and
/// single-process tools), SQLite (<see cref="OpenSqliteAsync"/>, the default in the data directory) or PostgreSQL
/// (<see cref="OpenPostgresAsync"/>). Records are JSON documents in one table with indexed kind, id, store, parent
/// (the pull payment of a payout), state and version columns; the SQL schema is created by numbered migrations
/// (component <c>payouts</c>), and a database written by a newer version is refused.
/// </summary>
public sealed class PayoutStore : IPayoutStore
{
    private const string PullPaymentKind = "pull_payment";
    private const string PayoutKind = "payout";
    private const string BatchKind = "batch";
    private const string PaymentRequestKind = "payment_request";
    private const string LeaseKind = "lease";

    private readonly IDocumentBackend _backend;

    private PayoutStore(IDocumentBackend backend) => _backend = backend;

    /// <summary>A store that lives in this process only.</summary>
    public static PayoutStore CreateInMemory() => new(new MemoryDocumentBackend());

    /// <summary>Opens (creating and migrating) a SQLite database file.</summary>
    /// <exception cref="PayoutsException">Bad path, newer schema, or SQLite failure.</exception>
    public static async Task<PayoutStore> OpenSqliteAsync(string databasePath, CancellationToken cancellationToken = default) =>
        new(await SqlDocumentBackend.OpenAsync(await SqlDatabase.OpenSqliteAsync(databasePath, SqlDocumentBackend.Error, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false));

    /// <summary>Opens (creating the schema and migrating) a PostgreSQL database.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="schema">The schema holding the tables (lower-case letters, digits, '_').</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <exception cref="PayoutsException">Bad settings, newer schema, or an unreachable server.</exception>
    public static async Task<PayoutStore> OpenPostgresAsync(string connectionString, string schema = "satflow", CancellationToken cancellationToken = default) =>
        new(await SqlDocumentBackend.OpenAsync(await SqlDatabase.OpenPostgresAsync(connectionString, schema, SqlDocumentBackend.Error, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false));

    /// <summary>The SQL schema version this code writes.</summary>
    public static int CurrentSchemaVersion => SqlDocumentBackend.Migrations.Length;

    /// <inheritdoc />
    public async Task<PullPayment?> GetPullPaymentAsync(PullPaymentId id, CancellationToken cancellationToken = default) =>
        await GetAsync<PullPayment>(PullPaymentKind, id.Value, (r, v) => r with { Version = v }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task<IReadOnlyList<PullPayment>> ListPullPaymentsAsync(string storeId, CancellationToken cancellationToken = default) =>
        QueryAsync<PullPayment>(PullPaymentKind, new DocumentQuery(storeId, null, null), (r, v) => r with { Version = v }, cancellationToken);

    /// <inheritdoc />
    public async Task<Payout?> GetPayoutAsync(PayoutId id, CancellationToken cancellationToken = default) =>
        await GetAsync<Payout>(PayoutKind, id.Value, (r, v) => r with { Version = v }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task<IReadOnlyList<Payout>> ListPayoutsAsync(PayoutQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return QueryAsync<Payout>(PayoutKind, new DocumentQuery(query.StoreId, query.PullPaymentId?.Value, query.States?.Select(s => (int)s).ToArray()),
            (r, v) => r with { Version = v }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<OnChainPayoutBatch?> GetBatchAsync(PayoutBatchId id, CancellationToken cancellationToken = default) =>
        await GetAsync<OnChainPayoutBatch>(BatchKind, id.Value, (r, v) => r with { Version = v }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task<PaymentRequest?> GetPaymentRequestAsync(PaymentRequestId id, CancellationToken cancellationToken = default) =>
        await GetAsync<PaymentRequest>(PaymentRequestKind, id.Value, (r, v) => r with { Version = v }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task<IReadOnlyList<PaymentRequest>> ListPaymentRequestsAsync(string storeId, CancellationToken cancellationToken = default) =>
        QueryAsync<PaymentRequest>(PaymentRequestKind, new DocumentQuery(storeId, null, null), (r, v) => r with { Version = v }, cancellationToken);

    /// <inheritdoc />
    public async Task<ProcessorLease?> GetLeaseAsync(string name, CancellationToken cancellationToken = default) =>
        await GetAsync<ProcessorLease>(LeaseKind, name, (r, v) => r with { Version = v }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task CommitAsync(PayoutChangeSet changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var docs = new List<StoredDocument>(changes.Count);
        docs.AddRange(changes.PullPayments.Select(p => new StoredDocument(PullPaymentKind, p.Id.Value, p.StoreId, null, 0, p.CreatedAt.ToUnixTimeMilliseconds(), p.Version, PayoutJson.Write(p))));
        docs.AddRange(changes.Payouts.Select(p => new StoredDocument(PayoutKind, p.Id.Value, p.StoreId, p.PullPaymentId?.Value, (int)p.State, p.CreatedAt.ToUnixTimeMilliseconds(), p.Version, PayoutJson.Write(p))));
        docs.AddRange(changes.Batches.Select(b => new StoredDocument(BatchKind, b.Id.Value, b.StoreId, null, (int)b.State, b.CreatedAt.ToUnixTimeMilliseconds(), b.Version, PayoutJson.Write(b))));
        docs.AddRange(changes.PaymentRequests.Select(r => new StoredDocument(PaymentRequestKind, r.Id.Value, r.StoreId, null, 0, r.CreatedAt.ToUnixTimeMilliseconds(), r.Version, PayoutJson.Write(r))));
        docs.AddRange(changes.Leases.Select(l => new StoredDocument(LeaseKind, l.Name, "", null, 0, 0, l.Version, PayoutJson.Write(l))));
        if (docs.Select(d => (d.Kind, d.Id)).Distinct().Count() != docs.Count)
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidArgument, "A change set names the same record twice.");
        }

        return docs.Count == 0 ? Task.CompletedTask : _backend.CommitAsync(docs, cancellationToken);
    }

    private async Task<T?> GetAsync<T>(string kind, string id, Func<T, long, T> withVersion, CancellationToken cancellationToken)
        where T : class
    {
        var found = await _backend.GetAsync(kind, id, cancellationToken).ConfigureAwait(false);
        return found is { } f ? withVersion(PayoutJson.Read<T>(f.Json), f.Version) : null;
    }

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string kind, DocumentQuery query, Func<T, long, T> withVersion, CancellationToken cancellationToken)
        where T : class
    {
        var rows = await _backend.QueryAsync(kind, query, cancellationToken).ConfigureAwait(false);
        return rows.Select(r => withVersion(PayoutJson.Read<T>(r.Json), r.Version)).ToArray();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}
