using Satflow.Merchant.Persistence;
using Satflow.Payouts;
using Satflow.Webhooks;

namespace Satflow.Server.Hosting;

/// <summary>The server's databases: the merchant repository and the webhook store, both SQLite files in the data directory or both in one PostgreSQL schema. Opening applies the migrations.</summary>
public sealed class ServerStorage : IAsyncDisposable
{
    private ServerStorage(IMerchantRepository merchant, IWebhookStore webhooks, IPayoutStore payouts, string kind)
    {
        Merchant = merchant;
        Webhooks = webhooks;
        Payouts = payouts;
        Kind = kind;
    }

    /// <summary>The merchant repository.</summary>
    public IMerchantRepository Merchant { get; }

    /// <summary>The webhook outbox and delivery log.</summary>
    public IWebhookStore Webhooks { get; }

    /// <summary>Pull payments and payouts.</summary>
    public IPayoutStore Payouts { get; }

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public string Kind { get; }

    /// <summary>Opens (and migrates) the storage the options select.</summary>
    /// <param name="options">The options.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The storage.</returns>
    public static async Task<ServerStorage> OpenAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.DataDirectory);
        if (options.PostgresConnectionString is { } cs)
        {
            var merchant = await PostgresMerchantRepository.OpenAsync(cs, options.PostgresSchema, cancellationToken).ConfigureAwait(false);
            IWebhookStore? webhooks = null;
            try
            {
                webhooks = await SqlWebhookStore.OpenPostgresAsync(cs, options.PostgresSchema, cancellationToken).ConfigureAwait(false);
                var payouts = await PayoutStore.OpenPostgresAsync(cs, options.PostgresSchema, cancellationToken).ConfigureAwait(false);
                return new ServerStorage(merchant, webhooks, payouts, "postgres");
            }
            catch
            {
                if (webhooks is not null)
                {
                    await webhooks.DisposeAsync().ConfigureAwait(false);
                }

                await merchant.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        var sqlite = await SqliteMerchantRepository.OpenInDataDirectoryAsync(options.DataDirectory, cancellationToken).ConfigureAwait(false);
        IWebhookStore? hooks = null;
        try
        {
            hooks = await SqlWebhookStore.OpenSqliteAsync(Path.Combine(options.DataDirectory, "webhooks.db"), cancellationToken).ConfigureAwait(false);
            var payouts = await PayoutStore.OpenSqliteAsync(Path.Combine(options.DataDirectory, "payouts.db"), cancellationToken).ConfigureAwait(false);
            return new ServerStorage(sqlite, hooks, payouts, "sqlite");
        }
        catch
        {
            if (hooks is not null)
            {
                await hooks.DisposeAsync().ConfigureAwait(false);
            }

            await sqlite.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A cheap read against both databases (for <c>/health</c>).</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task that fails when storage is unusable.</returns>
    public async Task ProbeAsync(CancellationToken cancellationToken = default)
    {
        await Merchant.GetStoreAsync(new Merchant.StoreId("health-probe"), cancellationToken).ConfigureAwait(false);
        await Webhooks.GetSubscriptionAsync("health-probe", cancellationToken).ConfigureAwait(false);
        await Payouts.ListPullPaymentsAsync("health-probe", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Payouts.DisposeAsync().ConfigureAwait(false);
        await Webhooks.DisposeAsync().ConfigureAwait(false);
        await Merchant.DisposeAsync().ConfigureAwait(false);
    }
}
