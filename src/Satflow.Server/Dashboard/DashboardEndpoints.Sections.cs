using System.Globalization;
using System.Text;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Persistence;
using Satflow.Node.Api;
using Satflow.Payouts;
using Satflow.Webhooks;
using static Satflow.Server.Dashboard.DashboardHtml;

namespace Satflow.Server.Dashboard;

/// <summary>Payouts, webhooks, API keys and the node pages.</summary>
public static partial class DashboardEndpoints
{
    /// <summary>What the node pages show when no <see cref="INodeOperations"/> is registered.</summary>
    public const string NoNodeText = "No Lightning node in this server.";

    private static void MapSections(RouteGroupBuilder d)
    {
        d.MapGet("/stores/{storeId}/payouts", PayoutsAsync);
        d.MapPost("/stores/{storeId}/pull-payments", CreatePullPaymentAsync);
        d.MapPost("/stores/{storeId}/payouts/{payoutId}/approve", ApprovePayoutAsync);
        d.MapPost("/stores/{storeId}/payouts/{payoutId}/cancel", CancelPayoutAsync);
        d.MapGet("/stores/{storeId}/webhooks", WebhooksAsync);
        d.MapPost("/stores/{storeId}/webhooks", CreateWebhookAsync);
        d.MapGet("/stores/{storeId}/webhooks/{webhookId}", DeliveriesAsync);
        d.MapPost("/stores/{storeId}/webhooks/{webhookId}/delete", DeleteWebhookAsync);
        d.MapPost("/stores/{storeId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver", RedeliverAsync);
        d.MapGet("/api-keys", ApiKeysAsync);
        d.MapPost("/api-keys", CreateApiKeyAsync);
        d.MapPost("/api-keys/{keyId}/revoke", RevokeApiKeyAsync);
        d.MapGet("/node", H(NodeAsync));
        d.MapGet("/wallet", H(WalletAsync));
        d.MapPost("/wallet/address", H(NewAddressAsync));
        d.MapGet("/channels", H(ChannelsAsync));
    }

    // ---- payouts -------------------------------------------------------------------------------------------------

