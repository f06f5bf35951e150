using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Satflow.Node.Api.Tests;

/// <summary>A running API server on 127.0.0.1 (port 0) over an <see cref="InMemoryNode"/>, and a client with the admin key.</summary>
public sealed class ApiFixture : IAsyncDisposable
{
    private ApiFixture(NodeApiServer server, InMemoryNode node, string dataDirectory, HttpClient client)
    {
        Server = server;
        Node = node;
        DataDirectory = dataDirectory;
        Client = client;
    }

    public NodeApiServer Server { get; }

    public InMemoryNode Node { get; }

    public string DataDirectory { get; }

    public HttpClient Client { get; }

    public static async Task<ApiFixture> StartAsync(InMemoryNode? node = null)
    {
        node ??= new InMemoryNode();
        var dir = Path.Combine(Path.GetTempPath(), "satflow-nodeapi-" + Guid.NewGuid().ToString("N"));
        var server = await NodeApiServer.StartAsync(node, new NodeApiServerOptions { Bind = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = dir });
        var client = new HttpClient { BaseAddress = server.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.ApiKey);
        return new ApiFixture(server, node, dir, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public async Task<(HttpStatusCode Status, JsonElement Body, string? ContentType)> SendAsync(HttpMethod method, string path, string? body = null, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = Json(body);
        }
        using var response = await (client ?? Client).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var element = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, element, response.Content.Headers.ContentType?.MediaType);
    }
}
