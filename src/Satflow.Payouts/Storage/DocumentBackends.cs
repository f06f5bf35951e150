using System.Globalization;
using System.Text;
using Satflow.SqlStorage;

namespace Satflow.Payouts.Storage;

/// <summary>A record in storage form.</summary>
internal sealed record StoredDocument(string Kind, string Id, string StoreId, string? ParentId, int State, long CreatedAt, long ExpectedVersion, string Json);

/// <summary>A list filter; null members do not filter.</summary>
internal sealed record DocumentQuery(string? StoreId, string? ParentId, IReadOnlyList<int>? States);

/// <summary>A stored document and its version.</summary>
internal readonly record struct VersionedJson(long Version, string Json);

/// <summary>What <see cref="PayoutStore"/> needs from a backend.</summary>
internal interface IDocumentBackend : IAsyncDisposable
{
    Task<VersionedJson?> GetAsync(string kind, string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<VersionedJson>> QueryAsync(string kind, DocumentQuery query, CancellationToken cancellationToken);

    Task CommitAsync(IReadOnlyList<StoredDocument> documents, CancellationToken cancellationToken);
}

/// <summary>Documents in a dictionary, guarded by a lock.</summary>
internal sealed class MemoryDocumentBackend : IDocumentBackend
{
    private readonly Dictionary<(string Kind, string Id), (StoredDocument Document, long Version)> _rows = [];
    private readonly Lock _lock = new();

    public Task<VersionedJson?> GetAsync(string kind, string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<VersionedJson?>(_rows.TryGetValue((kind, id), out var row) ? new VersionedJson(row.Version, row.Document.Json) : null);
        }
    }

    public Task<IReadOnlyList<VersionedJson>> QueryAsync(string kind, DocumentQuery query, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<VersionedJson> result = _rows.Values
                .Where(r => r.Document.Kind == kind
                    && (query.StoreId is null || r.Document.StoreId == query.StoreId)
                    && (query.ParentId is null || r.Document.ParentId == query.ParentId)
                    && (query.States is null || query.States.Contains(r.Document.State)))
                .OrderBy(r => r.Document.CreatedAt).ThenBy(r => r.Document.Id, StringComparer.Ordinal)
                .Select(r => new VersionedJson(r.Version, r.Document.Json))
                .ToArray();
            return Task.FromResult(result);
        }
    }

    public Task CommitAsync(IReadOnlyList<StoredDocument> documents, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var d in documents)
            {
                var exists = _rows.TryGetValue((d.Kind, d.Id), out var row);
                if (d.ExpectedVersion == 0 ? exists : !exists || row.Version != d.ExpectedVersion)
                {
                    throw SqlDocumentBackend.ConflictFor(d);
                }
            }

            foreach (var d in documents)
            {
                _rows[(d.Kind, d.Id)] = (d, d.ExpectedVersion + 1);
            }
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Documents in one SQL table (SQLite or PostgreSQL).</summary>
internal sealed class SqlDocumentBackend : IDocumentBackend
{
    public const string Component = "payouts";

    // Migrations[n] brings the schema from version n to n + 1; the SQL is valid on both engines.
    public static readonly string[] Migrations =
    [
        """
        CREATE TABLE payout_records (
            kind       TEXT NOT NULL,
            id         TEXT NOT NULL,
            store_id   TEXT NOT NULL,
            parent_id  TEXT NULL,
            state      INTEGER NOT NULL,
            created_at BIGINT NOT NULL,
            version    BIGINT NOT NULL,
            doc        TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE INDEX payout_records_store ON payout_records (kind, store_id, state, created_at);
        CREATE INDEX payout_records_parent ON payout_records (kind, parent_id, created_at);
        """,
    ];

    private readonly SqlDatabase _db;

    private SqlDocumentBackend(SqlDatabase db) => _db = db;

