using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Ledger;
using Satflow.Server.Api;

namespace Satflow.Server.Tests;

/// <summary>
/// <c>GET /api/v1/server/reconciliation</c> on a standalone satflowd (no node): authentication, the
/// <c>server.reconciliation.view</c> scope and the server-admin rule, the typed 409 without a node, the OpenAPI entry
/// and the JSON shape. The sandbox test (<see cref="ReconciliationTests"/>) checks the figures against a running node.
/// </summary>
public sealed class ReconciliationApiTests : IAsyncLifetime
{
    private const string Path = "/api/v1/server/reconciliation";

    private readonly ServerFactory _factory = new();
    private UserId _admin;
    private StoreId _store;

    public async Task InitializeAsync()
    {
        var merchant = _factory.Get<MerchantService>();
        var admin = await merchant.RegisterUserAsync($"admin{Guid.NewGuid():N}@example.com", "pw-" + Guid.NewGuid().ToString("N"), isServerAdmin: true);
        _admin = admin.Id;
        _store = (await merchant.CreateStoreAsync(admin.Id, "Admin shop", "BTC")).Id;
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    private async Task<string> KeyAsync(UserId user, IReadOnlyCollection<Permission> scopes, StoreId? store = null)
        => (await _factory.Get<MerchantService>().CreateApiKeyAsync(new MerchantPrincipal(user, null), "test", scopes, store)).Token;

    private async Task<(HttpStatusCode Status, string? MediaType, string Body)> GetAsync(string? token)
    {
        using var client = _factory.CreateClient();
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("token", token);
        }

        using var response = await client.GetAsync(Path);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private static string CodeOf(string problem) => JsonDocument.Parse(problem).RootElement.GetProperty("code").GetString()!;

    [Fact]
    public async Task A_missing_malformed_or_revoked_key_is_401()
    {
        var missing = await GetAsync(null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.Status);
        Assert.Equal("application/problem+json", missing.MediaType);
        Assert.Equal("MissingHeader", CodeOf(missing.Body));

        var malformed = await GetAsync("sfk_" + new string('1', 44));
        Assert.Equal(HttpStatusCode.Unauthorized, malformed.Status);
        Assert.Equal("MalformedToken", CodeOf(malformed.Body));

        // A revoked key that held the scope, of a server admin.
        var merchant = _factory.Get<MerchantService>();
        var owner = new MerchantPrincipal(_admin, null);
        var created = await merchant.CreateApiKeyAsync(owner, "revoked", [Permission.ServerReconciliationView], null);
        Assert.True(await merchant.RevokeApiKeyAsync(owner, created.Record.Id));
        var revoked = await GetAsync(created.Token);
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.Status);
        Assert.Equal("Revoked", CodeOf(revoked.Body));
    }