    private static async Task<IResult> PayoutsAsync(HttpContext http, PayoutService payouts, string storeId)
    {
        var (store, role) = await StoreAccessAsync(http, storeId, Permission.PayoutsView, false).ConfigureAwait(false);
        var pulls = await payouts.ListPullPaymentsAsync(store.Id.Value, http.RequestAborted).ConfigureAwait(false);
        var list = await payouts.ListPayoutsAsync(new PayoutQuery { StoreId = store.Id.Value }, http.RequestAborted).ConfigureAwait(false);
        var manage = CanChange(role, Permission.PayoutsManage);
        var b = StoreBase(store);
        var sb = new StringBuilder("<h2>Pull payments</h2>");
        if (pulls.Count == 0)
        {
            sb.Append("<p>No pull payments.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"pull-payments\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Amount</th><th scope=\"col\">Claimed</th><th scope=\"col\">Starts</th><th scope=\"col\">Expires</th><th scope=\"col\">State</th></tr></thead><tbody>");
            foreach (var p in pulls)
            {
                sb.Append("<tr><td>").Append(E(p.Name)).Append("<br><code>").Append(E(p.Id.Value)).Append("</code></td><td>").Append(E(Amount(p.Amount, p.Currency))).Append("</td><td>")
                  .Append(E(Amount(p.Claimed, p.Currency))).Append("</td><td>").Append(Time(p.StartsAt)).Append("</td><td>").Append(Time(p.ExpiresAt)).Append("</td><td>")
                  .Append(p.Archived ? "archived" : "active").Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        if (manage)
        {
            sb.Append("<h3>Create a pull payment</h3>").Append(FormStart(Page(http), b + "/pull-payments", "card grid"))
              .Append(Field("name", "Name", required: true, extra: "maxlength=\"200\""))
              .Append(Field("amount", "Amount", required: true, extra: "inputmode=\"decimal\""))
              .Append(Field("currency", "Currency", value: store.DefaultCurrency, required: true, extra: "maxlength=\"8\""))
              .Append("<button type=\"submit\">Create pull payment</button></form>");
        }

        sb.Append("<h2>Payouts</h2>");
        if (list.Count == 0)
        {
            sb.Append("<p>No payouts.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"payouts\"><thead><tr><th scope=\"col\">Payout</th><th scope=\"col\">Method</th><th scope=\"col\">Destination</th><th scope=\"col\">Amount</th><th scope=\"col\">State</th><th scope=\"col\">Created</th>")
              .Append(manage ? "<th scope=\"col\">Actions</th>" : "").Append("</tr></thead><tbody>");
            foreach (var p in list)
            {
                sb.Append("<tr data-payout=\"").Append(E(p.Id.Value)).Append("\"><td><code>").Append(E(p.Id.Value)).Append("</code></td><td>").Append(E(p.Method.ToString())).Append("</td><td><code class=\"wrap\">")
                  .Append(E(p.Destination.Value)).Append("</code></td><td>").Append(E(Amount(p.Amount, p.Currency))).Append(p.PayAmount is { } pa ? " (" + Sats(pa) + ")" : "").Append("</td><td>")
                  .Append(Badge(p.State.ToString())).Append(p.FailureReason is null ? "" : " " + E(p.FailureReason)).Append("</td><td>").Append(Time(p.CreatedAt)).Append("</td>");
                if (manage)
                {
                    sb.Append("<td class=\"actions\">");
                    if (p.State == PayoutState.AwaitingApproval)
                    {
                        sb.Append(FormStart(Page(http), b + "/payouts/" + U(p.Id.Value) + "/approve", "inline"));
                        if (!string.Equals(p.Currency, "BTC", StringComparison.OrdinalIgnoreCase))
                        {
                            sb.Append(Field("btcPerUnit-" + p.Id.Value, "BTC per " + p.Currency, required: true, extra: "inputmode=\"decimal\""));
                        }

                        sb.Append("<button type=\"submit\">Approve</button></form>");
                    }

                    if (!p.IsFinal && p.State != PayoutState.InProgress)
                    {
                        sb.Append(ButtonForm(Page(http), b + "/payouts/" + U(p.Id.Value) + "/cancel", "Cancel"));
                    }

                    sb.Append("</td>");
                }

                sb.Append("</tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        return Html(http, Layout(Page(http), "Payouts", sb.ToString(), StoreNav(store.Id.Value, store.Name, role)));
    }

    private static string Amount(decimal amount, string currency) => amount.ToString(CultureInfo.InvariantCulture) + " " + currency;

    private static decimal ParseAmount(string? text, string what)
        => decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"{what} must be a positive number.");

    private static async Task<IResult> CreatePullPaymentAsync(HttpContext http, PayoutService payouts, string storeId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.PayoutsManage, true).ConfigureAwait(false);
        var form = await FormAsync(http).ConfigureAwait(false);
        await payouts.CreatePullPaymentAsync(new CreatePullPaymentRequest
        {
            StoreId = store.Id.Value,
            Name = Text(form, "name") ?? "",
            Amount = ParseAmount(Text(form, "amount"), "The amount"),
            Currency = (Text(form, "currency") ?? store.DefaultCurrency).ToUpperInvariant(),
        }, http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/payouts");
    }

    private static async Task<Payout> StorePayoutAsync(HttpContext http, PayoutService payouts, string storeId, string payoutId)
    {
        var p = await payouts.GetPayoutAsync(new PayoutId(payoutId), http.RequestAborted).ConfigureAwait(false);
        return p.StoreId == storeId ? p : throw new PayoutsException(PayoutsErrorReason.NotFound, $"No payout {payoutId}.");
    }

    private static async Task<IResult> ApprovePayoutAsync(HttpContext http, PayoutService payouts, string storeId, string payoutId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.PayoutsManage, true).ConfigureAwait(false);
        var payout = await StorePayoutAsync(http, payouts, store.Id.Value, payoutId).ConfigureAwait(false);
        var form = await FormAsync(http).ConfigureAwait(false);
        decimal? rate = Text(form, "btcPerUnit-" + payout.Id.Value) is { } r ? ParseAmount(r, "The rate") : null;
        await payouts.ApproveAsync(payout.Id, rate, http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/payouts");
    }

    private static async Task<IResult> CancelPayoutAsync(HttpContext http, PayoutService payouts, string storeId, string payoutId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.PayoutsManage, true).ConfigureAwait(false);
        var payout = await StorePayoutAsync(http, payouts, store.Id.Value, payoutId).ConfigureAwait(false);
        await payouts.CancelAsync(payout.Id, "Cancelled in the dashboard", http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/payouts");
    }

    // ---- webhooks ------------------------------------------------------------------------------------------------

    private static async Task<IResult> WebhooksAsync(HttpContext http, IWebhookStore hooks, string storeId)
        => await RenderWebhooksAsync(http, hooks, storeId, null).ConfigureAwait(false);

    private static async Task<IResult> RenderWebhooksAsync(HttpContext http, IWebhookStore hooks, string storeId, WebhookSubscription? created)
    {
        var (store, role) = await StoreAccessAsync(http, storeId, Permission.WebhooksManage, false).ConfigureAwait(false);
        var list = await hooks.ListSubscriptionsAsync(store.Id.Value, http.RequestAborted).ConfigureAwait(false);
        var b = StoreBase(store);
        var sb = new StringBuilder();
        if (created is not null)
        {
            sb.Append("<div class=\"card notice\" role=\"status\"><p>Webhook created. Its signing secret is shown <strong>only now</strong>:</p><p><label for=\"secret\">Signing secret</label> <input id=\"secret\" readonly value=\"")
              .Append(E(created.Secret)).Append("\"></p></div>");
        }

        if (list.Count == 0)
        {
            sb.Append("<p>No webhooks.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"webhooks\"><thead><tr><th scope=\"col\">URL</th><th scope=\"col\">Events</th><th scope=\"col\">Enabled</th><th scope=\"col\">Created</th></tr></thead><tbody>");
            foreach (var s in list)
            {
                sb.Append("<tr><td><a href=\"").Append(b).Append("/webhooks/").Append(U(s.Id)).Append("\">").Append(E(s.Url.ToString())).Append("</a></td><td>")
                  .Append(s.EventTypes.Count == 0 ? "all" : E(string.Join(", ", s.EventTypes))).Append("</td><td>").Append(s.Enabled ? "yes" : "no").Append("</td><td>")
                  .Append(Time(s.CreatedAt)).Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        if (CanChange(role, Permission.WebhooksManage))
        {
            sb.Append("<h2>Add a webhook</h2>").Append(FormStart(Page(http), b + "/webhooks", "card grid"))
              .Append(Field("url", "URL", "url", required: true))
              .Append(Field("events", "Event types (comma-separated, empty for all)", extra: "placeholder=\"invoice.settled, payout.completed\""))
              .Append("<button type=\"submit\">Add webhook</button></form>");
        }

        return Html(http, Layout(Page(http), "Webhooks", sb.ToString(), StoreNav(store.Id.Value, store.Name, role)));
    }

    private static async Task<IResult> CreateWebhookAsync(HttpContext http, IWebhookStore hooks, TimeProvider time, string storeId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.WebhooksManage, true).ConfigureAwait(false);
        var form = await FormAsync(http).ConfigureAwait(false);
        if (!Uri.TryCreate(Text(form, "url"), UriKind.Absolute, out var url))
        {
            throw new WebhookException(WebhookErrorReason.InvalidUrl, "The URL must be absolute (https://...).");
        }

        var events = (Text(form, "events") ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var subscription = WebhookSubscription.Create(store.Id.Value, url, time, null, events);
        await hooks.SaveSubscriptionAsync(subscription, http.RequestAborted).ConfigureAwait(false);
        return await RenderWebhooksAsync(http, hooks, storeId, subscription).ConfigureAwait(false);
    }

    private static async Task<(Merchant.Accounts.Store Store, StoreRole Role, WebhookSubscription Hook)> StoreWebhookAsync(HttpContext http, IWebhookStore hooks, string storeId, string webhookId, bool change)
    {
        var (store, role) = await StoreAccessAsync(http, storeId, Permission.WebhooksManage, change).ConfigureAwait(false);
        var s = await hooks.GetSubscriptionAsync(webhookId, http.RequestAborted).ConfigureAwait(false);
        return s is not null && s.OwnerId == store.Id.Value ? (store, role, s) : throw new WebhookException(WebhookErrorReason.NotFound, $"No webhook {webhookId}.");
    }

    private static async Task<IResult> DeliveriesAsync(HttpContext http, IWebhookStore hooks, string storeId, string webhookId)
    {
        var (store, role, hook) = await StoreWebhookAsync(http, hooks, storeId, webhookId, false).ConfigureAwait(false);
        var deliveries = await hooks.ListDeliveriesAsync(hook.Id, 100, http.RequestAborted).ConfigureAwait(false);
        var manage = CanChange(role, Permission.WebhooksManage);
        var b = StoreBase(store) + "/webhooks/" + U(hook.Id);
        var sb = new StringBuilder("<dl class=\"facts\"><dt>URL</dt><dd>").Append(E(hook.Url.ToString())).Append("</dd><dt>Events</dt><dd>")
            .Append(hook.EventTypes.Count == 0 ? "all" : E(string.Join(", ", hook.EventTypes))).Append("</dd><dt>Enabled</dt><dd>").Append(hook.Enabled ? "yes" : "no").Append("</dd></dl>");
        if (manage)
        {
            sb.Append("<div class=\"actions\">").Append(ButtonForm(Page(http), b + "/delete", "Delete webhook")).Append("</div>");
        }

        sb.Append("<h2>Deliveries</h2>");
        if (deliveries.Count == 0)
        {
            sb.Append("<p id=\"no-deliveries\">No deliveries yet.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"deliveries\"><thead><tr><th scope=\"col\">Event</th><th scope=\"col\">Status</th><th scope=\"col\">Attempts</th><th scope=\"col\">Last response</th><th scope=\"col\">Created</th><th scope=\"col\">Completed</th>")
              .Append(manage ? "<th scope=\"col\">Actions</th>" : "").Append("</tr></thead><tbody>");
            foreach (var x in deliveries)
            {
                sb.Append("<tr data-delivery=\"").Append(E(x.Id)).Append("\" data-event=\"").Append(E(x.EventType)).Append("\"><td>").Append(E(x.EventType))
                  .Append(x.RedeliveryOf is null ? "" : " (redelivery)").Append("</td><td>").Append(Badge(x.Status.ToString())).Append("</td><td>").Append(x.AttemptCount).Append("</td><td>")
                  .Append(x.LastStatusCode is { } c ? c.ToString(CultureInfo.InvariantCulture) : "").Append(x.LastError is null ? "" : " " + E(x.LastError)).Append("</td><td>")
                  .Append(Time(x.CreatedAt)).Append("</td><td>").Append(Time(x.CompletedAt)).Append("</td>");
                if (manage)
                {
                    sb.Append("<td>").Append(ButtonForm(Page(http), b + "/deliveries/" + U(x.Id) + "/redeliver", "Redeliver")).Append("</td>");
                }

                sb.Append("</tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        return Html(http, Layout(Page(http), "Webhook deliveries", sb.ToString(), StoreNav(store.Id.Value, store.Name, role)));
    }

    private static async Task<IResult> DeleteWebhookAsync(HttpContext http, IWebhookStore hooks, string storeId, string webhookId)
    {
        var (store, _, hook) = await StoreWebhookAsync(http, hooks, storeId, webhookId, true).ConfigureAwait(false);
        await hooks.DeleteSubscriptionAsync(hook.Id, http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/webhooks");
    }

    private static async Task<IResult> RedeliverAsync(HttpContext http, IWebhookStore hooks, WebhookDeliveryEngine engine, string storeId, string webhookId, string deliveryId)
    {
        var (store, _, hook) = await StoreWebhookAsync(http, hooks, storeId, webhookId, true).ConfigureAwait(false);
        var delivery = await hooks.GetDeliveryAsync(deliveryId, http.RequestAborted).ConfigureAwait(false);
        if (delivery is null || delivery.SubscriptionId != hook.Id)
        {
            throw new WebhookException(WebhookErrorReason.NotFound, $"No delivery {deliveryId}.");
        }

        await engine.RedeliverAsync(delivery.Id, http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/webhooks/" + U(hook.Id));
    }

    // ---- API keys ------------------------------------------------------------------------------------------------

    private static async Task<IResult> ApiKeysAsync(HttpContext http, IMerchantRepository repo)
        => await RenderApiKeysAsync(http, repo, null).ConfigureAwait(false);

    private static async Task<IResult> RenderApiKeysAsync(HttpContext http, IMerchantRepository repo, string? token)
    {
        var user = CurrentUser(http);
        var keys = await repo.ListApiKeysAsync(user.Id, http.RequestAborted).ConfigureAwait(false);
        var stores = await repo.ListStoresForUserAsync(user.Id, http.RequestAborted).ConfigureAwait(false);
        var sb = new StringBuilder();
        if (token is not null)
        {
            sb.Append("<div class=\"card notice\" role=\"status\"><p>API key created. It is shown <strong>only now</strong>; store it safely:</p><p><label for=\"new-key\">API key</label> <input id=\"new-key\" readonly value=\"")
              .Append(E(token)).Append("\"></p></div>");
        }

        if (keys.Count == 0)
        {
            sb.Append("<p>No API keys.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"api-keys\"><thead><tr><th scope=\"col\">Label</th><th scope=\"col\">Scopes</th><th scope=\"col\">Store</th><th scope=\"col\">Created</th><th scope=\"col\">State</th></tr></thead><tbody>");
            foreach (var k in keys)
            {
                var storeName = k.StoreId is { } sid ? stores.FirstOrDefault(s => s.Store.Id == sid).Store?.Name ?? sid.Value : "all";
                sb.Append("<tr data-key=\"").Append(E(k.Id.Value)).Append("\"><td>").Append(E(k.Label)).Append("</td><td>").Append(E(string.Join(", ", k.Scopes.Order().Select(p => p.ToScopeName()))))
                  .Append("</td><td>").Append(E(storeName)).Append("</td><td>").Append(Time(k.CreatedAt)).Append("</td><td>");
                sb.Append(k.IsRevoked ? "revoked " + Time(k.RevokedAt) : ButtonForm(Page(http), DashboardSetup.Prefix + "/api-keys/" + U(k.Id.Value) + "/revoke", "Revoke"));
                sb.Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        sb.Append("<h2>Create an API key</h2>").Append(FormStart(Page(http), DashboardSetup.Prefix + "/api-keys", "card"))
          .Append(Field("label", "Label", required: true, extra: "maxlength=\"100\""))
          .Append("<fieldset><legend>Scopes</legend><div class=\"checks\">");
        foreach (var p in Permissions.All)
        {
            var name = p.ToScopeName();
            sb.Append("<label><input type=\"checkbox\" name=\"scopes\" value=\"").Append(E(name)).Append("\"> ").Append(E(name)).Append("</label>");
        }

        sb.Append("</div></fieldset>")
          .Append(Select("storeId", "Restrict to store", new[] { ("", "All my stores") }.Concat(stores.Select(s => (s.Store.Id.Value, s.Store.Name))), ""))
          .Append("<button type=\"submit\">Create key</button></form>");
        return Html(http, Layout(Page(http), "API keys", sb.ToString()));
    }

    private static async Task<IResult> CreateApiKeyAsync(HttpContext http, MerchantService merchant, IMerchantRepository repo)
    {
        var form = await FormAsync(http).ConfigureAwait(false);
        var scopes = form["scopes"].Select(s => Permissions.Parse(s)).Distinct().ToArray();
        if (scopes.Length == 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Choose at least one scope.");
        }

        StoreId? store = Text(form, "storeId") is { } sid ? new StoreId(sid) : null;
        if (store is { } s && await repo.GetStoreRoleAsync(s, CurrentUser(http).Id, http.RequestAborted).ConfigureAwait(false) == StoreRole.Guest)
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, "Guests cannot create API keys for a store.");
        }

        var label = Text(form, "label") ?? "";
        if (label.Length > 100)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The label is limited to 100 characters.");
        }

        var created = await merchant.CreateApiKeyAsync(Principal(http), label, scopes, store, http.RequestAborted).ConfigureAwait(false);
        return await RenderApiKeysAsync(http, repo, created.Token).ConfigureAwait(false);
    }

    private static async Task<IResult> RevokeApiKeyAsync(HttpContext http, MerchantService merchant, string keyId)
    {
        await merchant.RevokeApiKeyAsync(Principal(http), new ApiKeyId(keyId), http.RequestAborted).ConfigureAwait(false);
        return SeeOther(DashboardSetup.Prefix + "/api-keys");
    }

    // ---- node ----------------------------------------------------------------------------------------------------

    private static INodeOperations? NodeFor(HttpContext http)
    {
        if (!CurrentUser(http).IsServerAdmin)
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, "Only server administrators see the node.");
        }

        return http.RequestServices.GetService<INodeOperations>();
    }

    private static IResult NoNode(HttpContext http, string title)
        => Html(http, Layout(Page(http), title, "<p id=\"no-node\" class=\"notice\">" + E(NoNodeText) + "</p>"));

    private static async Task<IResult> NodeAsync(HttpContext http)
    {
        if (NodeFor(http) is not { } node)
        {
            return NoNode(http, "Node");
        }

        var info = await node.GetInfoAsync(http.RequestAborted).ConfigureAwait(false);
        var peers = await node.ListPeersAsync(http.RequestAborted).ConfigureAwait(false);
        var sb = new StringBuilder("<dl class=\"facts\" id=\"node-info\"><dt>Node id</dt><dd><code class=\"wrap\">").Append(E(info.NodeId.ToString())).Append("</code></dd>")
            .Append("<dt>Alias</dt><dd>").Append(E(info.Alias)).Append("</dd><dt>Network</dt><dd>").Append(E(info.Network)).Append("</dd>")
            .Append("<dt>Block height</dt><dd>").Append(info.BlockHeight).Append("</dd><dt>Listening on</dt><dd>").Append(E(info.ListenAddresses.Count == 0 ? "—" : string.Join(", ", info.ListenAddresses))).Append("</dd>")
            .Append("<dt>Peers</dt><dd>").Append(info.PeerCount).Append("</dd><dt>Channels</dt><dd>").Append(info.ActiveChannelCount).Append(" active of ").Append(info.ChannelCount).Append("</dd>")
            .Append("<dt>Version</dt><dd>").Append(E(info.Version)).Append("</dd></dl><h2>Peers</h2>");
        if (peers.Count == 0)
        {
            sb.Append("<p>No peers connected.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"peers\"><thead><tr><th scope=\"col\">Node id</th><th scope=\"col\">Address</th><th scope=\"col\">Direction</th></tr></thead><tbody>");
            foreach (var p in peers)
            {
                sb.Append("<tr><td><code class=\"wrap\">").Append(E(p.NodeId.ToString())).Append("</code></td><td>").Append(E(p.Address)).Append("</td><td>").Append(p.Inbound ? "inbound" : "outbound").Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        return Html(http, Layout(Page(http), "Node", sb.ToString()));
    }

    private static async Task<IResult> WalletAsync(HttpContext http)
        => NodeFor(http) is { } node ? await RenderWalletAsync(http, node, null).ConfigureAwait(false) : NoNode(http, "Wallet");

    private static async Task<IResult> NewAddressAsync(HttpContext http)
    {
        if (NodeFor(http) is not { } node)
        {
            return NoNode(http, "Wallet");
        }

        var address = await node.GetNewAddressAsync(http.RequestAborted).ConfigureAwait(false);
        return await RenderWalletAsync(http, node, address).ConfigureAwait(false);
    }

    private static async Task<IResult> RenderWalletAsync(HttpContext http, INodeOperations node, NodeWalletAddress? address)
    {
        var balance = await node.GetBalanceAsync(http.RequestAborted).ConfigureAwait(false);
        var payments = await node.ListPaymentsAsync(http.RequestAborted).ConfigureAwait(false);
        var invoices = await node.ListInvoicesAsync(http.RequestAborted).ConfigureAwait(false);
        var sb = new StringBuilder("<h2>On-chain balance</h2><dl class=\"facts\" id=\"balance\"><dt>Confirmed</dt><dd>").Append(E(Sat(balance.Confirmed))).Append("</dd>")
            .Append("<dt>Unconfirmed</dt><dd>").Append(E(Sat(balance.Unconfirmed))).Append("</dd><dt>Immature</dt><dd>").Append(E(Sat(balance.Immature))).Append("</dd>")
            .Append("<dt>Total</dt><dd>").Append(E(Sat(balance.Total))).Append("</dd></dl>");
        if (address is not null)
        {
            sb.Append("<div class=\"card notice\" role=\"status\"><p><label for=\"address\">New ").Append(E(address.Type)).Append(" address</label> <input id=\"address\" readonly value=\"")
              .Append(E(address.Address)).Append("\"></p></div>");
        }

        sb.Append(ButtonForm(Page(http), DashboardSetup.Prefix + "/wallet/address", "New receive address"));
        sb.Append("<h2>Lightning transactions</h2>");
        var rows = payments.Select(p => (At: p.CreatedAt, Html: "<tr><td>sent</td><td>" + Time(p.CompletedAt ?? p.CreatedAt) + "</td><td>" + Sats(p.Amount) + "</td><td>" + Sats(p.Fee) + "</td><td>" + Badge(p.State.ToString()) + "</td><td><code class=\"wrap\">" + E(p.PaymentHash.ToString()) + "</code></td></tr>"))
            .Concat(invoices.Where(i => i.State == InvoiceState.Settled).Select(i => (At: i.SettledAt ?? i.CreatedAt, Html: "<tr><td>received</td><td>" + Time(i.SettledAt) + "</td><td>" + (i.AmountReceived is { } a ? Sats(a) : "—") + "</td><td>—</td><td>" + Badge("Settled") + "</td><td><code class=\"wrap\">" + E(i.PaymentHash.ToString()) + "</code></td></tr>")))
            .OrderByDescending(r => r.At).ToList();
        if (rows.Count == 0)
        {
            sb.Append("<p>No Lightning payments yet.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"transactions\"><thead><tr><th scope=\"col\">Direction</th><th scope=\"col\">At</th><th scope=\"col\">Amount</th><th scope=\"col\">Fee</th><th scope=\"col\">State</th><th scope=\"col\">Payment hash</th></tr></thead><tbody>");
            foreach (var r in rows)
            {
                sb.Append(r.Html);
            }

            sb.Append("</tbody></table></div>");
        }

        await AppendOnChainAndReconciliationAsync(http, sb).ConfigureAwait(false);
        return Html(http, Layout(Page(http), "Wallet", sb.ToString()));
    }

    private static string Sat(NBitcoin.Money m) => m.Satoshi.ToString("N0", CultureInfo.InvariantCulture) + " sat";

    private static async Task<IResult> ChannelsAsync(HttpContext http)
    {
        if (NodeFor(http) is not { } node)
        {
            return NoNode(http, "Channels");
        }

        var channels = await node.ListChannelsAsync(http.RequestAborted).ConfigureAwait(false);
        var sb = new StringBuilder();
        var local = channels.Where(c => c.State == ChannelState.Normal).Aggregate(0UL, (a, c) => a + c.LocalBalance.Value);
        var remote = channels.Where(c => c.State == ChannelState.Normal).Aggregate(0UL, (a, c) => a + c.RemoteBalance.Value);
        sb.Append("<p id=\"liquidity\">Can send ").Append(Sats(local)).Append(", can receive ").Append(Sats(remote)).Append(" over ")
          .Append(channels.Count(c => c.State == ChannelState.Normal)).Append(" usable channels.</p>");
        if (channels.Count == 0)
        {
            sb.Append("<p>No channels.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"channels\"><thead><tr><th scope=\"col\">Peer</th><th scope=\"col\">State</th><th scope=\"col\">Capacity</th><th scope=\"col\">Local</th><th scope=\"col\">Remote</th><th scope=\"col\">Liquidity</th></tr></thead><tbody>");
            foreach (var c in channels)
            {
                sb.Append("<tr><td><code class=\"wrap\">").Append(E(c.PeerNodeId.ToString())).Append("</code>").Append(c.ShortChannelId is { } scid ? "<br>" + E(scid.ToString()) : "").Append("</td><td>")
                  .Append(Badge(c.State.ToString())).Append("</td><td>").Append(E(Sat(c.Capacity))).Append("</td><td>").Append(Sats(c.LocalBalance)).Append("</td><td>").Append(Sats(c.RemoteBalance))
                  .Append("</td><td>").Append(LiquidityBar(c.LocalBalance, c.RemoteBalance)).Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        return Html(http, Layout(Page(http), "Channels", sb.ToString()));
    }
}
