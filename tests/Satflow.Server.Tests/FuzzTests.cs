using System.Net;
using System.Net.Http.Headers;
using CsCheck;

namespace Satflow.Server.Tests;

/// <summary>Random request bodies and headers get typed 4xx answers, never a 500.</summary>
public sealed class FuzzTests : IAsyncLifetime
{
    private ServerFactory _factory = null!;
    private Tenant _tenant = null!;

    public async Task InitializeAsync()
    {
        _factory = new ServerFactory();
        _tenant = await _factory.CreateTenantAsync();
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task Random_and_mutated_bodies_to_every_POST_get_a_client_error_or_success_never_a_server_error()
    {
        using var c = _tenant.Client();
        string[] urls =
        [
            $"/api/v1/stores/{_tenant.Store}/invoices", $"/api/v1/stores/{_tenant.Store}/webhooks", "/api/v1/stores", "/api/v1/api-keys",
            $"/api/v1/stores/{_tenant.Store}/pull-payments",
        ];
        var valid = "{\"amount\":1000,\"currency\":\"SATS\",\"orderId\":\"o\",\"metadata\":{\"a\":1},\"url\":\"http://127.0.0.1:9/h\",\"name\":\"n\",\"scopes\":[\"invoices.view\"]}"u8.ToArray();
        var bodies = Gen.OneOf(
            Gen.Byte.Array[0, 200],
            Gen.Int[0, valid.Length - 1].Select(Gen.Byte, (i, b) => { var m = (byte[])valid.Clone(); m[i] = b; return m; }),
            Gen.Int[0, valid.Length].Select(n => valid[..n]));
        await Gen.Select(Gen.Int[0, urls.Length - 1], bodies).SampleAsync(async (u, body) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, urls[u]) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
            using var response = await c.SendAsync(request);
            return (int)response.StatusCode < 500;
        }, iter: 150, threads: 1);
    }

    [Theory]
    [InlineData("{\"amount\":1000,\"currency\":\"SATS\",\"metadata\":{\"a\":\"#\"}}", "metadata contains invalid UTF-8")]
    [InlineData("{\"amount\":1000,\"currency\":\"SATS\",\"metadata\":{\"#\":1}}", "metadata contains invalid UTF-8")]
    [InlineData("{\"amount\":1000,\"currency\":\"SATS\",\"orderId\":\"#\"}", "")]
    public async Task Invalid_utf8_inside_an_invoice_body_is_a_400_and_creates_nothing(string template, string reason)
    {
        // Found by the fuzz test above (seed 6OjmCgjCcj62): a lone 0x93 byte inside metadata was a 500.
        using var c = _tenant.Client();
        var parts = template.Split('#');
        byte[] body = [.. System.Text.Encoding.UTF8.GetBytes(parts[0]), 0x93, .. System.Text.Encoding.UTF8.GetBytes(parts[1])];
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/stores/{_tenant.Store}/invoices") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        using var response = await c.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Contains(reason, text, StringComparison.Ordinal);
        using var list = await c.GetAsync($"/api/v1/stores/{_tenant.Store}/invoices");
        Assert.Contains("\"items\":[]", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Random_authorization_headers_are_401()
    {
        using var c = _factory.CreateClient();
        await Gen.String[0, 120].SampleAsync(async header =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/stores/{_tenant.Store}/invoices");
            if (!request.Headers.TryAddWithoutValidation("Authorization", header.Replace('\r', ' ').Replace('\n', ' ')))
            {
                return true;
            }

            using var response = await c.SendAsync(request);
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, iter: 150, threads: 1);
    }
}
