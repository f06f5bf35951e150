using System.Data;
using System.Data.Common;
using System.Globalization;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Ledger;

namespace Satflow.Merchant.Persistence;

/// <summary>
/// The repository over ADO.NET, shared by the SQLite and PostgreSQL providers: the SQL is portable (named <c>@p</c>
/// parameters, <c>ON CONFLICT</c>, integers for times and amounts); the providers differ in connections, locking and DDL.
/// </summary>
public abstract class SqlMerchantRepository : IMerchantRepository
{
    private const int MaxPage = 1000;

    /// <summary>Creates the repository; call <see cref="MigrateAsync"/> before use.</summary>
    private protected SqlMerchantRepository()
    {
    }

    /// <inheritdoc/>
    public int SchemaVersion { get; private set; }

    /// <summary>The newest migration this code has for the provider.</summary>
    public int LatestSchemaVersion => Migrations().Max(m => m.Version);

    /// <summary>The provider's name for migration resources, <c>Sqlite</c> or <c>Postgres</c>.</summary>
    private protected abstract string Provider { get; }

    /// <summary>Opens a connection.</summary>
    private protected abstract Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Starts a transaction that serialises with other writers as the provider requires.</summary>
    private protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Takes the migration lock inside a transaction (PostgreSQL: an advisory lock).</summary>
    private protected virtual Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs before migrations, outside a transaction (PostgreSQL: create the schema).</summary>
    private protected virtual Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Whether an exception is a unique or primary-key violation.</summary>
    private protected abstract bool IsUniqueViolation(DbException exception);

    /// <inheritdoc/>
    public abstract ValueTask DisposeAsync();

