using System.Globalization;
using System.Text.Json;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Lnurl;

/// <summary>Strict JSON reading shared by the LNURL models.</summary>
internal static class LnurlJson
{
    /// <summary>Parses an object; an LNURL error response becomes <see cref="LnurlError.ServiceError"/>.</summary>
    public static JsonDocument ParseObject(string? json)
    {
        if (string.IsNullOrEmpty(json) || json.Length > 1_000_000)
        {
            throw new LnurlException(LnurlError.InvalidJson, "empty or oversized response");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new LnurlException(LnurlError.InvalidJson, e.Message, e);
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new LnurlException(LnurlError.InvalidJson, "the response is not a JSON object");
        }

        if (root.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String
            && string.Equals(status.GetString(), "ERROR", StringComparison.OrdinalIgnoreCase))
        {
            var reason = root.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            document.Dispose();
            throw new LnurlException(LnurlError.ServiceError, reason ?? "the service reported an error");
        }

        return document;
    }

    public static void RequireTag(JsonElement root, string tag)
    {
        var actual = String(root, "tag");
        if (actual != tag)
        {
            throw new LnurlException(LnurlError.WrongTag, $"tag is '{actual}', expected '{tag}'");
        }
    }

    public static string String(JsonElement root, string name) =>
        OptionalString(root, name) ?? throw new LnurlException(LnurlError.InvalidField, $"'{name}' is missing");

    public static string? OptionalString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new LnurlException(LnurlError.InvalidField, $"'{name}' is not a string");
        }

        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException e)
        {
            throw new LnurlException(LnurlError.InvalidField, $"'{name}' is not valid text", e);
        }
    }

    public static MilliSatoshi MilliSatoshis(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetUInt64(out var msat))
        {
            throw new LnurlException(LnurlError.InvalidField, $"'{name}' is not a whole number of millisatoshis");
        }

        return msat > MilliSatoshi.MaxMoney.Value
            ? throw new LnurlException(LnurlError.InvalidField, $"'{name}' is more than 21 million BTC")
            : new MilliSatoshi(msat);
    }

    public static int? OptionalInt(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n >= 0
            ? n
            : throw new LnurlException(LnurlError.InvalidField, $"'{name}' is not a non-negative integer");
    }

    public static Uri Url(JsonElement root, string name, bool allowInsecureLoopback)
    {
        var text = String(root, name);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            throw new LnurlException(LnurlError.InvalidUrl, $"'{name}' is not an absolute URL");
        }

        LnurlCodec.ValidateServiceUrl(uri, allowInsecureLoopback);
        return uri;
    }

    public static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
