using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Satflow.SqlStorage;

namespace Satflow.Webhooks;

/// <summary>
/// <see cref="IWebhookStore"/> on SQLite (one file, WAL, synchronous=FULL; the default in the data directory) or
/// PostgreSQL (a connection string and a schema). Schema changes are numbered migrations recorded in
/// <c>satflow_schema_migrations</c> under component <c>webhooks</c>; a database written by a newer version is refused.
/// </summary>
public sealed class SqlWebhookStore : IWebhookStore
{
    /// <summary>The migration component name.</summary>
    public const string Component = "webhooks";

    // Migrations[n] brings the schema from version n to n + 1; the SQL is valid on both engines.
    internal static readonly string[] Migrations =
    [
        """
        CREATE TABLE webhook_subscriptions (
            id          TEXT NOT NULL PRIMARY KEY,
            owner_id    TEXT NOT NULL,
            url         TEXT NOT NULL,
            secret      TEXT NOT NULL,
            event_types TEXT NOT NULL,
            enabled     INTEGER NOT NULL,
            created_at  BIGINT NOT NULL
        );
        CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_id, created_at);
        CREATE TABLE webhook_deliveries (
            id               TEXT NOT NULL PRIMARY KEY,
            subscription_id  TEXT NOT NULL,
            event_id         TEXT NOT NULL,
            event_type       TEXT NOT NULL,
            body             TEXT NOT NULL,
            status           INTEGER NOT NULL,
            created_at       BIGINT NOT NULL,
            attempt_count    INTEGER NOT NULL,
            last_status_code INTEGER NULL,
            last_error       TEXT NULL,
            completed_at     BIGINT NULL,
            redelivery_of    TEXT NULL
        );
        CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status, created_at);
        CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at);
        CREATE TABLE webhook_attempts (
            delivery_id      TEXT NOT NULL,
            number           INTEGER NOT NULL,
            started_at       BIGINT NOT NULL,
            duration_us      BIGINT NOT NULL,
            status_code      INTEGER NULL,
            error            TEXT NULL,
            response_snippet TEXT NULL,
            succeeded        INTEGER NOT NULL,
            PRIMARY KEY (delivery_id, number)
        );
        """,
    ];

    private const string DeliveryColumns =
        "id, subscription_id, event_id, event_type, body, status, created_at, attempt_count, last_status_code, last_error, completed_at, redelivery_of";

    private readonly SqlDatabase _db;

    /// <summary>
    /// Subscriptions per owner: every published event reads them, and they change rarely. An entry lives
    /// <see cref="SubscriptionCacheLifetime"/>; every save or delete through this store clears the cache and bumps a
    /// generation, and a read only fills the cache when no such write ran meanwhile — so a change made through this
    /// store is seen by the next event at once, one made by another process on the same database within the lifetime.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (IReadOnlyList<WebhookSubscription> List, long ExpiresAt)> _subscriptions = new(StringComparer.Ordinal);
    private long _subscriptionGeneration;

    private SqlWebhookStore(SqlDatabase db) => _db = db;

    /// <summary>How long a cached subscription list is trusted without a write through this store.</summary>
    public static TimeSpan SubscriptionCacheLifetime { get; } = TimeSpan.FromSeconds(5);

    private const int MaxCachedOwners = 10_000;

    /// <summary>The schema version this code writes.</summary>
    public static int CurrentSchemaVersion => Migrations.Length;

