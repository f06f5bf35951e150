using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Node.CrashTests;

/// <summary>A problem document (or transport failure) from a node's admin API.</summary>
public sealed class NodeApiException(int status, string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The HTTP status; 0 when the request never got an answer (connection refused or reset).</summary>
    public int Status { get; } = status;

    /// <summary>The problem code (<c>not_found</c>, <c>peer_not_connected</c>...), or <c>transport</c>.</summary>
    public string Code { get; } = code;
}

/// <summary>
/// A small typed client of the node admin REST API (the CLI's own client is internal to satflow), using the API's
/// DTOs and JSON options so a wire-format drift breaks this test too. Every call has its own deadline.
/// </summary>
public sealed class NodeApiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;

    /// <summary>Connects to the API described by a node's api.json.</summary>
    public NodeApiClient(NodeApiFile file, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(file);
        _http = new HttpClient { BaseAddress = file.Url, Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", file.ApiKey);
        _timeout = timeout;
    }

    /// <summary>GET /v1/info.</summary>
    public Task<NodeInfo> InfoAsync(CancellationToken ct = default) => SendAsync<NodeInfo>(HttpMethod.Get, "v1/info", null, ct);

    /// <summary>POST /v1/wallet/address.</summary>
    public Task<NodeWalletAddress> NewAddressAsync(CancellationToken ct = default) => SendAsync<NodeWalletAddress>(HttpMethod.Post, "v1/wallet/address", null, ct);

    /// <summary>GET /v1/wallet/balance.</summary>
    public Task<NodeWalletBalance> BalanceAsync(CancellationToken ct = default) => SendAsync<NodeWalletBalance>(HttpMethod.Get, "v1/wallet/balance", null, ct);

    /// <summary>GET /v1/peers.</summary>
    public Task<List<PeerInfo>> PeersAsync(CancellationToken ct = default) => SendAsync<List<PeerInfo>>(HttpMethod.Get, "v1/peers", null, ct);

    /// <summary>POST /v1/peers.</summary>
    public Task<PeerInfo> ConnectAsync(NodeId nodeId, string address, CancellationToken ct = default) =>
        SendAsync<PeerInfo>(HttpMethod.Post, "v1/peers", new ConnectPeerRequest(nodeId.ToString(), address), ct);

    /// <summary>GET /v1/channels.</summary>
    public Task<List<ChannelInfo>> ChannelsAsync(CancellationToken ct = default) => SendAsync<List<ChannelInfo>>(HttpMethod.Get, "v1/channels", null, ct);

    /// <summary>POST /v1/channels.</summary>
    public Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, long amountSat, CancellationToken ct = default) =>
        SendAsync<ChannelInfo>(HttpMethod.Post, "v1/channels", new OpenChannelRequest(nodeId.ToString(), amountSat), ct);

    /// <summary>POST /v1/channels/{id}/close.</summary>
    public Task<ChannelCloseResult> CloseChannelAsync(ChannelId channelId, bool force, CancellationToken ct = default) =>
        SendAsync<ChannelCloseResult>(HttpMethod.Post, $"v1/channels/{channelId}/close", new CloseChannelRequest(force), ct);

    /// <summary>POST /v1/invoices.</summary>
    public Task<InvoiceInfo> CreateInvoiceAsync(long amountMsat, string description, CancellationToken ct = default) =>
        SendAsync<InvoiceInfo>(HttpMethod.Post, "v1/invoices", new CreateInvoiceRequest(amountMsat, description, 3600), ct);

    /// <summary>GET /v1/invoices/{hash}.</summary>
    public Task<InvoiceInfo> InvoiceAsync(PaymentHash hash, CancellationToken ct = default) =>
        SendAsync<InvoiceInfo>(HttpMethod.Get, $"v1/invoices/{hash}", null, ct);

    /// <summary>POST /v1/pay; the node answers when the payment succeeded or failed (or its own wait ran out).</summary>
    public Task<PaymentInfo> PayAsync(string bolt11, TimeSpan timeout, CancellationToken ct = default) =>
        SendAsync<PaymentInfo>(HttpMethod.Post, "v1/pay", new PayInvoiceRequest(bolt11, null), ct, timeout);

    /// <summary>GET /v1/payments/{hash}.</summary>
    public Task<PaymentInfo> PaymentAsync(PaymentHash hash, CancellationToken ct = default) =>
        SendAsync<PaymentInfo>(HttpMethod.Get, $"v1/payments/{hash}", null, ct);

    /// <summary>GET /v1/payments.</summary>
    public Task<List<PaymentInfo>> PaymentsAsync(CancellationToken ct = default) => SendAsync<List<PaymentInfo>>(HttpMethod.Get, "v1/payments", null, ct);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct, TimeSpan? timeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout ?? _timeout);
        using var request = new HttpRequestMessage(method, path)
        {
            Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: NodeApiJson.Options),
        };
        HttpResponseMessage response;
        string text;
        try
        {
            response = await _http.SendAsync(request, cts.Token).ConfigureAwait(false);
            text = await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new NodeApiException(0, "transport", $"{method} {path}: no answer from {_http.BaseAddress}: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new NodeApiException(0, "transport", $"{method} {path}: connection to {_http.BaseAddress} broke: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new NodeApiException(0, "timeout", $"{method} {path}: no answer from {_http.BaseAddress} within {(timeout ?? _timeout).TotalSeconds:0}s", ex);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var code = "http_" + (int)response.StatusCode;
                var detail = text;
                try
                {
                    if (JsonSerializer.Deserialize<ApiProblem>(text, NodeApiJson.Options) is { } problem)
                    {
                        code = problem.Code;
                        detail = problem.Detail;
                    }
                }
                catch (JsonException)
                {
                    // Not a problem document: keep the raw text.
                }
                throw new NodeApiException((int)response.StatusCode, code, $"{method} {path}: {(int)response.StatusCode} {code}: {detail}");
            }
            return JsonSerializer.Deserialize<T>(text, NodeApiJson.Options)
                ?? throw new NodeApiException((int)response.StatusCode, "null", $"{method} {path}: the API answered JSON null");
        }
    }

    /// <summary>Releases the HTTP client.</summary>
    public void Dispose() => _http.Dispose();
}
