using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;

namespace Satflow.Node.Api.Tests;

/// <summary>Random and mutated request bodies against every POST route: only client errors come back, never a 500.</summary>
public sealed class NodeApiPropertyTests : IAsyncLifetime
{
    private static readonly NodeApiRoute[] PostRoutes = [.. NodeApiServer.Routes.Where(r => r.Method == "POST")];
    private ApiFixture _api = null!;

    public async Task InitializeAsync() => _api = await ApiFixture.StartAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task<(HttpStatusCode Status, string? Type, string Body)> PostAsync(NodeApiRoute route, byte[] body, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, NodeApiServerTests.Concrete(route.Pattern)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var client = new HttpClient { BaseAddress = _api.Server.Url };
        using var response = await client.SendAsync(request);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private static bool IsJsonObject(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void AssertClientError(NodeApiRoute route, byte[] body, (HttpStatusCode Status, string? Type, string Body) response)
    {
        var status = (int)response.Status;
        Assert.True(status != 500, $"POST {route.Pattern} with {Convert.ToHexString(body)} -> 500 {response.Body}");
        if (status >= 400)
        {
            Assert.Equal("application/problem+json", response.Type);
            using var problem = JsonDocument.Parse(response.Body);
            Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(problem.RootElement.GetProperty("detail").GetString()));
        }
    }

    [Fact]
    public async Task RandomBytesAreRefusedWith400Or401()
    {
        var gen = Gen.Select(Gen.Int[0, PostRoutes.Length - 1], Gen.Byte.Array[0, 400], Gen.Bool);
        await gen.SampleAsync(async (index, body, authorized) =>
        {
            var route = PostRoutes[index];
            var response = await PostAsync(route, body, authorized ? _api.Server.ApiKey : "wrong");
            if (!authorized)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
                return;
            }
            AssertClientError(route, body, response);
            var optionalBody = NodeApiServerTests.ValidBody(route) == "{}";
            var empty = body.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n');
            if (!IsJsonObject(body) && !(optionalBody && empty))
            {
                Assert.True(response.Status == HttpStatusCode.BadRequest, $"POST {route.Pattern} with {Convert.ToHexString(body)} -> {response.Status} {response.Body}");
            }
        }, iter: 400, threads: 2);
    }

    private static readonly string[] FieldNames = ["node_id", "address", "amount_sat", "amount_msat", "force", "description", "expiry_seconds", "bolt11", "extra"];

    private static readonly Gen<string> JsonValue = Gen.OneOf(
        Gen.Const("null"),
        Gen.Bool.Select(b => b ? "true" : "false"),
        Gen.Long.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "1e400"),
        Gen.Const("99999999999999999999999"),
        Gen.String.Select(s => JsonSerializer.Serialize(s)),
        Gen.OneOf<string>(
            "\"" + NodeApiServerTests.ValidNodeId + "\"",
            "\"127.0.0.1:9735\"",
            "\"[::1]:1\"",
            "\"localhost:1\"",
            "\"lnbcrt1\"",
            "\"\\ud800\"",
            "[]",
            "{}",
            "[1,{\"a\":null}]"));

    private static readonly Gen<string> JsonObject = Gen.Select(Gen.Int[0, FieldNames.Length - 1], JsonValue).List[0, 5]
        .Select(fields => "{" + string.Join(",", fields.Select(f => $"\"{FieldNames[f.Item1]}\":{f.Item2}")) + "}");

    [Fact]
    public async Task RandomJsonObjectsNeverCauseA500()
    {
        var gen = Gen.Select(Gen.Int[0, PostRoutes.Length - 1], JsonObject);
        await gen.SampleAsync(async (index, json) =>
        {
            var route = PostRoutes[index];
            var body = Encoding.UTF8.GetBytes(json);
            AssertClientError(route, body, await PostAsync(route, body, _api.Server.ApiKey));
        }, iter: 400, threads: 2);
    }

    [Fact]
    public async Task MutatedValidBodiesNeverCauseA500()
    {
        var gen = Gen.Select(Gen.Int[0, PostRoutes.Length - 1], Gen.Select(Gen.Int[0, 1000], Gen.Byte, Gen.Int[0, 2]).Array[1, 4]);
        await gen.SampleAsync(async (index, mutations) =>
        {
            var route = PostRoutes[index];
            var body = new List<byte>(Encoding.UTF8.GetBytes(NodeApiServerTests.ValidBody(route)!));
            foreach (var (position, value, kind) in mutations)
            {
                var at = body.Count == 0 ? 0 : position % body.Count;
                switch (kind)
                {
                    case 0 when body.Count > 0:
                        body[at] = value;
                        break;
                    case 1:
                        body.Insert(at, value);
                        break;
                    default:
                        if (body.Count > 0)
                        {
                            body.RemoveAt(at);
                        }
                        break;
                }
            }
            var bytes = body.ToArray();
            AssertClientError(route, bytes, await PostAsync(route, bytes, _api.Server.ApiKey));
        }, iter: 400, threads: 2);
    }
}