    /// <summary>Opens (creating and migrating) a SQLite database file.</summary>
    /// <exception cref="WebhookException">Bad path, newer schema, or SQLite failure.</exception>
    public static async Task<SqlWebhookStore> OpenSqliteAsync(string databasePath, CancellationToken cancellationToken = default) =>
        await OpenAsync(await SqlDatabase.OpenSqliteAsync(databasePath, Error, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>Opens (creating the schema and migrating) a PostgreSQL database.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="schema">The schema holding the tables (lower-case letters, digits, '_').</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <exception cref="WebhookException">Bad settings, newer schema, or an unreachable server.</exception>
    public static async Task<SqlWebhookStore> OpenPostgresAsync(string connectionString, string schema = "satflow", CancellationToken cancellationToken = default) =>
        await OpenAsync(await SqlDatabase.OpenPostgresAsync(connectionString, schema, Error, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    private static async Task<SqlWebhookStore> OpenAsync(SqlDatabase db, CancellationToken cancellationToken)
    {
        try
        {
            await db.MigrateAsync(Component, Migrations, cancellationToken).ConfigureAwait(false);
            return new SqlWebhookStore(db);
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static Exception Error(SqlErrorKind kind, string message, Exception? inner) =>
        new WebhookException(
            kind switch
            {
                SqlErrorKind.InvalidConfiguration => WebhookErrorReason.InvalidConfiguration,
                SqlErrorKind.UnsupportedSchemaVersion => WebhookErrorReason.UnsupportedSchemaVersion,
                _ => WebhookErrorReason.StorageFailure,
            },
            message,
            inner);

    /// <inheritdoc />
    public Task SaveSubscriptionAsync(WebhookSubscription subscription, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        subscription.Validate();
        return ClearingSubscriptions(_db.RunAsync((c, t) => SqlDatabase.ExecuteAsync(c, t,
            """
            INSERT INTO webhook_subscriptions (id, owner_id, url, secret, event_types, enabled, created_at)
            VALUES (@id, @owner, @url, @secret, @types, @enabled, @created)
            ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, url = excluded.url, secret = excluded.secret,
                event_types = excluded.event_types, enabled = excluded.enabled
            """,
            ("@id", subscription.Id), ("@owner", subscription.OwnerId), ("@url", subscription.Url.AbsoluteUri),
            ("@secret", subscription.Secret), ("@types", JsonSerializer.Serialize(subscription.EventTypes)),
            ("@enabled", subscription.Enabled ? 1 : 0), ("@created", subscription.CreatedAt.ToUnixTimeMilliseconds())), cancellationToken));
    }

    /// <inheritdoc />
    public async Task<WebhookSubscription?> GetSubscriptionAsync(string id, CancellationToken cancellationToken = default) =>
        (await QuerySubscriptionsAsync("WHERE id = @p", id, cancellationToken).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc />
    public async Task<IReadOnlyList<WebhookSubscription>> ListSubscriptionsAsync(string ownerId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ownerId);
        var now = Environment.TickCount64;
        if (_subscriptions.TryGetValue(ownerId, out var hit) && hit.ExpiresAt > now)
        {
            return hit.List;
        }

        var generation = Interlocked.Read(ref _subscriptionGeneration);
        var list = await QuerySubscriptionsAsync("WHERE owner_id = @p ORDER BY created_at, id", ownerId, cancellationToken).ConfigureAwait(false);
        if (_subscriptions.Count >= MaxCachedOwners)
        {
            _subscriptions.Clear();
        }

        if (Interlocked.Read(ref _subscriptionGeneration) == generation)
        {
            _subscriptions[ownerId] = (list, now + (long)SubscriptionCacheLifetime.TotalMilliseconds);
            if (Interlocked.Read(ref _subscriptionGeneration) != generation)
            {
                _subscriptions.TryRemove(ownerId, out _);
            }
        }

        return list;
    }

    private async Task<T> ClearingSubscriptions<T>(Task<T> write)
    {
        try
        {
            return await write.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Increment(ref _subscriptionGeneration);
            _subscriptions.Clear();
        }
    }

    private Task<IReadOnlyList<WebhookSubscription>> QuerySubscriptionsAsync(string where, string value, CancellationToken cancellationToken) =>
        _db.RunAsync<IReadOnlyList<WebhookSubscription>>(async (c, t) =>
        {
            await using var command = SqlDatabase.Command(c, t,
                "SELECT id, owner_id, url, secret, event_types, enabled, created_at FROM webhook_subscriptions " + where, ("@p", value));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<WebhookSubscription>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(new WebhookSubscription
                {
                    Id = reader.GetString(0),
                    OwnerId = reader.GetString(1),
                    Url = new Uri(reader.GetString(2)),
                    Secret = reader.GetString(3),
                    EventTypes = JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? [],
                    Enabled = Long(reader, 5) != 0,
                    CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(reader, 6)),
                });
            }

            return list;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> DeleteSubscriptionAsync(string id, CancellationToken cancellationToken = default) =>
        ClearingSubscriptions(_db.RunAsync(async (c, t) => await SqlDatabase.ExecuteAsync(c, t, "DELETE FROM webhook_subscriptions WHERE id = @id", ("@id", id)).ConfigureAwait(false) > 0, cancellationToken));

    /// <inheritdoc />
    public Task EnqueueAsync(IReadOnlyList<WebhookDelivery> deliveries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        return _db.RunAsync(async (c, t) =>
        {
            foreach (var d in deliveries)
            {
                await SqlDatabase.ExecuteAsync(c, t,
                    $"INSERT INTO webhook_deliveries ({DeliveryColumns}) VALUES (@id, @sub, @event, @type, @body, @status, @created, @attempts, @code, @error, @completed, @of)",
                    DeliveryParameters(d)).ConfigureAwait(false);
            }

            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<WebhookDelivery?> GetDeliveryAsync(string id, CancellationToken cancellationToken = default) =>
        (await QueryDeliveriesAsync("WHERE id = @p", ("@p", id), cancellationToken).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc />
    public Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(string subscriptionId, int limit, CancellationToken cancellationToken = default) =>
        QueryDeliveriesAsync($"WHERE subscription_id = @p ORDER BY created_at DESC, id DESC LIMIT {Limit(limit)}", ("@p", subscriptionId), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<WebhookDelivery>> ListPendingDeliveriesAsync(int limit, CancellationToken cancellationToken = default) =>
        QueryDeliveriesAsync($"WHERE status = @s ORDER BY created_at, id LIMIT {Limit(limit)}", ("@s", (int)WebhookDeliveryStatus.Pending), cancellationToken);

    private static string Limit(int limit) => Math.Clamp(limit, 1, 10_000).ToString(CultureInfo.InvariantCulture);

    private Task<IReadOnlyList<WebhookDelivery>> QueryDeliveriesAsync(string where, (string, object?) parameter, CancellationToken cancellationToken) =>
        _db.RunAsync<IReadOnlyList<WebhookDelivery>>(async (c, t) =>
        {
            await using var command = SqlDatabase.Command(c, t, $"SELECT {DeliveryColumns} FROM webhook_deliveries " + where,
                parameter);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<WebhookDelivery>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(new WebhookDelivery
                {
                    Id = reader.GetString(0),
                    SubscriptionId = reader.GetString(1),
                    EventId = reader.GetString(2),
                    EventType = reader.GetString(3),
                    Body = reader.GetString(4),
                    Status = (WebhookDeliveryStatus)Long(reader, 5),
                    CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(reader, 6)),
                    AttemptCount = (int)Long(reader, 7),
                    LastStatusCode = reader.IsDBNull(8) ? null : (int)Long(reader, 8),
                    LastError = reader.IsDBNull(9) ? null : reader.GetString(9),
                    CompletedAt = reader.IsDBNull(10) ? null : DateTimeOffset.FromUnixTimeMilliseconds(Long(reader, 10)),
                    RedeliveryOf = reader.IsDBNull(11) ? null : reader.GetString(11),
                });
            }

            return list;
        }, cancellationToken);

    /// <inheritdoc />
    public Task RecordAttemptAsync(WebhookDeliveryAttempt attempt, WebhookDelivery delivery, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        ArgumentNullException.ThrowIfNull(delivery);
        return _db.RunAsync(async (c, t) =>
        {
            await SqlDatabase.ExecuteAsync(c, t,
                """
                INSERT INTO webhook_attempts (delivery_id, number, started_at, duration_us, status_code, error, response_snippet, succeeded)
                VALUES (@d, @n, @started, @duration, @code, @error, @snippet, @ok)
                """,
                ("@d", attempt.DeliveryId), ("@n", attempt.Number), ("@started", attempt.StartedAt.ToUnixTimeMilliseconds()),
                ("@duration", (long)attempt.Duration.TotalMicroseconds), ("@code", attempt.StatusCode), ("@error", attempt.Error),
                ("@snippet", attempt.ResponseSnippet), ("@ok", attempt.Succeeded ? 1 : 0)).ConfigureAwait(false);
            await UpdateAsync(c, t, delivery).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task UpdateDeliveryAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return _db.RunAsync(async (c, t) =>
        {
            await UpdateAsync(c, t, delivery).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    private static async Task UpdateAsync(DbConnection c, DbTransaction t, WebhookDelivery d)
    {
        var rows = await SqlDatabase.ExecuteAsync(c, t,
            """
            UPDATE webhook_deliveries SET status = @status, attempt_count = @attempts, last_status_code = @code,
                last_error = @error, completed_at = @completed
            WHERE id = @id
            """,
            DeliveryParameters(d)).ConfigureAwait(false);
        if (rows == 0)
        {
            throw new WebhookException(WebhookErrorReason.NotFound, $"Delivery '{d.Id}' does not exist.");
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<WebhookDeliveryAttempt>> ListAttemptsAsync(string deliveryId, CancellationToken cancellationToken = default) =>
        _db.RunAsync<IReadOnlyList<WebhookDeliveryAttempt>>(async (c, t) =>
        {
            await using var command = SqlDatabase.Command(c, t,
                "SELECT delivery_id, number, started_at, duration_us, status_code, error, response_snippet, succeeded FROM webhook_attempts WHERE delivery_id = @d ORDER BY number",
                ("@d", deliveryId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<WebhookDeliveryAttempt>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(new WebhookDeliveryAttempt
                {
                    DeliveryId = reader.GetString(0),
                    Number = (int)Long(reader, 1),
                    StartedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(reader, 2)),
                    Duration = TimeSpan.FromMicroseconds(Long(reader, 3)),
                    StatusCode = reader.IsDBNull(4) ? null : (int)Long(reader, 4),
                    Error = reader.IsDBNull(5) ? null : reader.GetString(5),
                    ResponseSnippet = reader.IsDBNull(6) ? null : reader.GetString(6),
                    Succeeded = Long(reader, 7) != 0,
                });
            }

            return list;
        }, cancellationToken);

    private static (string, object?)[] DeliveryParameters(WebhookDelivery d) =>
    [
        ("@id", d.Id), ("@sub", d.SubscriptionId), ("@event", d.EventId), ("@type", d.EventType), ("@body", d.Body),
        ("@status", (int)d.Status), ("@created", d.CreatedAt.ToUnixTimeMilliseconds()), ("@attempts", d.AttemptCount),
        ("@code", d.LastStatusCode), ("@error", d.LastError), ("@completed", d.CompletedAt?.ToUnixTimeMilliseconds()),
        ("@of", d.RedeliveryOf),
    ];

    private static long Long(DbDataReader reader, int ordinal) => Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
