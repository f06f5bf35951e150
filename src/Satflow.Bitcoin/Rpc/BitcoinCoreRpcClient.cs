using System.Collections;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Rpc;

/// <summary>
/// A Bitcoin Core JSON-RPC client. It speaks JSON-RPC 1.0 over HTTP as Core does, maps Core's error objects to
/// <see cref="RpcException"/> and every transport or format failure to <see cref="ChainSourceException"/> (messages
/// never contain the credentials), and implements the chain seams <see cref="IChainSource"/>,
/// <see cref="IBroadcaster"/> and <see cref="IFeeEstimator"/>.
/// </summary>
/// <remarks>
/// Telling a spent outpoint from an unknown one needs <c>getrawtransaction</c> to find confirmed transactions, that is
/// Core running with <c>-txindex</c>; without it an outpoint whose confirmed transaction is fully spent reads as unknown.
/// </remarks>
public sealed partial class BitcoinCoreRpcClient : IChainSource, IBroadcaster, IFeeEstimator, IDisposable
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _url;
    private readonly string _displayUrl;
    private readonly RpcCredentials? _credentials;
    private readonly BitcoinCoreRpcClientOptions _options;
    private long _nextId;

    /// <summary>Creates a client with its own <see cref="HttpClient"/>.</summary>
    /// <param name="url">Core's RPC endpoint, optionally with credentials: <c>http://user:pass@127.0.0.1:18443</c>; a
    /// wallet path (<c>/wallet/name</c>) is kept.</param>
    /// <param name="network">The network Core runs (used to parse blocks and transactions).</param>
    /// <param name="options">Settings, or null for the defaults.</param>
    public BitcoinCoreRpcClient(Uri url, Network network, BitcoinCoreRpcClientOptions? options = null)
        : this(CreateHttpClient(options), ownsHttp: true, url, network, options)
    {
    }

    /// <summary>Creates a client over a caller-owned <see cref="HttpClient"/> (it is not disposed by this client).</summary>
    /// <param name="httpClient">The HTTP client to send requests with.</param>
    /// <param name="url">Core's RPC endpoint, optionally with credentials.</param>
    /// <param name="network">The network Core runs.</param>
    /// <param name="options">Settings, or null for the defaults.</param>
    public BitcoinCoreRpcClient(HttpClient httpClient, Uri url, Network network, BitcoinCoreRpcClientOptions? options = null)
        : this(httpClient, ownsHttp: false, url, network, options)
    {
    }

    private BitcoinCoreRpcClient(HttpClient httpClient, bool ownsHttp, Uri url, Network network, BitcoinCoreRpcClientOptions? options)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(network);
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException("The RPC URL must be an absolute http or https URL.", nameof(url));
        }

        if (options?.Retry is { MaxAttempts: < 1 })
        {
            throw new ArgumentException("RpcRetryPolicy.MaxAttempts must be at least 1.", nameof(options));
        }

        _http = httpClient;
        _ownsHttp = ownsHttp;
        _options = options ?? new BitcoinCoreRpcClientOptions();
        Network = network;
        _credentials = _options.Credentials ?? CredentialsFromUserInfo(url);
        var builder = new UriBuilder(url) { UserName = string.Empty, Password = string.Empty };
        _url = builder.Uri;
        _displayUrl = _url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
    }

    /// <inheritdoc />
    public Network Network { get; }

    /// <summary>The endpoint, without credentials.</summary>
    public Uri Url => _url;

    /// <summary>
    /// Calls any RPC method and returns its <c>result</c> (a detached copy; <see cref="JsonValueKind.Null"/> when Core
    /// returned null). Parameters may be null, strings, numbers, booleans, <see cref="uint256"/>, <see cref="Money"/>
    /// (as BTC), <see cref="JsonElement"/>, <see cref="JsonNode"/>, lists and dictionaries of those.
    /// </summary>
    /// <exception cref="RpcException">Core answered with an error object.</exception>
    /// <exception cref="ChainSourceException">Core could not be reached or answered something else than JSON-RPC.</exception>
    public async Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? parameters = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        using var doc = await SendAsync(method, parameters ?? [], cancellationToken).ConfigureAwait(false);
        return ExtractResult(method, doc.RootElement).Clone();
    }

    /// <summary>Calls an RPC method and converts its result; conversion failures become <see cref="ChainSourceException"/>.</summary>
    private async Task<T> CallAsync<T>(string method, Func<JsonElement, T> parse, CancellationToken cancellationToken, params object?[] parameters)
    {
        using var doc = await SendAsync(method, parameters, cancellationToken).ConfigureAwait(false);
        var result = ExtractResult(method, doc.RootElement);
        try
        {
            return parse(result);
        }
        catch (Exception e) when (e is not ChainSourceException and not OperationCanceledException)
        {
            throw new ChainSourceException($"Malformed answer to '{method}' from {_displayUrl}: {e.Message}", e);
        }
    }

    private JsonElement ExtractResult(string method, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ChainSourceException($"Malformed answer to '{method}' from {_displayUrl}: not a JSON-RPC object.");
        }

        if (root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null)
        {
            throw ToRpcException(method, error);
        }

        if (!root.TryGetProperty("result", out var result))
        {
            throw new ChainSourceException($"Malformed answer to '{method}' from {_displayUrl}: no 'result' member.");
        }

        return result;
    }

    private RpcException ToRpcException(string method, JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.Object
            && error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number && code.TryGetInt32(out var c))
        {
            string message;
            try
            {
                message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : string.Empty;
            }
            catch (InvalidOperationException e)
            {
                throw new ChainSourceException($"Malformed answer to '{method}' from {_displayUrl}: the error message is not valid UTF-8.", e);
            }

            return new RpcException(method, c, message);
        }

        throw new ChainSourceException($"Malformed answer to '{method}' from {_displayUrl}: the error member is not a JSON-RPC error object.");
    }

    private async Task<JsonDocument> SendAsync(string method, IReadOnlyList<object?> parameters, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId);
        var body = BuildRequest(method, parameters, id);
        var retry = _options.Retry;
        var attempts = retry?.MaxAttempts ?? 1;
        var delay = retry?.InitialDelay ?? TimeSpan.Zero;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await SendOnceAsync(method, body, reloadCookie: false, cancellationToken).ConfigureAwait(false);
            }
            catch (ChainSourceException e) when (attempt < attempts && IsRetryable(e))
            {
                await Task.Delay(delay, retry!.TimeProvider, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
            catch (BusyException e)
            {
                // Out of attempts: surface the plain public type.
                throw new ChainSourceException(e.Message, e.InnerException);
            }
        }
    }

    /// <summary>Nothing was executed: the connection failed, or Core's work queue was full (HTTP 503).</summary>
    private static bool IsRetryable(ChainSourceException e) =>
        e is BusyException || e.InnerException is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };

    private async Task<JsonDocument> SendOnceAsync(string method, byte[] body, bool reloadCookie, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _url);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = JsonContentType;
        if (_credentials is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _credentials.GetBasicParameter(reloadCookie));
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ChainSourceException($"Cannot reach Bitcoin Core at {_displayUrl} ('{method}'): {e.Message}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ChainSourceException($"Bitcoin Core at {_displayUrl} did not answer '{method}' in time.", e);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                if (_credentials?.CookieFilePath is not null && !reloadCookie)
                {
                    return await SendOnceAsync(method, body, reloadCookie: true, cancellationToken).ConfigureAwait(false);
                }

                throw new ChainSourceException(_credentials is null
                    ? $"Bitcoin Core at {_displayUrl} requires credentials (HTTP 401)."
                    : $"Bitcoin Core at {_displayUrl} rejected the credentials (HTTP 401).");
            }

            if (response.StatusCode == HttpStatusCode.Forbidden)
            {
                throw new ChainSourceException($"Bitcoin Core at {_displayUrl} forbids '{method}' for this user (HTTP 403).");
            }

            JsonDocument? doc = null;
            Exception? parseError = null;
            try
            {
                var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    doc = await JsonDocument.ParseAsync(stream, default, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (JsonException e)
            {
                parseError = e;
            }
            catch (HttpRequestException e)
            {
                parseError = e;
            }
            catch (IOException e)
            {
                parseError = e;
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ChainSourceException($"Bitcoin Core at {_displayUrl} did not finish answering '{method}' in time.", e);
            }

            if (doc is not null)
            {
                if (response.IsSuccessStatusCode || IsErrorObject(doc.RootElement))
                {
                    return doc;
                }

                doc.Dispose();
            }

            var status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ChainSourceException($"Bitcoin Core at {_displayUrl} answered 404 to '{method}' (unknown method or wrong URL path).", parseError);
            }

            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                throw new BusyException($"Bitcoin Core at {_displayUrl} is busy (HTTP 503, work queue full) and did not run '{method}'.", parseError);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new ChainSourceException($"Bitcoin Core at {_displayUrl} answered HTTP {status} to '{method}' without a JSON-RPC error.", parseError);
            }

            throw new ChainSourceException($"Malformed answer to '{method}' from {_displayUrl}: {parseError?.Message ?? "not JSON"}", parseError);
        }
    }

    private static bool IsErrorObject(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object
        && root.TryGetProperty("error", out var error)
        && error.ValueKind == JsonValueKind.Object;

    private static byte[] BuildRequest(string method, IReadOnlyList<object?> parameters, long id)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "1.0");
            writer.WriteNumber("id", id);
            writer.WriteString("method", method);
            writer.WritePropertyName("params");
            writer.WriteStartArray();
            foreach (var p in parameters)
            {
                WriteValue(writer, p);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case uint u:
                writer.WriteNumberValue(u);
                break;
            case ulong ul:
                writer.WriteNumberValue(ul);
                break;
            case double d:
                writer.WriteNumberValue(d);
                break;
            case decimal m:
                writer.WriteNumberValue(m);
                break;
            case Money money:
                writer.WriteNumberValue(money.ToDecimal(MoneyUnit.BTC));
                break;
            case uint256 hash:
                writer.WriteStringValue(hash.ToString());
                break;
            case JsonElement element:
                element.WriteTo(writer);
                break;
            case JsonNode node:
                node.WriteTo(writer);
                break;
            case IDictionary dictionary:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty);
                    WriteValue(writer, entry.Value);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable sequence:
                writer.WriteStartArray();
                foreach (var item in sequence)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static RpcCredentials? CredentialsFromUserInfo(Uri url)
    {
        if (string.IsNullOrEmpty(url.UserInfo))
        {
            return null;
        }

        var colon = url.UserInfo.IndexOf(':', StringComparison.Ordinal);
        var user = Uri.UnescapeDataString(colon < 0 ? url.UserInfo : url.UserInfo[..colon]);
        var password = colon < 0 ? string.Empty : Uri.UnescapeDataString(url.UserInfo[(colon + 1)..]);
        return RpcCredentials.FromUserPassword(user, password);
    }

    private static HttpClient CreateHttpClient(BitcoinCoreRpcClientOptions? options) =>
        new() { Timeout = (options ?? new BitcoinCoreRpcClientOptions()).RequestTimeout };

    /// <summary>Core refused the request before running it (work queue full).</summary>
    private sealed class BusyException(string message, Exception? inner) : ChainSourceException(message, inner);

    /// <summary>Disposes the HTTP client when this client created it.</summary>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
