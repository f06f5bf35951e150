using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api.Tests;

public sealed class NodeApiServerTests
{
    internal static readonly string ValidNodeId = new NodeId(new Key(Convert.FromHexString(new string('1', 64))).PubKey).ToString();

    /// <summary>Every route in the table with sample path values and a valid body.</summary>
    public static TheoryData<string, string, string?> AllRoutes()
    {
        var data = new TheoryData<string, string, string?>();
        foreach (var route in NodeApiServer.Routes)
        {
            data.Add(route.Method, Concrete(route.Pattern), ValidBody(route));
        }
        return data;
    }

    internal static string Concrete(string pattern) => (pattern == "/v1/route" ? $"/v1/route?node={ValidNodeId}&amount_msat=5000" : pattern)
        .Replace("{node_id}", ValidNodeId, StringComparison.Ordinal)
        .Replace("{channel}", new string('a', 64), StringComparison.Ordinal)
        .Replace("{payment_hash}", new string('b', 64), StringComparison.Ordinal);

    internal static string? ValidBody(NodeApiRoute route) => (route.Method, route.Pattern) switch
    {
        ("POST", "/v1/peers") => $$"""{"node_id":"{{ValidNodeId}}","address":"127.0.0.1:9735"}""",
        ("POST", "/v1/channels") => $$"""{"node_id":"{{ValidNodeId}}","amount_sat":100000}""",
        ("POST", "/v1/invoices") => """{"amount_msat":5000}""",
        ("POST", "/v1/pay") => """{"bolt11":"lnbcrt1"}""",
        ("POST", "/v1/channels/restore") => $$"""{"backup":"{{Convert.ToBase64String(new byte[32])}}"}""",
        ("POST", "/v1/keysend") => $$"""{"node_id":"{{ValidNodeId}}","amount_msat":5000}""",
        ("POST", "/v1/channels/{channel}/policy") => """{"base_fee_msat":1000,"fee_ppm":10,"cltv_delta":40}""",
        ("POST", "/v1/offers") => """{"description":"coffee"}""",
        ("POST", "/v1/offers/pay") => """{"offer":"lno1"}""",
        ("POST", _) => "{}",
        _ => null,
    };