    public static async Task<SqlDocumentBackend> OpenAsync(SqlDatabase db, CancellationToken cancellationToken)
    {
        try
        {
            await db.MigrateAsync(Component, Migrations, cancellationToken).ConfigureAwait(false);
            return new SqlDocumentBackend(db);
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static Exception Error(SqlErrorKind kind, string message, Exception? inner) =>
        new PayoutsException(
            kind switch
            {
                SqlErrorKind.InvalidConfiguration => PayoutsErrorReason.InvalidConfiguration,
                SqlErrorKind.UnsupportedSchemaVersion => PayoutsErrorReason.UnsupportedSchemaVersion,
                _ => PayoutsErrorReason.StorageFailure,
            },
            message,
            inner);

    public static PayoutsException ConflictFor(StoredDocument d) =>
        new(PayoutsErrorReason.Conflict, d.ExpectedVersion == 0
            ? $"The {d.Kind} '{d.Id}' already exists."
            : string.Create(CultureInfo.InvariantCulture, $"The {d.Kind} '{d.Id}' changed since version {d.ExpectedVersion} was read (or is gone)."));

    public Task<VersionedJson?> GetAsync(string kind, string id, CancellationToken cancellationToken) =>
        _db.RunAsync<VersionedJson?>(async (c, t) =>
        {
            await using var command = SqlDatabase.Command(c, t, "SELECT version, doc FROM payout_records WHERE kind = @k AND id = @id", ("@k", kind), ("@id", id));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new VersionedJson(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetString(1))
                : null;
        }, cancellationToken);

    public Task<IReadOnlyList<VersionedJson>> QueryAsync(string kind, DocumentQuery query, CancellationToken cancellationToken) =>
        _db.RunAsync<IReadOnlyList<VersionedJson>>(async (c, t) =>
        {
            var sql = new StringBuilder("SELECT version, doc FROM payout_records WHERE kind = @k");
            var parameters = new List<(string, object?)> { ("@k", kind) };
            if (query.StoreId is not null)
            {
                sql.Append(" AND store_id = @store");
                parameters.Add(("@store", query.StoreId));
            }

            if (query.ParentId is not null)
            {
                sql.Append(" AND parent_id = @parent");
                parameters.Add(("@parent", query.ParentId));
            }

            if (query.States is not null)
            {
                if (query.States.Count == 0)
                {
                    return [];
                }

                sql.Append(" AND state IN (").AppendJoin(", ", query.States.Select((_, i) => "@s" + i.ToString(CultureInfo.InvariantCulture))).Append(')');
                parameters.AddRange(query.States.Select((s, i) => ("@s" + i.ToString(CultureInfo.InvariantCulture), (object?)s)));
            }

            sql.Append(" ORDER BY created_at, id");
            await using var command = SqlDatabase.Command(c, t, sql.ToString(), [.. parameters]);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<VersionedJson>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(new VersionedJson(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetString(1)));
            }

            return list;
        }, cancellationToken);

    public Task CommitAsync(IReadOnlyList<StoredDocument> documents, CancellationToken cancellationToken) =>
        _db.RunAsync(async (c, t) =>
        {
            foreach (var d in documents)
            {
                int rows;
                if (d.ExpectedVersion == 0)
                {
                    // ON CONFLICT DO NOTHING turns "already exists" into 0 rows instead of a constraint error.
                    rows = await SqlDatabase.ExecuteAsync(c, t,
                        """
                        INSERT INTO payout_records (kind, id, store_id, parent_id, state, created_at, version, doc)
                        VALUES (@k, @id, @store, @parent, @state, @created, 1, @doc)
                        ON CONFLICT (kind, id) DO NOTHING
                        """,
                        ("@k", d.Kind), ("@id", d.Id), ("@store", d.StoreId), ("@parent", d.ParentId), ("@state", d.State),
                        ("@created", d.CreatedAt), ("@doc", d.Json)).ConfigureAwait(false);
                }
                else
                {
                    rows = await SqlDatabase.ExecuteAsync(c, t,
                        """
                        UPDATE payout_records SET store_id = @store, parent_id = @parent, state = @state, version = @next, doc = @doc
                        WHERE kind = @k AND id = @id AND version = @expected
                        """,
                        ("@k", d.Kind), ("@id", d.Id), ("@store", d.StoreId), ("@parent", d.ParentId), ("@state", d.State),
                        ("@next", d.ExpectedVersion + 1), ("@doc", d.Json), ("@expected", d.ExpectedVersion)).ConfigureAwait(false);
                }

                if (rows != 1)
                {
                    throw ConflictFor(d);
                }
            }

            return 0;
        }, cancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