    /// <summary>The numbered migrations of this provider.</summary>
    /// <returns>(version, name, SQL) in order.</returns>
    internal IReadOnlyList<(int Version, string Name, string Sql)> Migrations()
    {
        var assembly = typeof(SqlMerchantRepository).Assembly;
        var prefix = $"Satflow.Merchant.Migrations.{Provider}/";
        var list = new List<(int, string, string)>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var file = name[prefix.Length..];
            var version = int.Parse(file.AsSpan(0, file.IndexOf('_', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((version, file, reader.ReadToEnd()));
        }

        return list.OrderBy(m => m.Item1).ToArray();
    }

    /// <summary>Creates the schema_version table and applies the missing migrations, each in its own transaction.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.UnsupportedSchemaVersion"/> for a newer database.</exception>
    private protected async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await Guard(async () =>
        {
            await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await PrepareAsync(connection, cancellationToken).ConfigureAwait(false);
            await using (var create = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false))
            {
                await LockForMigrationAsync(connection, create, cancellationToken).ConfigureAwait(false);
                await Execute(connection, create, "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)", cancellationToken).ConfigureAwait(false);
                await create.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            var migrations = Migrations();
            var latest = migrations.Max(m => m.Version);
            foreach (var (version, name, sql) in migrations)
            {
                await using var tx = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
                await LockForMigrationAsync(connection, tx, cancellationToken).ConfigureAwait(false);
                var current = await CurrentVersion(connection, tx, cancellationToken).ConfigureAwait(false);
                if (current > latest)
                {
                    throw new MerchantException(MerchantErrorReason.UnsupportedSchemaVersion, $"The database schema is version {current}; this Satflow understands up to {latest}.");
                }

                if (version <= current)
                {
                    await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (version != current + 1)
                {
                    throw new MerchantException(MerchantErrorReason.InvalidConfiguration, $"Migration {name} does not follow version {current}.");
                }

                await Execute(connection, tx, sql, cancellationToken).ConfigureAwait(false);
                await Execute(connection, tx, "INSERT INTO schema_version (id, version) VALUES (@v, @v)", cancellationToken,
                    ("v", version)).ConfigureAwait(false);
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            await using var check = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            SchemaVersion = await CurrentVersion(connection, check, cancellationToken).ConfigureAwait(false);
            await check.CommitAsync(cancellationToken).ConfigureAwait(false);
            if (SchemaVersion > latest)
            {
                throw new MerchantException(MerchantErrorReason.UnsupportedSchemaVersion, $"The database schema is version {SchemaVersion}; this Satflow understands up to {latest}.");
            }

            return 0;
        }).ConfigureAwait(false);
    }

    private static async Task<int> CurrentVersion(DbConnection connection, DbTransaction tx, CancellationToken cancellationToken)
    {
        await using var cmd = Command(connection, tx, "SELECT MAX(version) FROM schema_version");
        var value = await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? 0 : Convert.ToInt32(value, CultureInfo.InvariantCulture);
    }

    // ---- users ----

    /// <inheritdoc/>
    public Task CreateUserAsync(User user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        return Write(async (c, tx) =>
        {
            await Execute(c, tx, "INSERT INTO users (id, email, password_hash, created_at, is_server_admin) VALUES (@id, @email, @hash, @created, @admin)", cancellationToken,
                ("id", user.Id.Value), ("email", User.NormalizeEmail(user.Email)), ("hash", user.PasswordHash), ("created", Ms(user.CreatedAt)), ("admin", user.IsServerAdmin ? 1 : 0)).ConfigureAwait(false);
        }, $"User {user.Id} or e-mail {user.Email} already exists.", cancellationToken);
    }

    /// <inheritdoc/>
    public Task<User?> GetUserAsync(UserId id, CancellationToken cancellationToken = default)
        => QuerySingle("SELECT id, email, password_hash, created_at, is_server_admin FROM users WHERE id = @id", ReadUser, cancellationToken, ("id", id.Value));

    /// <inheritdoc/>
    public Task<User?> FindUserByEmailAsync(string email, CancellationToken cancellationToken = default)
        => QuerySingle("SELECT id, email, password_hash, created_at, is_server_admin FROM users WHERE email = @email", ReadUser, cancellationToken, ("email", User.NormalizeEmail(email)));

    /// <inheritdoc/>
    public Task UpdatePasswordHashAsync(UserId id, string passwordHash, CancellationToken cancellationToken = default)
        => Write(async (c, tx) =>
        {
            if (await Execute(c, tx, "UPDATE users SET password_hash = @hash WHERE id = @id", cancellationToken, ("hash", passwordHash), ("id", id.Value)).ConfigureAwait(false) == 0)
            {
                throw new MerchantException(MerchantErrorReason.NotFound, $"No user {id}.");
            }
        }, null, cancellationToken);

    private static User ReadUser(DbDataReader r)
        => new(new UserId(r.GetString(0)), r.GetString(1), r.GetString(2), Time(r.GetInt64(3)), Convert.ToInt64(r.GetValue(4), CultureInfo.InvariantCulture) != 0);

    // ---- stores ----

    /// <inheritdoc/>
    public Task CreateStoreAsync(Store store, UserId owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ValidateStore(store);
        return ClearingAuthCaches(Write(async (c, tx) =>
        {
            await Execute(c, tx, """
                INSERT INTO stores (id, name, default_currency, rate_rules, invoice_expiry_ms, monitoring_window_ms, payment_tolerance, required_confirmations, created_at)
                VALUES (@id, @name, @cur, @rules, @exp, @mon, @tol, @conf, @created)
                """, cancellationToken, StoreParameters(store).Append(("created", Ms(store.CreatedAt))).ToArray()).ConfigureAwait(false);
            await Execute(c, tx, "INSERT INTO store_members (store_id, user_id, role) VALUES (@s, @u, @r)", cancellationToken,
                ("s", store.Id.Value), ("u", owner.Value), ("r", StoreRole.Owner.ToString())).ConfigureAwait(false);
        }, $"Store {store.Id} already exists.", cancellationToken));
    }

    /// <inheritdoc/>
    public Task<Store?> GetStoreAsync(StoreId id, CancellationToken cancellationToken = default)
        => _stores.GetAsync(id, () => QuerySingle(StoreSelect + " WHERE id = @id", ReadStore, cancellationToken, ("id", id.Value)), s => s is not null);

    /// <inheritdoc/>
    public Task UpdateStoreAsync(Store store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ValidateStore(store);
        return ClearingAuthCaches(Write(async (c, tx) =>
        {
            var n = await Execute(c, tx, """
                UPDATE stores SET name = @name, default_currency = @cur, rate_rules = @rules, invoice_expiry_ms = @exp,
                    monitoring_window_ms = @mon, payment_tolerance = @tol, required_confirmations = @conf WHERE id = @id
                """, cancellationToken, StoreParameters(store).ToArray()).ConfigureAwait(false);
            if (n == 0)
            {
                throw new MerchantException(MerchantErrorReason.NotFound, $"No store {store.Id}.");
            }
        }, null, cancellationToken));
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<(Store Store, StoreRole Role)>> ListStoresForUserAsync(UserId user, CancellationToken cancellationToken = default)
        => await Query(
            "SELECT s.id, s.name, s.default_currency, s.rate_rules, s.invoice_expiry_ms, s.monitoring_window_ms, s.payment_tolerance, s.required_confirmations, s.created_at, m.role " +
            "FROM stores s JOIN store_members m ON m.store_id = s.id WHERE m.user_id = @u ORDER BY s.created_at, s.id",
            r => (ReadStore(r), Enum.Parse<StoreRole>(r.GetString(9))), cancellationToken, ("u", user.Value)).ConfigureAwait(false);

    /// <inheritdoc/>
    public Task SetStoreMemberAsync(StoreMembership membership, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(membership);
        if (!Enum.IsDefined(membership.Role))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Unknown store role.");
        }

        return ClearingAuthCaches(Write(async (c, tx) =>
        {
            if (membership.Role != StoreRole.Owner)
            {
                await EnsureAnotherOwner(c, tx, membership.StoreId, membership.UserId, cancellationToken).ConfigureAwait(false);
            }

            await Execute(c, tx, "INSERT INTO store_members (store_id, user_id, role) VALUES (@s, @u, @r) ON CONFLICT (store_id, user_id) DO UPDATE SET role = excluded.role", cancellationToken,
                ("s", membership.StoreId.Value), ("u", membership.UserId.Value), ("r", membership.Role.ToString())).ConfigureAwait(false);
        }, null, cancellationToken, foreignKeyMessage: "No such store or user."));
    }

    /// <inheritdoc/>
    public Task<bool> RemoveStoreMemberAsync(StoreId store, UserId user, CancellationToken cancellationToken = default)
        => ClearingAuthCaches(Write(async (c, tx) =>
        {
            await EnsureAnotherOwner(c, tx, store, user, cancellationToken).ConfigureAwait(false);
            return await Execute(c, tx, "DELETE FROM store_members WHERE store_id = @s AND user_id = @u", cancellationToken, ("s", store.Value), ("u", user.Value)).ConfigureAwait(false) > 0;
        }, null, cancellationToken));

    /// <inheritdoc/>
    public Task<StoreRole?> GetStoreRoleAsync(StoreId store, UserId user, CancellationToken cancellationToken = default)
        => _roles.GetAsync((store, user), () => ReadStoreRoleAsync(store, user, cancellationToken));

    private async Task<StoreRole?> ReadStoreRoleAsync(StoreId store, UserId user, CancellationToken cancellationToken)
    {
        var rows = await Query("SELECT role FROM store_members WHERE store_id = @s AND user_id = @u", r => Enum.Parse<StoreRole>(r.GetString(0)), cancellationToken,
            ("s", store.Value), ("u", user.Value)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<StoreMembership>> ListStoreMembersAsync(StoreId store, CancellationToken cancellationToken = default)
        => Query("SELECT store_id, user_id, role FROM store_members WHERE store_id = @s ORDER BY user_id",
            r => new StoreMembership(new StoreId(r.GetString(0)), new UserId(r.GetString(1)), Enum.Parse<StoreRole>(r.GetString(2))), cancellationToken, ("s", store.Value));

    private static async Task EnsureAnotherOwner(DbConnection c, DbTransaction tx, StoreId store, UserId user, CancellationToken cancellationToken)
    {
        await using var cmd = Command(c, tx, "SELECT COUNT(*) FROM store_members WHERE store_id = @s AND role = 'Owner' AND user_id <> @u", ("s", store.Value), ("u", user.Value));
        var others = Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        await using var me = Command(c, tx, "SELECT COUNT(*) FROM store_members WHERE store_id = @s AND role = 'Owner' AND user_id = @u", ("s", store.Value), ("u", user.Value));
        var isOwner = Convert.ToInt64(await me.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0;
        if (isOwner && others == 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidState, $"Store {store} must keep at least one owner.");
        }
    }

    private const string StoreSelect = "SELECT id, name, default_currency, rate_rules, invoice_expiry_ms, monitoring_window_ms, payment_tolerance, required_confirmations, created_at FROM stores";

    private static Store ReadStore(DbDataReader r)
        => new(
            new StoreId(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetString(3),
            new InvoicePolicy(TimeSpan.FromMilliseconds(r.GetInt64(4)), TimeSpan.FromMilliseconds(r.GetInt64(5)),
                decimal.Parse(r.GetString(6), CultureInfo.InvariantCulture), Convert.ToInt32(r.GetValue(7), CultureInfo.InvariantCulture)),
            Time(r.GetInt64(8)));

    private static IEnumerable<(string, object?)> StoreParameters(Store s)
    {
        yield return ("id", s.Id.Value);
        yield return ("name", s.Name);
        yield return ("cur", s.DefaultCurrency);
        yield return ("rules", s.RateRules);
        yield return ("exp", (long)s.Policy.InvoiceExpiry.TotalMilliseconds);
        yield return ("mon", (long)s.Policy.MonitoringWindow.TotalMilliseconds);
        yield return ("tol", s.Policy.PaymentTolerancePercent.ToString(CultureInfo.InvariantCulture));
        yield return ("conf", s.Policy.RequiredConfirmations);
    }

    private static void ValidateStore(Store store)
    {
        if (string.IsNullOrWhiteSpace(store.Name) || store.Name.Length > 200)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A store name must be 1 to 200 characters.");
        }

        if (store.DefaultCurrency is not (InvoiceService.Btc or InvoiceService.Sats) && !Rates.CurrencyPair.IsCurrencyCode(store.DefaultCurrency))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The default currency must be BTC, SATS or a currency code.");
        }

        ArgumentNullException.ThrowIfNull(store.Policy);
        store.Policy.Validate();
        Rates.RateRules.Parse(store.RateRules);
    }

    // ---- API keys ----

    /// <inheritdoc/>
    public Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Write(async (c, tx) =>
        {
            await Execute(c, tx, "INSERT INTO api_keys (id, user_id, label, secret_hash, scopes, store_id, created_at, revoked_at) VALUES (@id, @u, @l, @h, @sc, @s, @c, @r)", cancellationToken,
                ("id", key.Id.Value), ("u", key.UserId.Value), ("l", key.Label), ("h", key.SecretHash),
                ("sc", string.Join(' ', key.Scopes.Order().Select(p => p.ToScopeName()))), ("s", key.StoreId?.Value),
                ("c", Ms(key.CreatedAt)), ("r", key.RevokedAt is { } r ? Ms(r) : null)).ConfigureAwait(false);
        }, $"API key {key.Id} already exists.", cancellationToken, foreignKeyMessage: "No such user or store.");
    }

    /// <inheritdoc/>
    public Task<ApiKeyRecord?> FindApiKeyByHashAsync(string secretHash, CancellationToken cancellationToken = default)
        => _apiKeys.GetAsync(secretHash, () => QuerySingle(ApiKeySelect + " WHERE secret_hash = @h", ReadApiKey, cancellationToken, ("h", secretHash)), k => k is not null);

    /// <inheritdoc/>
    public Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(UserId user, CancellationToken cancellationToken = default)
        => Query(ApiKeySelect + " WHERE user_id = @u ORDER BY created_at, id", ReadApiKey, cancellationToken, ("u", user.Value));

    /// <inheritdoc/>
    public Task<bool> RevokeApiKeyAsync(ApiKeyId id, DateTimeOffset at, CancellationToken cancellationToken = default)
        => ClearingAuthCaches(Write(async (c, tx) => await Execute(c, tx, "UPDATE api_keys SET revoked_at = @r WHERE id = @id AND revoked_at IS NULL", cancellationToken,
            ("r", Ms(at)), ("id", id.Value)).ConfigureAwait(false) > 0, null, cancellationToken));

    private const string ApiKeySelect = "SELECT id, user_id, label, secret_hash, scopes, store_id, created_at, revoked_at FROM api_keys";

    private static ApiKeyRecord ReadApiKey(DbDataReader r)
        => new(
            new ApiKeyId(r.GetString(0)), new UserId(r.GetString(1)), r.GetString(2), r.GetString(3),
            r.GetString(4).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Permissions.Parse).ToHashSet(),
            r.IsDBNull(5) ? null : new StoreId(r.GetString(5)),
            Time(r.GetInt64(6)),
            r.IsDBNull(7) ? null : Time(r.GetInt64(7)));

    // ---- idempotency ----

    /// <inheritdoc/>
    public Task<IdempotencyRecord?> TryReserveIdempotencyKeyAsync(IdempotencyRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Write<IdempotencyRecord?>(async (c, tx) =>
        {
            var inserted = await Execute(c, tx, "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at) VALUES (@s, @k, @h, @c) ON CONFLICT (scope, idem_key) DO NOTHING", cancellationToken,
                ("s", record.Scope), ("k", record.Key), ("h", record.RequestHash), ("c", Ms(record.CreatedAt))).ConfigureAwait(false);
            if (inserted == 1)
            {
                return null;
            }

            await using var cmd = Command(c, tx, "SELECT scope, idem_key, request_hash, status_code, content_type, body, created_at FROM idempotency_keys WHERE scope = @s AND idem_key = @k",
                ("s", record.Scope), ("k", record.Key));
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new MerchantException(MerchantErrorReason.ConcurrencyConflict, "The idempotency key changed concurrently; retry.");
            }

            IdempotentResponse? response = reader.IsDBNull(3) ? null
                : new IdempotentResponse(Convert.ToInt32(reader.GetValue(3), CultureInfo.InvariantCulture), reader.GetString(4), (byte[])reader.GetValue(5));
            return new IdempotencyRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), response, Time(reader.GetInt64(6)));
        }, null, cancellationToken);
    }

    /// <inheritdoc/>
    public Task CompleteIdempotencyKeyAsync(string scope, string key, IdempotentResponse response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        return Write((c, tx) => CompleteIdempotencyKeyAsync(c, tx, scope, key, response, cancellationToken), null, cancellationToken);
    }

    private static async Task CompleteIdempotencyKeyAsync(DbConnection c, DbTransaction tx, string scope, string key, IdempotentResponse response, CancellationToken cancellationToken)
    {
        var n = await Execute(c, tx, "UPDATE idempotency_keys SET status_code = @st, content_type = @ct, body = @b WHERE scope = @s AND idem_key = @k AND status_code IS NULL", cancellationToken,
            ("st", response.StatusCode), ("ct", response.ContentType), ("b", response.Body), ("s", scope), ("k", key)).ConfigureAwait(false);
        if (n == 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidState, "The idempotency key is not reserved or already completed.");
        }
    }

    /// <inheritdoc/>
    public Task ReleaseIdempotencyKeyAsync(string scope, string key, CancellationToken cancellationToken = default)
        => Write(async (c, tx) => await Execute(c, tx, "DELETE FROM idempotency_keys WHERE scope = @s AND idem_key = @k AND status_code IS NULL", cancellationToken,
            ("s", scope), ("k", key)).ConfigureAwait(false), null, cancellationToken);

    /// <inheritdoc/>
    public Task<int> PurgeIdempotencyKeysAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
        => Write(async (c, tx) => await Execute(c, tx, "DELETE FROM idempotency_keys WHERE created_at < @b", cancellationToken, ("b", Ms(before))).ConfigureAwait(false),
            null, cancellationToken);

    // ---- invoices ----

    /// <inheritdoc/>
    public Task CreateInvoiceAsync(Invoice invoice, CancellationToken cancellationToken = default) => CreateInvoiceAsync(invoice, null, cancellationToken);

    /// <inheritdoc />
    public async Task CreateInvoiceAsync(Invoice invoice, IdempotentCompletion? idempotency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        if (invoice.Version != 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidState, "Only a new invoice (version 0) can be created.");
        }

        // Inside an idempotent request whose endpoint registered its response, the key is completed in the same
        // transaction as the insert (rendered here, on the caller's thread, not on the single writer).
        var completion = idempotency;
        var response = completion?.TakeInvoiceResponse() is { } render ? render(invoice) : null;
        await Write(async (c, tx) =>
        {
            await Execute(c, tx, """
                INSERT INTO invoices (id, store_id, status, additional_status, order_id, created_at, expires_at, monitoring_expires_at, version, document)
                VALUES (@id, @s, @st, @ad, @o, @c, @e, @m, 1, @d)
                """, cancellationToken,
                ("id", invoice.Id.Value), ("s", invoice.StoreId.Value), ("st", invoice.Status.ToString()), ("ad", invoice.AdditionalStatus.ToString()),
                ("o", invoice.OrderId), ("c", Ms(invoice.CreatedAt)), ("e", Ms(invoice.ExpiresAt)), ("m", Ms(invoice.MonitoringExpiresAt)),
                ("d", InvoiceDocument.Serialize(invoice))).ConfigureAwait(false);
            foreach (var p in invoice.Prompts)
            {
                await Execute(c, tx, "INSERT INTO invoice_lookups (method, lookup_key, invoice_id) VALUES (@m, @k, @i)", cancellationToken,
                    ("m", p.Method.ToString()), ("k", p.LookupKey), ("i", invoice.Id.Value)).ConfigureAwait(false);
            }

            if (response is not null)
            {
                await CompleteIdempotencyKeyAsync(c, tx, completion!.Scope, completion.Key, response, cancellationToken).ConfigureAwait(false);
            }
        }, $"Invoice {invoice.Id} or one of its payment destinations already exists.", cancellationToken, foreignKeyMessage: $"No store {invoice.StoreId}.").ConfigureAwait(false);
        invoice.Version = 1;
        if (response is not null)
        {
            completion!.MarkCompleted(response);
        }
    }

    /// <inheritdoc/>
    public async Task UpdateInvoiceAsync(Invoice invoice, IReadOnlyList<JournalEntry> journalEntries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        ArgumentNullException.ThrowIfNull(journalEntries);
        await Write(async (c, tx) =>
        {
            var n = await Execute(c, tx, """
                UPDATE invoices SET status = @st, additional_status = @ad, version = version + 1, document = @d
                WHERE id = @id AND version = @v
                """, cancellationToken,
                ("st", invoice.Status.ToString()), ("ad", invoice.AdditionalStatus.ToString()), ("d", InvoiceDocument.Serialize(invoice)),
                ("id", invoice.Id.Value), ("v", invoice.Version)).ConfigureAwait(false);
            if (n == 0)
            {
                throw new MerchantException(MerchantErrorReason.ConcurrencyConflict, $"Invoice {invoice.Id} changed since version {invoice.Version} was read (or does not exist).");
            }

            foreach (var entry in journalEntries)
            {
                await InsertEntry(c, tx, entry, cancellationToken).ConfigureAwait(false);
            }
        }, "A journal entry with the same id was already posted.", cancellationToken).ConfigureAwait(false);
        invoice.Version++;
    }

    /// <inheritdoc/>
    public Task<Invoice?> GetInvoiceAsync(InvoiceId id, CancellationToken cancellationToken = default)
        => QuerySingle("SELECT document, version FROM invoices WHERE id = @id", ReadInvoice, cancellationToken, ("id", id.Value));

    /// <inheritdoc/>
    public Task<Invoice?> FindInvoiceByPaymentDestinationAsync(PaymentMethodId method, string lookupKey, CancellationToken cancellationToken = default)
        => QuerySingle("SELECT i.document, i.version FROM invoices i JOIN invoice_lookups l ON l.invoice_id = i.id WHERE l.method = @m AND l.lookup_key = @k",
            ReadInvoice, cancellationToken, ("m", method.ToString()), ("k", lookupKey));

    /// <inheritdoc/>
    public Task<IReadOnlyList<Invoice>> ListInvoicesAsync(StoreId store, InvoiceQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        CheckPage(query.Skip, query.Take);
        var sql = "SELECT document, version FROM invoices WHERE store_id = @s"
            + (query.Status is null ? "" : " AND status = @st")
            + (query.OrderId is null ? "" : " AND order_id = @o")
            + " ORDER BY created_at DESC, id DESC LIMIT @take OFFSET @skip";
        var parameters = new List<(string, object?)> { ("s", store.Value), ("take", query.Take), ("skip", query.Skip) };
        if (query.Status is { } st)
        {
            parameters.Add(("st", st.ToString()));
        }

        if (query.OrderId is { } o)
        {
            parameters.Add(("o", o));
        }

        return Query(sql, ReadInvoice, cancellationToken, [.. parameters]);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<Invoice>> ListMonitoredInvoicesAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
        => Query("""
            SELECT document, version FROM invoices
            WHERE additional_status <> 'Marked' AND (status IN ('New', 'Processing') OR (status = 'Expired' AND monitoring_expires_at >= @now))
            ORDER BY created_at, id
            """, ReadInvoice, cancellationToken, ("now", Ms(now)));

    private static Invoice ReadInvoice(DbDataReader r) => InvoiceDocument.Deserialize(r.GetString(0), r.GetInt64(1));

    // ---- ledger ----

    /// <inheritdoc/>
    public Task PostJournalEntriesAsync(IReadOnlyList<JournalEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return Write(async (c, tx) =>
        {
            foreach (var e in entries)
            {
                await InsertEntry(c, tx, e, cancellationToken).ConfigureAwait(false);
            }
        }, "A journal entry with the same id was already posted.", cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<AccountBalance>> GetBalancesAsync(StoreId? store = null, CancellationToken cancellationToken = default)
    {
        var sql = "SELECT store_id, account, currency, SUM(CASE WHEN side = 'Debit' THEN amount ELSE 0 END), SUM(CASE WHEN side = 'Credit' THEN amount ELSE 0 END) FROM postings"
            + (store is null ? "" : " WHERE store_id = @s")
            + " GROUP BY store_id, account, currency";
        var rows = await Query(sql, r => new AccountBalance(
                new LedgerAccount(new StoreId(r.GetString(0)), Enum.Parse<LedgerAccountKind>(r.GetString(1))),
                r.GetString(2),
                Convert.ToInt64(r.GetValue(3), CultureInfo.InvariantCulture),
                Convert.ToInt64(r.GetValue(4), CultureInfo.InvariantCulture)),
            cancellationToken, store is null ? [] : [("s", store.Value.Value)]).ConfigureAwait(false);

        // Same order as MerchantLedger.Balances: store (ordinal), account kind, currency.
        return rows.OrderBy(b => b.Account.Store.Value, StringComparer.Ordinal).ThenBy(b => b.Account.Kind).ThenBy(b => b.Currency, StringComparer.Ordinal).ToArray();
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<JournalEntry>> ListJournalEntriesAsync(StoreId? store, int skip, int take, CancellationToken cancellationToken = default)
    {
        CheckPage(skip, take);
        var entrySql = "SELECT e.id, e.at, e.description FROM journal_entries e"
            + (store is null ? "" : " WHERE EXISTS (SELECT 1 FROM postings p WHERE p.entry_id = e.id AND p.store_id = @s)")
            + " ORDER BY e.seq LIMIT @take OFFSET @skip";
        (string, object?)[] parameters = store is null ? [("take", take), ("skip", skip)] : [("s", store.Value.Value), ("take", take), ("skip", skip)];
        return await Guard(async () =>
        {
            await using var c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = await c.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            var heads = new List<(string Id, long At, string Description)>();
            await using (var cmd = Command(c, tx, entrySql, parameters))
            await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    heads.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
                }
            }

            var result = new List<JournalEntry>(heads.Count);
            foreach (var (id, at, description) in heads)
            {
                var postings = new List<Posting>();
                await using var pc = Command(c, tx, "SELECT store_id, account, side, currency, amount FROM postings WHERE entry_id = @e ORDER BY line", ("e", id));
                await using var pr = await pc.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await pr.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    postings.Add(new Posting(
                        new LedgerAccount(new StoreId(pr.GetString(0)), Enum.Parse<LedgerAccountKind>(pr.GetString(1))),
                        Enum.Parse<PostingSide>(pr.GetString(2)), pr.GetString(3), Convert.ToInt64(pr.GetValue(4), CultureInfo.InvariantCulture)));
                }

                result.Add(JournalEntry.Restore(id, Time(at), description, postings));
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (IReadOnlyList<JournalEntry>)result;
        }).ConfigureAwait(false);
    }

    private static async Task InsertEntry(DbConnection c, DbTransaction tx, JournalEntry entry, CancellationToken cancellationToken)
    {
        await Execute(c, tx, "INSERT INTO journal_entries (id, at, description) VALUES (@id, @at, @d)", cancellationToken,
            ("id", entry.Id), ("at", Ms(entry.At)), ("d", entry.Description)).ConfigureAwait(false);
        for (var i = 0; i < entry.Postings.Length; i++)
        {
            var p = entry.Postings[i];
            await Execute(c, tx, "INSERT INTO postings (entry_id, line, store_id, account, side, currency, amount) VALUES (@e, @l, @s, @a, @side, @cur, @amt)", cancellationToken,
                ("e", entry.Id), ("l", i), ("s", p.Account.Store.Value), ("a", p.Account.Kind.ToString()), ("side", p.Side.ToString()), ("cur", p.Currency), ("amt", p.Amount)).ConfigureAwait(false);
        }
    }

    // ---- plumbing ----

    private static void CheckPage(int skip, int take)
    {
        if (skip < 0 || take is < 1 or > MaxPage)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"Paging needs skip >= 0 and 1 <= take <= {MaxPage}.");
        }
    }

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value ?? DBNull.Value;

            cmd.Parameters.Add(p);
        }

        return cmd;
    }

    private static async Task<int> Execute(DbConnection c, DbTransaction? tx, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        // On the group-commit writer's connection the statement is prepared once and re-bound (see PreparedCommands).
        if (PreparedCommands.Of(c)?.TryGet(c, tx, sql) is { } prepared)
        {
            Bind(prepared, parameters);
            return await prepared.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var cmd = Command(c, tx, sql, parameters);
        return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Bind(DbCommand cmd, (string Name, object? Value)[] parameters)
    {
        var existing = cmd.Parameters;
        if (existing.Count != parameters.Length)
        {
            existing.Clear();
            foreach (var (name, value) in parameters)
            {
                var p = cmd.CreateParameter();
                p.ParameterName = "@" + name;
                p.Value = value ?? DBNull.Value;
                existing.Add(p);
            }

            return;
        }

        for (var i = 0; i < parameters.Length; i++)
        {
            var p = existing[i];
            if (!p.ParameterName.AsSpan(1).SequenceEqual(parameters[i].Name))
            {
                p.ParameterName = "@" + parameters[i].Name;
            }

            p.Value = parameters[i].Value ?? DBNull.Value;
        }
    }

    private async Task<IReadOnlyList<T>> Query<T>(string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        => await Guard(async () =>
        {
            await using var c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var cmd = Command(c, null, sql, parameters);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<T>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(read(reader));
            }

            return (IReadOnlyList<T>)list;
        }).ConfigureAwait(false);

    private async Task<T?> QuerySingle<T>(string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class
    {
        var rows = await Query(sql, read, cancellationToken, parameters).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private Task Write(Func<DbConnection, DbTransaction, Task> work, string? duplicateMessage, CancellationToken cancellationToken, string? foreignKeyMessage = null)
        => Write(async (c, tx) =>
        {
            await work(c, tx).ConfigureAwait(false);
            return 0;
        }, duplicateMessage, cancellationToken, foreignKeyMessage);

    private Task<T> Write<T>(Func<DbConnection, DbTransaction, Task<T>> work, string? duplicateMessage, CancellationToken cancellationToken, string? foreignKeyMessage = null)
    {
        if (GroupCommit)
        {
            var item = new GroupCommitWriter.Item<T>(work, e => MapWriteError(e, duplicateMessage, foreignKeyMessage), cancellationToken);
            EnsureWriter().Enqueue(item);
            return item.Task;
        }

        return WriteAlone(work, duplicateMessage, cancellationToken, foreignKeyMessage);
    }

    private async Task<T> WriteAlone<T>(Func<DbConnection, DbTransaction, Task<T>> work, string? duplicateMessage, CancellationToken cancellationToken, string? foreignKeyMessage)
        => await Guard(async () =>
        {
            await using var c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
            T result;
            try
            {
                result = await work(c, tx).ConfigureAwait(false);
            }
            catch (DbException e) when (MapWriteError(e, duplicateMessage, foreignKeyMessage) is { } mapped)
            {
                throw mapped;
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }).ConfigureAwait(false);

    /// <summary>
    /// When true (SQLite), writes are group-committed: concurrent writes queue to one writer that runs each in its own
    /// savepoint inside one transaction and commits the batch with a single sync; every caller's task completes only
    /// after that commit, so a write is durable before its caller continues, exactly as with one transaction per write.
    /// </summary>
    private protected virtual bool GroupCommit => false;

    private GroupCommitWriter? _writer;
    private readonly Lock _writerLock = new();

    private GroupCommitWriter EnsureWriter()
    {
        if (_writer is { } w)
        {
            return w;
        }

        lock (_writerLock)
        {
            return _writer ??= new GroupCommitWriter(
                () => OpenConnectionAsync(CancellationToken.None),
                c => BeginWriteAsync(c, CancellationToken.None),
                e => new MerchantException(MerchantErrorReason.StorageFailure, "The merchant database failed: " + e.Message, e));
        }
    }

    private readonly ReadCache<StoreId, Store?> _stores = new();
    private readonly ReadCache<(StoreId, UserId), StoreRole?> _roles = new();
    private readonly ReadCache<string, ApiKeyRecord?> _apiKeys = new();

    private void ClearAuthCaches()
    {
        _stores.Clear();
        _roles.Clear();
        _apiKeys.Clear();
    }

    private async Task ClearingAuthCaches(Task write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        finally
        {
            ClearAuthCaches();
        }
    }

    private async Task<T> ClearingAuthCaches<T>(Task<T> write)
    {
        try
        {
            return await write.ConfigureAwait(false);
        }
        finally
        {
            ClearAuthCaches();
        }
    }

    /// <summary>Stops the group-commit writer after the queued writes (called by providers on dispose).</summary>
    /// <returns>A task.</returns>
    private protected async Task StopWriterAsync()
    {
        GroupCommitWriter? writer;
        lock (_writerLock)
        {
            writer = _writer;
        }

        if (writer is not null)
        {
            await writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The typed error for a failed write statement, or null when it is not a constraint violation.</summary>
    private Exception? MapWriteError(Exception e, string? duplicateMessage, string? foreignKeyMessage) => e switch
    {
        DbException d when IsUniqueViolation(d) => new MerchantException(MerchantErrorReason.AlreadyExists, duplicateMessage ?? "A row with the same key already exists.", d),
        DbException d when IsForeignKeyViolation(d) => new MerchantException(MerchantErrorReason.NotFound, foreignKeyMessage ?? "A referenced row does not exist.", d),
        MerchantException or OperationCanceledException => e,
        DbException or InvalidOperationException or IOException or TimeoutException => new MerchantException(MerchantErrorReason.StorageFailure, "The merchant database failed: " + e.Message, e),
        _ => null,
    };

    /// <summary>Whether an exception is a foreign-key violation.</summary>
    private protected abstract bool IsForeignKeyViolation(DbException exception);

    private static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (MerchantException)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
        {
            throw new MerchantException(MerchantErrorReason.StorageFailure, "The merchant database failed: " + e.Message, e);
        }
    }
}
