using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary>
/// How a node command finds the node's admin API: <c>--datadir DIR</c> (reads <c>DIR/api.json</c>, written by
/// <c>satflow node start</c>) or <c>--api URL --api-key KEY</c>.
/// </summary>
internal sealed class NodeApiOptions
{
    public Option<string?> DataDir { get; } = new("--datadir") { Description = "The node's data directory; its api.json holds the API URL and admin key (default: ~/.satflow/node)." };

    public Option<string?> Api { get; } = new("--api") { Description = "The node API URL, e.g. http://127.0.0.1:9736/ (with --api-key), instead of --datadir." };

    public Option<string?> ApiKey { get; } = new("--api-key") { Description = "The admin key for --api (the api_key in DATADIR/api.json)." };

    public static string DefaultDataDirectory => Path.Combine(CliPaths.Home, "node");

    public void AddTo(Command command)
    {
        command.Options.Add(DataDir);
        command.Options.Add(Api);
        command.Options.Add(ApiKey);
    }

    /// <summary>True when the user pointed at a node explicitly (used by <c>wallet address|balance</c> to choose the node over the standalone wallet).</summary>
    public bool IsGiven(ParseResult parse) => parse.GetValue(DataDir) is not null || parse.GetValue(Api) is not null;

    public NodeApiClient CreateClient(ParseResult parse)
    {
        var api = parse.GetValue(Api);
        var key = parse.GetValue(ApiKey);
        var dataDir = parse.GetValue(DataDir);
        if (api is not null)
        {
            if (dataDir is not null)
            {
                throw new CliException("give --datadir or --api/--api-key, not both");
            }
            if (string.IsNullOrWhiteSpace(key))
            {
                throw new CliException("--api needs --api-key (the api_key in the node's DATADIR/api.json)");
            }
            if (!Uri.TryCreate(api.Contains("://", StringComparison.Ordinal) ? api : "http://" + api, UriKind.Absolute, out var url)
                || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliException($"--api must be an http URL such as http://127.0.0.1:9736/, got '{api}'");
            }
            return new NodeApiClient(url, key, $"no node API answering at {url} (is `satflow node start` running?)");
        }
        if (key is not null)
        {
            throw new CliException("--api-key goes with --api URL; with --datadir the key is read from DATADIR/api.json");
        }
        var directory = Path.GetFullPath(dataDir ?? DefaultDataDirectory);
        NodeApiFile? file;
        try
        {
            file = NodeApiFile.TryRead(directory);
        }
        catch (FormatException ex)
        {
            throw new CliException(ex.Message);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new CliException($"cannot read {NodeApiFile.PathIn(directory)}: {ex.Message}");
        }
        if (file is null)
        {
            throw new CliException($"no node API found in {directory} (is `satflow node start` running?)");
        }
        return new NodeApiClient(file.Url, file.ApiKey,
            $"no node API answering at {file.Url} (from {NodeApiFile.PathIn(directory)}; is `satflow node start` running?)");
    }
}

/// <summary>A response of the node API: the typed value and the JSON text as the API sent it (printed by <c>--json</c>).</summary>
internal readonly record struct ApiResult<T>(T Value, string Json);

/// <summary>The CLI's REST client for the node's admin API. Problems (RFC 7807) become one-line <see cref="CliException"/>s.</summary>
internal sealed class NodeApiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _unreachable;

    public NodeApiClient(Uri baseUrl, string apiKey, string unreachableMessage)
    {
        _http = new HttpClient { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        _unreachable = unreachableMessage;
    }

    public Uri BaseUrl => _http.BaseAddress!;

    public Task<ApiResult<T>> GetAsync<T>(string path, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);

    public Task<ApiResult<T>> DeleteAsync<T>(string path, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Delete, path), cancellationToken);

    public Task<ApiResult<T>> PostAsync<T>(string path, object? body, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: NodeApiJson.Options),
        }, cancellationToken);

    private async Task<ApiResult<T>> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                throw new CliException($"{_unreachable}: {ex.Message}");
            }
            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw new CliException(ProblemMessage(response, text));
                }
                try
                {
                    var value = JsonSerializer.Deserialize<T>(text, NodeApiJson.Options)
                        ?? throw new CliException($"the node API answered {request.RequestUri} with JSON null");
                    return new ApiResult<T>(value, text.Trim());
                }
                catch (JsonException ex)
                {
                    throw new CliException($"the node API at {BaseUrl} sent an unexpected answer to {request.RequestUri}: {ex.Message}");
                }
            }
        }
    }

    private static string ProblemMessage(HttpResponseMessage response, string text)
    {
        var status = (int)response.StatusCode;
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            try
            {
                var problem = JsonSerializer.Deserialize<ApiProblem>(text, NodeApiJson.Options);
                if (problem is { Detail: { Length: > 0 } detail })
                {
                    return status == 401 ? detail + " (is --api-key right?)" : detail;
                }
            }
            catch (JsonException)
            {
                // Fall through to the generic message.
            }
        }
        return $"the node API answered HTTP {status} {response.ReasonPhrase}";
    }

    public void Dispose() => _http.Dispose();
}