    [Fact]
    public async Task EveryRouteWorksEndToEndAgainstTheNode()
    {
        await using var api = await ApiFixture.StartAsync();
        var visited = new HashSet<(string, string)>();

        async Task<JsonElement> Ok(string method, string pattern, string path, string? body = null)
        {
            var (status, json, type) = await api.SendAsync(new HttpMethod(method), path, body);
            Assert.True(status == HttpStatusCode.OK, $"{method} {path}: {status} {json}");
            Assert.Equal("application/json", type);
            visited.Add((method, pattern));
            return json;
        }

        var info = await Ok("GET", "/v1/info", "/v1/info");
        Assert.Equal(api.Node.NodeId.ToString(), info.GetProperty("node_id").GetString());
        Assert.Equal("regtest", info.GetProperty("network").GetString());
        Assert.Equal(101, info.GetProperty("block_height").GetInt32());
        Assert.Equal("127.0.0.1:9735", info.GetProperty("listen_addresses")[0].GetString());
        foreach (var field in new[] { "alias", "peer_count", "channel_count", "active_channel_count", "version" })
        {
            Assert.True(info.TryGetProperty(field, out _), field);
        }

        var address = await Ok("POST", "/v1/wallet/address", "/v1/wallet/address");
        Assert.StartsWith("bcrt1q", address.GetProperty("address").GetString(), StringComparison.Ordinal);
        Assert.Equal("p2wpkh", address.GetProperty("type").GetString());
        var balance = await Ok("GET", "/v1/wallet/balance", "/v1/wallet/balance");
        Assert.Equal(100_000_000, balance.GetProperty("confirmed_sat").GetInt64());
        Assert.Equal(100_000_000, balance.GetProperty("total_sat").GetInt64());

        var peer = await Ok("POST", "/v1/peers", "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"127.0.0.1:9735"}""");
        Assert.Equal(ValidNodeId, peer.GetProperty("node_id").GetString());
        Assert.Equal("127.0.0.1:9735", peer.GetProperty("address").GetString());
        Assert.Equal(1, (await Ok("GET", "/v1/peers", "/v1/peers")).GetArrayLength());

        var channel = await Ok("POST", "/v1/channels", "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":250000}""");
        Assert.Equal("awaiting_confirmation", channel.GetProperty("state").GetString());
        Assert.Equal(250_000, channel.GetProperty("capacity_sat").GetInt64());
        Assert.Equal(250_000_000, channel.GetProperty("local_balance_msat").GetInt64());
        Assert.Equal(0, channel.GetProperty("remote_balance_msat").GetInt64());
        Assert.Equal(ValidNodeId, channel.GetProperty("peer_node_id").GetString());
        Assert.Matches("^[0-9a-f]{64}:0$", channel.GetProperty("funding_outpoint").GetString());
        Assert.Matches("^[0-9a-f]{64}$", channel.GetProperty("channel_id").GetString());
        var scid = channel.GetProperty("short_channel_id").GetString()!;
        Assert.Matches("^[0-9]+x[0-9]+x[0-9]+$", scid);
        api.Node.ConfirmChannels();
        var channels = await Ok("GET", "/v1/channels", "/v1/channels");
        Assert.Equal("normal", channels[0].GetProperty("state").GetString());
        var held = Convert.FromHexString(channels[0].GetProperty("channel_id").GetString()!);
        var restored = await Ok("POST", "/v1/channels/restore", "/v1/channels/restore", $$"""{"backup":"{{Convert.ToBase64String([.. held, .. new byte[32]])}}"}""");
        Assert.Equal(new string('0', 64), Assert.Single(restored.GetProperty("recovering").EnumerateArray()).GetString());

        var invoice = await Ok("POST", "/v1/invoices", "/v1/invoices", """{"amount_msat":42000,"description":"coffee ☕","expiry_seconds":600}""");
        var hash = invoice.GetProperty("payment_hash").GetString()!;
        var bolt11 = invoice.GetProperty("bolt11").GetString()!;
        var decoded = Bolt11Invoice.Decode(bolt11);
        Assert.Equal(hash, decoded.PaymentHash.ToString());
        Assert.Equal(42_000, invoice.GetProperty("amount_msat").GetInt64());
        Assert.Equal("coffee ☕", invoice.GetProperty("description").GetString());
        Assert.Equal("open", invoice.GetProperty("state").GetString());
        Assert.Equal(600, (invoice.GetProperty("expires_at").GetDateTimeOffset() - invoice.GetProperty("created_at").GetDateTimeOffset()).TotalSeconds);
        Assert.Equal(JsonValueKind.Null, invoice.GetProperty("amount_received_msat").ValueKind);
        Assert.Single((await Ok("GET", "/v1/invoices", "/v1/invoices")).EnumerateArray());
        Assert.Equal(hash, (await Ok("GET", "/v1/invoices/{payment_hash}", "/v1/invoices/" + hash)).GetProperty("payment_hash").GetString());

        var payment = await Ok("POST", "/v1/pay", "/v1/pay", $$"""{"bolt11":"{{bolt11}}"}""");
        Assert.Equal("succeeded", payment.GetProperty("state").GetString());
        Assert.Equal(hash, payment.GetProperty("payment_hash").GetString());
        Assert.Equal(42_000, payment.GetProperty("amount_msat").GetInt64());
        Assert.Equal(0, payment.GetProperty("fee_msat").GetInt64());
        Assert.Equal(api.Node.NodeId.ToString(), payment.GetProperty("destination").GetString());
        var preimage = PaymentPreimage.Parse(payment.GetProperty("preimage").GetString()!);
        Assert.Equal(hash, preimage.Hash.ToString());
        Assert.Equal(JsonValueKind.Null, payment.GetProperty("failure_reason").ValueKind);
        var settled = await Ok("GET", "/v1/invoices/{payment_hash}", "/v1/invoices/" + hash);
        Assert.Equal("settled", settled.GetProperty("state").GetString());
        Assert.Equal(42_000, settled.GetProperty("amount_received_msat").GetInt64());

        var route = await Ok("GET", "/v1/route", $"/v1/route?node={ValidNodeId}&amount_msat=5000");
        Assert.Equal(5000, route.GetProperty("amount_msat").GetInt64());
        Assert.Equal(0, route.GetProperty("total_fee_msat").GetInt64());
        Assert.Equal(18, route.GetProperty("total_cltv_expiry_delta").GetInt32());
        var hop = Assert.Single(route.GetProperty("hops").EnumerateArray());
        Assert.Equal(ValidNodeId, hop.GetProperty("node_id").GetString());
        Assert.Equal(scid, hop.GetProperty("short_channel_id").GetString());
        Assert.Equal(5000, hop.GetProperty("amount_msat").GetInt64());
        var (noRoute, problem, _) = await api.SendAsync(HttpMethod.Get, $"/v1/route?node={ValidNodeId}&amount_msat=999999999999", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noRoute);
        Assert.Contains("liquidity", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var (badAmount, _, _) = await api.SendAsync(HttpMethod.Get, $"/v1/route?node={ValidNodeId}&amount_msat=lots", null);
        Assert.Equal(HttpStatusCode.BadRequest, badAmount);

        var limited = await Ok("POST", "/v1/invoices", "/v1/invoices", """{"amount_msat":7000}""");
        var limitedPayment = await Ok("POST", "/v1/pay", "/v1/pay", $$"""{"bolt11":"{{limited.GetProperty("bolt11").GetString()}}","max_fee_msat":250,"timeout_seconds":30}""");
        Assert.Equal("succeeded", limitedPayment.GetProperty("state").GetString());
        Assert.Equal(new PaymentLimits(new MilliSatoshi(250), TimeSpan.FromSeconds(30)), api.Node.LastLimits);
        var (badLimit, _, _) = await api.SendAsync(HttpMethod.Post, "/v1/pay", $$"""{"bolt11":"{{bolt11}}","timeout_seconds":0}""");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit);

        var keysend = await Ok("POST", "/v1/keysend", "/v1/keysend", $$"""{"node_id":"{{ValidNodeId}}","amount_msat":1000}""");
        Assert.Equal("succeeded", keysend.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, keysend.GetProperty("bolt11").ValueKind);
        Assert.Equal(3, (await Ok("GET", "/v1/payments", "/v1/payments")).GetArrayLength());
        Assert.Equal("succeeded", (await Ok("GET", "/v1/payments/{payment_hash}", "/v1/payments/" + hash)).GetProperty("state").GetString());

        var offer = await Ok("POST", "/v1/offers", "/v1/offers", """{"description":"tea","amount_msat":21000,"expiry_seconds":600}""");
        var lno = offer.GetProperty("offer").GetString()!;
        Assert.StartsWith("lno1", lno, StringComparison.Ordinal);
        Assert.Equal(21_000, offer.GetProperty("amount_msat").GetInt64());
        Assert.Equal("tea", Assert.Single((await Ok("GET", "/v1/offers", "/v1/offers")).EnumerateArray()).GetProperty("description").GetString());
        var offerPayment = await Ok("POST", "/v1/offers/pay", "/v1/offers/pay", $$"""{"offer":"{{lno}}","payer_note":"hi"}""");
        Assert.Equal("succeeded", offerPayment.GetProperty("state").GetString());
        Assert.Equal(21_000, offerPayment.GetProperty("amount_msat").GetInt64());
        Assert.Equal(1, (await Ok("GET", "/v1/offers", "/v1/offers"))[0].GetProperty("invoices_paid").GetInt32());
        var (badOfferLimit, _, _) = await api.SendAsync(HttpMethod.Post, "/v1/offers/pay", $$"""{"offer":"{{lno}}","timeout_seconds":0}""");
        Assert.Equal(HttpStatusCode.BadRequest, badOfferLimit);
        var (badOfferFee, _, _) = await api.SendAsync(HttpMethod.Post, "/v1/offers/pay", $$"""{"offer":"{{lno}}","max_fee_msat":-1}""");
        Assert.Equal(HttpStatusCode.BadRequest, badOfferFee);

        // Close by short channel id (resolved through the channel list), then force-close by channel id.
        var graph = await Ok("GET", "/v1/graph", "/v1/graph");
        Assert.Equal(2, graph.GetProperty("node_count").GetInt32());
        Assert.Equal(1, graph.GetProperty("channel_count").GetInt32());
        Assert.Equal(scid, Assert.Single(graph.GetProperty("our_announced_channels").EnumerateArray()).GetString());
        foreach (var field in new[] { "announced_channel_count", "node_announcement_count", "last_sync_at", "syncing_peers" })
        {
            Assert.True(graph.TryGetProperty(field, out _), field);
        }
        var graphNode = await Ok("GET", "/v1/graph/nodes/{node_id}", "/v1/graph/nodes/" + ValidNodeId);
        var graphChannel = Assert.Single(graphNode.GetProperty("channels").EnumerateArray());
        Assert.Equal(scid, graphChannel.GetProperty("short_channel_id").GetString());
        Assert.Equal(250_000, graphChannel.GetProperty("capacity_sat").GetInt64());
        Assert.Equal(1000, graphChannel.GetProperty("policy1").GetProperty("fee_base_msat").GetInt64());
        Assert.Equal(80, graphChannel.GetProperty("policy2").GetProperty("cltv_expiry_delta").GetInt32());

        var closed = await Ok("POST", "/v1/channels/{channel}/close", $"/v1/channels/{scid}/close");
        Assert.Equal("closing", closed.GetProperty("state").GetString());
        Assert.Matches("^[0-9a-f]{64}$", closed.GetProperty("closing_txid").GetString());
        var forced = await Ok("POST", "/v1/channels/{channel}/close", $"/v1/channels/{channel.GetProperty("channel_id").GetString()}/close", """{"force":true}""");
        Assert.Equal("force_closing", forced.GetProperty("state").GetString());

        var policy = await Ok("POST", "/v1/channels/{channel}/policy", $"/v1/channels/{scid}/policy", """{"base_fee_msat":2000,"fee_ppm":150,"cltv_delta":40,"htlc_max_msat":90000000}""");
        Assert.Equal(2000, policy.GetProperty("base_fee_msat").GetInt64());
        Assert.Equal(150, policy.GetProperty("fee_ppm").GetInt64());
        Assert.Equal(40, policy.GetProperty("cltv_delta").GetInt32());
        Assert.Equal(1, policy.GetProperty("htlc_min_msat").GetInt64());
        Assert.Equal(90_000_000, policy.GetProperty("htlc_max_msat").GetInt64());
        Assert.Equal(channel.GetProperty("channel_id").GetString(), policy.GetProperty("channel_id").GetString());
        api.Node.Forwards.Add(new ForwardInfo(new ChannelId(new Bytes32(new byte[32])), ShortChannelId.Parse("1x2x3"), null, ShortChannelId.Parse("4x5x6"),
            new PaymentHash(new Bytes32(new byte[32])), new MilliSatoshi(10_100), new MilliSatoshi(10_000), MilliSatoshi.Zero, ForwardState.Failed, "fee_insufficient: test",
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch));
        var forwards = await Ok("GET", "/v1/forwards", "/v1/forwards");
        var forward = Assert.Single(forwards.EnumerateArray());
        Assert.Equal("failed", forward.GetProperty("state").GetString());
        Assert.Equal(10_100, forward.GetProperty("amount_in_msat").GetInt64());
        Assert.Equal("4x5x6", forward.GetProperty("outgoing_short_channel_id").GetString());
        Assert.Equal(JsonValueKind.Null, forward.GetProperty("outgoing_channel_id").ValueKind);

        var gone = await Ok("DELETE", "/v1/peers/{node_id}", "/v1/peers/" + ValidNodeId);
        Assert.True(gone.GetProperty("disconnected").GetBoolean());
        Assert.Equal(0, (await Ok("GET", "/v1/peers", "/v1/peers")).GetArrayLength());

        Assert.Equal(NodeApiServer.Routes.Select(r => (r.Method, r.Pattern)).ToHashSet(), visited);
    }

    [Theory]
    [MemberData(nameof(AllRoutes))]
    public async Task EveryRouteRefusesAMissingOrWrongKey(string method, string path, string? body)
    {
        await using var api = await ApiFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = api.Server.Url };
        var wrongHeaders = new AuthenticationHeaderValue?[]
        {
            null,
            new("Bearer", new string('0', 64)),
            new("Bearer", api.Server.ApiKey[..^1]),
            new("Bearer", api.Server.ApiKey + "0"),
            new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + api.Server.ApiKey))),
            new("Bearer", ""),
        };
        foreach (var header in wrongHeaders)
        {
            anonymous.DefaultRequestHeaders.Authorization = header;
            var (status, json, type) = await api.SendAsync(new HttpMethod(method), path, body, anonymous);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Equal("application/problem+json", type);
            Assert.Equal("unauthorized", json.GetProperty("code").GetString());
            Assert.Equal(401, json.GetProperty("status").GetInt32());
        }
        Assert.Empty(api.Node.Calls);
    }

    [Fact]
    public async Task TheRightKeyIsAcceptedWhateverTheSchemeCase()
    {
        await using var api = await ApiFixture.StartAsync();
        using var client = new HttpClient { BaseAddress = api.Server.Url };
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "bearer " + api.Server.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Get, "/v1/info", null, client)).Status);
    }

    public static TheoryData<string, string, string, string> BadRequests() => new()
    {
        // route, body, expected code, a fragment of the detail
        { "/v1/peers", "", "malformed_request", "body is required" },
        { "/v1/peers", "not json", "malformed_request", "JSON object" },
        { "/v1/peers", "[1,2]", "malformed_request", "JSON object" },
        { "/v1/peers", "null", "malformed_request", "JSON object" },
        { "/v1/peers", "{\"node_id\":", "malformed_request", "malformed JSON" },
        { "/v1/peers", "{\"node_id\":5,\"address\":\"127.0.0.1:1\"}", "malformed_request", "malformed JSON" },
        { "/v1/peers", "{\"address\":\"127.0.0.1:9735\"}", "invalid_argument", "node_id is required" },
        { "/v1/peers", $$"""{"node_id":"{{new string('z', 66)}}","address":"127.0.0.1:9735"}""", "invalid_argument", "not a node id" },
        { "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}"}""", "invalid_argument", "address is required" },
        { "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"127.0.0.1"}""", "invalid_argument", "host:port" },
        { "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"127.0.0.1:70000"}""", "invalid_argument", "between 1 and 65535" },
        { "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"::1:9735"}""", "invalid_argument", "[addr]:port" },
        { "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"[nope]:9735"}""", "invalid_argument", "IPv6" },
        { "/v1/channels/" + new string('a', 64) + "/policy", """{"fee_ppm":1,"cltv_delta":40}""", "invalid_argument", "base_fee_msat is required" },
        { "/v1/channels/" + new string('a', 64) + "/policy", """{"base_fee_msat":1,"fee_ppm":1000001,"cltv_delta":40}""", "invalid_argument", "fee_ppm must be between" },
        { "/v1/channels/" + new string('a', 64) + "/policy", """{"base_fee_msat":1,"fee_ppm":1,"cltv_delta":0}""", "invalid_argument", "cltv_delta must be between" },
        { "/v1/channels/" + new string('a', 64) + "/policy", """{"base_fee_msat":1,"fee_ppm":1,"cltv_delta":40,"htlc_min_msat":10,"htlc_max_msat":5}""", "invalid_argument", "below htlc_min_msat" },
        { "/v1/channels/nope/policy", """{"base_fee_msat":1,"fee_ppm":1,"cltv_delta":40}""", "invalid_argument", "not a channel id" },
        { "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}"}""", "invalid_argument", "amount_sat is required" },
        { "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":0}""", "invalid_argument", "amount_sat must be between" },
        { "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":-5}""", "invalid_argument", "amount_sat must be between" },
        { "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":2100000000000001}""", "invalid_argument", "amount_sat must be between" },
        { "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":1.5}""", "malformed_request", "malformed JSON" },
        { "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":"1000"}""", "malformed_request", "malformed JSON" },
        { "/v1/channels/xyz/close", "", "invalid_argument", "not a channel id" },
        { "/v1/channels/" + new string('a', 64) + "/close", "{\"force\":\"yes\"}", "malformed_request", "malformed JSON" },
        { "/v1/channels/restore", "{}", "invalid_argument", "backup is required" },
        { "/v1/channels/restore", "{\"backup\":\"%%%\"}", "invalid_argument", "backup is not base64" },
        { "/v1/channels/restore", "{\"backup\":\"AAAA\"}", "invalid_argument", "not a static channel backup" },
        { "/v1/invoices", "{}", "invalid_argument", "amount_msat is required" },
        { "/v1/invoices", "{\"amount_msat\":0}", "invalid_argument", "amount_msat must be between" },
        { "/v1/invoices", "{\"amount_msat\":2100000000000000001}", "invalid_argument", "amount_msat must be between" },
        { "/v1/invoices", "{\"amount_msat\":99999999999999999999}", "malformed_request", "malformed JSON" },
        { "/v1/invoices", $$"""{"amount_msat":1000,"description":"{{new string('x', 640)}}"}""", "invalid_argument", "639" },
        { "/v1/invoices", "{\"amount_msat\":1000,\"expiry_seconds\":0}", "invalid_argument", "expiry_seconds" },
        { "/v1/invoices", "{\"amount_msat\":1000,\"expiry_seconds\":99999999999}", "invalid_argument", "expiry_seconds" },
        { "/v1/pay", "{}", "invalid_argument", "bolt11 is required" },
        { "/v1/pay", "{\"bolt11\":\"   \"}", "invalid_argument", "bolt11 is required" },
        { "/v1/pay", "{\"bolt11\":\"lnbcrt1garbage\"}", "invalid_argument", "not a valid BOLT 11 invoice" },
        { "/v1/pay", "{\"bolt11\":\"lnbcrt1x\",\"amount_msat\":-1}", "invalid_argument", "amount_msat must be between" },
        { "/v1/keysend", $$"""{"node_id":"{{ValidNodeId}}"}""", "invalid_argument", "amount_msat is required" },
        { "/v1/keysend", "{\"amount_msat\":1000}", "invalid_argument", "node_id is required" },
        { "/v1/wallet/address", "[]", "malformed_request", "JSON object" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequestsGetA400ProblemThatSaysWhy(string path, string body, string code, string detail)
    {
        await using var api = await ApiFixture.StartAsync();
        var (status, json, type) = await api.SendAsync(HttpMethod.Post, path, body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", type);
        Assert.Equal(code, json.GetProperty("code").GetString());
        Assert.Equal(400, json.GetProperty("status").GetInt32());
        Assert.Equal("urn:satflow:problem:" + code, json.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("title").GetString()));
        Assert.Contains(detail, json.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/invoices/xyz")]
    [InlineData("/v1/payments/abcd")]
    [InlineData("/v1/invoices/" + "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg")]
    public async Task BadPaymentHashesInThePathAre400(string path)
    {
        await using var api = await ApiFixture.StartAsync();
        var (status, json, _) = await api.SendAsync(HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not a payment hash", json.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadNodeIdInThePathIs400()
    {
        await using var api = await ApiFixture.StartAsync();
        var (status, json, _) = await api.SendAsync(HttpMethod.Delete, "/v1/peers/02abcd");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not a node id", json.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(NodeErrorCode.InvalidArgument, 400, "invalid_argument")]
    [InlineData(NodeErrorCode.NotFound, 404, "not_found")]
    [InlineData(NodeErrorCode.PeerNotConnected, 409, "peer_not_connected")]
    [InlineData(NodeErrorCode.InsufficientFunds, 409, "insufficient_funds")]
    [InlineData(NodeErrorCode.AlreadyPaid, 409, "already_paid")]
    [InlineData(NodeErrorCode.ChannelNotReady, 409, "channel_not_ready")]
    [InlineData(NodeErrorCode.Conflict, 409, "conflict")]
    [InlineData(NodeErrorCode.InvoiceExpired, 422, "invoice_expired")]
    [InlineData(NodeErrorCode.NoRoute, 422, "no_route")]
    [InlineData(NodeErrorCode.Rejected, 422, "rejected")]
    [InlineData(NodeErrorCode.Unavailable, 503, "unavailable")]
    public async Task NodeErrorCodesMapToStatusAndProblemCode(NodeErrorCode code, int status, string name)
    {
        Assert.Equal(status, (int)NodeOperationException.StatusFor(code));
        await using var api = await ApiFixture.StartAsync();
        api.Node.FailWith = new NodeOperationException(code, "the node says no\nfor a reason");
        foreach (var route in NodeApiServer.Routes)
        {
            var (actual, json, type) = await api.SendAsync(new HttpMethod(route.Method), Concrete(route.Pattern), ValidBody(route));
            Assert.Equal(status, (int)actual);
            Assert.Equal("application/problem+json", type);
            Assert.Equal(name, json.GetProperty("code").GetString());
            Assert.Equal("the node says no\nfor a reason", json.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public void EveryErrorCodeHasAStatus()
    {
        foreach (var code in Enum.GetValues<NodeErrorCode>())
        {
            Assert.InRange((int)NodeOperationException.StatusFor(code), 400, 599);
        }
    }

    [Fact]
    public async Task AnUnexpectedNodeFailureIsA500ProblemNotACrash()
    {
        await using var api = await ApiFixture.StartAsync();
        api.Node.FailWith = new InvalidOperationException("disk on fire");
        var (status, json, type) = await api.SendAsync(HttpMethod.Get, "/v1/info");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("application/problem+json", type);
        Assert.Equal("internal", json.GetProperty("code").GetString());
        Assert.Contains("disk on fire", json.GetProperty("detail").GetString(), StringComparison.Ordinal);
        api.Node.FailWith = null;
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Get, "/v1/info")).Status);
    }

    [Fact]
    public async Task TheNodesOwnErrorsReachTheClient()
    {
        await using var api = await ApiFixture.StartAsync();
        var cases = new (HttpMethod Method, string Path, string? Body, HttpStatusCode Status, string Code)[]
        {
            (HttpMethod.Delete, "/v1/peers/" + ValidNodeId, null, HttpStatusCode.Conflict, "peer_not_connected"),
            (HttpMethod.Post, "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":1000}""", HttpStatusCode.Conflict, "peer_not_connected"),
            (HttpMethod.Post, "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"localhost:{{InMemoryNode.UnreachablePort}}"}""", HttpStatusCode.ServiceUnavailable, "unavailable"),
            (HttpMethod.Post, "/v1/peers", $$"""{"node_id":"{{ValidNodeId}}","address":"[::1]:9735"}""", HttpStatusCode.OK, ""),
            (HttpMethod.Post, "/v1/channels", $$"""{"node_id":"{{ValidNodeId}}","amount_sat":200000000}""", HttpStatusCode.Conflict, "insufficient_funds"),
            (HttpMethod.Get, "/v1/invoices/" + new string('c', 64), null, HttpStatusCode.NotFound, "not_found"),
            (HttpMethod.Get, "/v1/payments/" + new string('c', 64), null, HttpStatusCode.NotFound, "not_found"),
            (HttpMethod.Post, "/v1/channels/1x2x3/close", null, HttpStatusCode.NotFound, "not_found"),
            (HttpMethod.Post, "/v1/channels/" + new string('d', 64) + "/close", "{\"force\":true}", HttpStatusCode.NotFound, "not_found"),
            (HttpMethod.Post, "/v1/keysend", $$"""{"node_id":"{{ValidNodeId}}","amount_msat":1000}""", HttpStatusCode.UnprocessableEntity, "no_route"),
            (HttpMethod.Get, "/v1/nope", null, HttpStatusCode.NotFound, "not_found"),
        };
        foreach (var (method, path, body, expected, code) in cases)
        {
            var (status, json, _) = await api.SendAsync(method, path, body);
            Assert.True(expected == status, $"{method} {path}: {status} {json}");
            if (code.Length > 0)
            {
                Assert.Equal(code, json.GetProperty("code").GetString());
            }
        }
    }

    [Fact]
    public async Task PayingTwiceIsAlreadyPaidAndAnExpiredInvoiceIsRefused()
    {
        await using var api = await ApiFixture.StartAsync();
        var invoice = await api.SendAsync(HttpMethod.Post, "/v1/invoices", """{"amount_msat":1000,"expiry_seconds":1}""");
        var pay = $$"""{"bolt11":"{{invoice.Body.GetProperty("bolt11").GetString()}}"}""";
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Post, "/v1/pay", pay)).Status);
        var again = await api.SendAsync(HttpMethod.Post, "/v1/pay", pay);
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("already_paid", again.Body.GetProperty("code").GetString());

        api.Node.Time = new ShiftedTime(TimeSpan.FromMinutes(10));
        var late = await api.SendAsync(HttpMethod.Post, "/v1/invoices", """{"amount_msat":1000,"expiry_seconds":1}""");
        api.Node.Time = TimeProvider.System;
        var expired = await api.SendAsync(HttpMethod.Post, "/v1/pay", $$"""{"bolt11":"{{late.Body.GetProperty("bolt11").GetString()}}"}""");
        Assert.Equal((HttpStatusCode)422, expired.Status);
        Assert.Equal("invoice_expired", expired.Body.GetProperty("code").GetString());
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => TimeProvider.System.GetUtcNow() - shift;
    }

    [Fact]
    public async Task AnOversizedBodyIsRefused()
    {
        await using var api = await ApiFixture.StartAsync();
        var body = "{\"bolt11\":\"" + new string('a', 100_000) + "\"}";
        var (status, json, _) = await api.SendAsync(HttpMethod.Post, "/v1/pay", body);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("malformed_request", json.GetProperty("code").GetString());
    }

    [Fact]
    public async Task ApiFileIsWrittenPrivatelyAndRemovedOnStop()
    {
        var api = await ApiFixture.StartAsync();
        var path = Path.Combine(api.DataDirectory, "api.json");
        Assert.Equal(path, api.Server.ApiFilePath);
        Assert.True(File.Exists(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        var json = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        Assert.Equal(api.Server.Url.ToString(), json.GetProperty("url").GetString());
        var key = json.GetProperty("api_key").GetString()!;
        Assert.Equal(api.Server.ApiKey, key);
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Equal(new NodeApiFile(api.Server.Url, key), NodeApiFile.TryRead(api.DataDirectory));
        Assert.Empty(Directory.GetFiles(api.DataDirectory, "*.tmp", SearchOption.AllDirectories));
        await api.Server.StopAsync();
        Assert.False(File.Exists(path));
        await api.DisposeAsync();
    }

    [Fact]
    public async Task StoppingLeavesAnotherNodesApiFileAlone()
    {
        var api = await ApiFixture.StartAsync();
        var other = new NodeApiFile(new Uri("http://127.0.0.1:1/"), "other");
        other.WriteTo(api.DataDirectory);
        await api.Server.StopAsync();
        Assert.Equal(other, NodeApiFile.TryRead(api.DataDirectory));
        await api.DisposeAsync();
    }

    [Fact]
    public async Task EachStartHasAFreshKey()
    {
        await using var a = await ApiFixture.StartAsync();
        await using var b = await ApiFixture.StartAsync();
        Assert.NotEqual(a.Server.ApiKey, b.Server.ApiKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.SendAsync(HttpMethod.Get, "/v1/info", null, b.Client is var c ? WithBase(c, a.Server.Url) : null)).Status);
    }

    private static HttpClient WithBase(HttpClient source, Uri url)
    {
        var client = new HttpClient { BaseAddress = url };
        client.DefaultRequestHeaders.Authorization = source.DefaultRequestHeaders.Authorization;
        return client;
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("10.1.2.3")]
    [InlineData("::")]
    public async Task NonLoopbackBindIsRefused(string address)
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => NodeApiServer.StartAsync(new InMemoryNode(),
            new NodeApiServerOptions { Bind = new IPEndPoint(IPAddress.Parse(address), 0) }));
        Assert.Contains("loopback", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEmptyKeyIsRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => NodeApiServer.StartAsync(new InMemoryNode(),
            new NodeApiServerOptions { Bind = new IPEndPoint(IPAddress.Loopback, 0), ApiKey = "" }));
    }

    [Fact]
    public void ApiFileReadingReportsGarbageAsFormatException()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-apifile-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Assert.Null(NodeApiFile.TryRead(dir));
            Assert.Null(NodeApiFile.TryRead(Path.Combine(dir, "missing")));
            foreach (var garbage in new[] { "", "{", "[]", "{\"url\":\"ftp://x/\",\"api_key\":\"k\"}", "{\"url\":\"http://127.0.0.1:1/\"}" })
            {
                File.WriteAllText(NodeApiFile.PathIn(dir), garbage);
                Assert.Throws<FormatException>(() => NodeApiFile.TryRead(dir));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void DtoJsonRoundTripsWithStrongTypes()
    {
        var hash = new PaymentHash(new Bytes32(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        var channel = new ChannelInfo(new ChannelId(hash.Value), new ShortChannelId(1, 2, 3), new InMemoryNode().NodeId, ChannelState.ShuttingDown,
            Money.Satoshis(5), new MilliSatoshi(7), new MilliSatoshi(9), new OutPoint(uint256.One, 4), false);
        var json = JsonSerializer.Serialize(channel, NodeApiJson.Options);
        Assert.Contains("\"short_channel_id\": \"1x2x3\"", json, StringComparison.Ordinal);
        Assert.Contains("\"state\": \"shutting_down\"", json, StringComparison.Ordinal);
        Assert.Contains($"\"funding_outpoint\": \"{uint256.One}:4\"", json, StringComparison.Ordinal);
        Assert.Equal(channel, JsonSerializer.Deserialize<ChannelInfo>(json, NodeApiJson.Options));
    }
}