    [Fact]
    public async Task A_key_without_the_scope_is_403_even_for_an_admin()
    {
        var token = await KeyAsync(_admin, Permissions.All.Where(p => p != Permission.ServerReconciliationView).ToArray());
        var r = await GetAsync(token);
        Assert.True(r.Status == HttpStatusCode.Forbidden, r.Body);
        Assert.Equal("Forbidden", CodeOf(r.Body));
        Assert.Contains("server.reconciliation.view", r.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_scope_of_a_user_who_is_not_a_server_admin_is_403()
    {
        var merchant = _factory.Get<MerchantService>();
        var user = await merchant.RegisterUserAsync($"u{Guid.NewGuid():N}@example.com", "pw-" + Guid.NewGuid().ToString("N"));
        await merchant.CreateStoreAsync(user.Id, "Own shop", "BTC");
        var r = await GetAsync(await KeyAsync(user.Id, [Permission.ServerReconciliationView]));
        Assert.True(r.Status == HttpStatusCode.Forbidden, r.Body);
        Assert.Contains("server administrators", r.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_restricted_admin_key_is_403()
    {
        var r = await GetAsync(await KeyAsync(_admin, [Permission.ServerReconciliationView], _store));
        Assert.True(r.Status == HttpStatusCode.Forbidden, r.Body);
        Assert.Contains("restricted to store", r.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Standalone_mode_answers_a_typed_409_not_a_500()
    {
        var r = await GetAsync(await KeyAsync(_admin, [Permission.ServerReconciliationView]));
        Assert.True(r.Status == HttpStatusCode.Conflict, r.Body);
        Assert.Equal("application/problem+json", r.MediaType);
        var problem = JsonDocument.Parse(r.Body).RootElement;
        Assert.Equal(ReconciliationEndpoints.NoInProcessNode, problem.GetProperty("code").GetString());
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        Assert.Contains("standalone", problem.GetProperty("detail").GetString()!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_lists_the_endpoint_with_its_name_and_tag()
    {
        using var client = _factory.CreateClient();
        var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json")).RootElement;
        var get = doc.GetProperty("paths").GetProperty(Path).GetProperty("get");
        Assert.Equal("GetServerReconciliation", get.GetProperty("operationId").GetString());
        Assert.Contains(get.GetProperty("tags").EnumerateArray(), t => t.GetString() == "server");
        Assert.True(get.GetProperty("responses").TryGetProperty("200", out _));
        Assert.True(get.GetProperty("responses").TryGetProperty("409", out _));
    }

    [Fact]
    public void The_response_carries_every_figure_of_the_report_in_camel_case()
    {
        var store = new StoreId("st1");
        var at = new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
        var balances = new[]
        {
            new AccountBalance(new LedgerAccount(store, LedgerAccountKind.Lightning), LedgerCurrencies.Bitcoin, 40_000_000, 0),
            new AccountBalance(new LedgerAccount(store, LedgerAccountKind.Revenue), LedgerCurrencies.Bitcoin, 0, 40_000_000),
            new AccountBalance(new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.OnChainWallet), LedgerCurrencies.Bitcoin, 5_000_000, 0),
            new AccountBalance(new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.NodeCapital), LedgerCurrencies.Bitcoin, 0, 5_000_000),
        };
        var item = new ReconciliationItem("htlc-in-flight", "ab", ReconciliationAsset.Lightning, -7, "An HTLC.");
        var report = ReconciliationReport.Create(balances, MilliSatoshi.FromSatoshis(5_000), new MilliSatoshi(40_000_000), at, [item]);

        var json = JsonDocument.Parse(JsonSerializer.Serialize(ReconciliationResponse.From(report), ApiJson.Options)).RootElement;

        Assert.True(json.GetProperty("exact").GetBoolean());
        Assert.Equal(at, json.GetProperty("generatedAt").GetDateTimeOffset());
        Assert.Equal(40_000_000, json.GetProperty("ledgerLightningMsat").GetInt64());
        Assert.Equal(0, json.GetProperty("ledgerOnChainMsat").GetInt64());
        Assert.Equal(5_000_000, json.GetProperty("operatorOnChainMsat").GetInt64());
        Assert.Equal(5_000_000, report.OperatorCapital);
        Assert.Equal(report.OperatorCapital, json.GetProperty("operatorCapitalMsat").GetInt64());
        Assert.Equal(5_000_000, json.GetProperty("walletMsat").GetInt64());
        Assert.Equal(40_000_000, json.GetProperty("channelsMsat").GetInt64());
        Assert.Equal(report.LedgerTotal, json.GetProperty("ledgerTotalMsat").GetInt64());
        Assert.Equal(45_000_000, json.GetProperty("actualTotalMsat").GetInt64());
        Assert.Equal(0, json.GetProperty("totalDifferenceMsat").GetInt64());
        Assert.Equal(0, json.GetProperty("ledgerImbalanceMsat").GetInt64());
        Assert.Equal(7, json.GetProperty("unexplainedLightningMsat").GetInt64());
        var line = Assert.Single(json.GetProperty("stores").EnumerateArray());
        Assert.Equal("st1", line.GetProperty("storeId").GetString());
        Assert.Equal(40_000_000, line.GetProperty("totalMsat").GetInt64());
        var i = Assert.Single(json.GetProperty("items").EnumerateArray());
        Assert.Equal("Lightning", i.GetProperty("asset").GetString());
        Assert.Equal(-7, i.GetProperty("amountMsat").GetInt64());
        Assert.Equal("htlc-in-flight", i.GetProperty("kind").GetString());
    }
}
