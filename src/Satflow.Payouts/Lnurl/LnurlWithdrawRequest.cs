using System.Text;
using System.Text.Json;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Lnurl;

/// <summary>
/// LUD-03 <c>withdrawRequest</c>: what an LNURL-withdraw service answers to the first GET. The wallet then calls
/// <see cref="Callback"/> with <c>k1</c> and <c>pr</c> (an invoice for an amount within the range), and the service
/// answers with an <see cref="LnurlStatus"/>.
/// </summary>
public sealed record LnurlWithdrawRequest
{
    /// <summary>The tag value.</summary>
    public const string Tag = "withdrawRequest";

    /// <summary>Where the wallet sends its invoice.</summary>
    public required Uri Callback { get; init; }

    /// <summary>The secret the wallet echoes back.</summary>
    public required string K1 { get; init; }

    /// <summary>A description the wallet puts in its invoice by default.</summary>
    public required string DefaultDescription { get; init; }

    /// <summary>The smallest withdrawal.</summary>
    public required MilliSatoshi MinWithdrawable { get; init; }

    /// <summary>The largest withdrawal.</summary>
    public required MilliSatoshi MaxWithdrawable { get; init; }

    /// <summary>Parses and validates a withdrawRequest response.</summary>
    /// <exception cref="LnurlException">Any violation, or a service error response.</exception>
    public static LnurlWithdrawRequest Parse(string? json, bool allowInsecureLoopback = false)
    {
        using var document = LnurlJson.ParseObject(json);
        var root = document.RootElement;
        LnurlJson.RequireTag(root, Tag);
        var request = new LnurlWithdrawRequest
        {
            Callback = LnurlJson.Url(root, "callback", allowInsecureLoopback),
            K1 = LnurlJson.String(root, "k1"),
            DefaultDescription = LnurlJson.OptionalString(root, "defaultDescription") ?? "",
            MinWithdrawable = LnurlJson.MilliSatoshis(root, "minWithdrawable"),
            MaxWithdrawable = LnurlJson.MilliSatoshis(root, "maxWithdrawable"),
        };
        request.Validate(allowInsecureLoopback);
        return request;
    }

    /// <summary>Checks the callback, k1 and range (min ≤ max, max ≥ 1).</summary>
    /// <exception cref="LnurlException">The first violation.</exception>
    public void Validate(bool allowInsecureLoopback = false)
    {
        LnurlCodec.ValidateServiceUrl(Callback, allowInsecureLoopback);
        if (string.IsNullOrEmpty(K1) || K1.Length > 256)
        {
            throw new LnurlException(LnurlError.InvalidField, "k1 must be 1 to 256 characters");
        }

        if (MinWithdrawable > MaxWithdrawable || MaxWithdrawable.Value < 1 || MaxWithdrawable > MilliSatoshi.MaxMoney)
        {
            throw new LnurlException(LnurlError.InvalidField, "need minWithdrawable <= maxWithdrawable and maxWithdrawable >= 1");
        }
    }

    /// <summary>The withdrawRequest JSON a service answers with.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("tag", Tag);
            w.WriteString("callback", Callback.OriginalString);
            w.WriteString("k1", K1);
            w.WriteString("defaultDescription", DefaultDescription);
            w.WriteNumber("minWithdrawable", MinWithdrawable.Value);
            w.WriteNumber("maxWithdrawable", MaxWithdrawable.Value);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Wallet side: the callback URL carrying <c>k1</c> and the invoice <paramref name="invoice"/>.</summary>
    /// <exception cref="LnurlException">An invalid invoice or one outside the range.</exception>
    public Uri BuildCallbackUri(string invoice)
    {
        CheckInvoice(invoice);
        return LnurlCodec.AppendQuery(Callback, ("k1", K1), ("pr", invoice));
    }

    /// <summary>
    /// Server side: checks the <c>k1</c> and <c>pr</c> a wallet sent (constant-time k1 comparison; the invoice must
    /// decode and carry an amount within the range) and returns the decoded invoice.
    /// </summary>
    /// <exception cref="LnurlException">A wrong k1, a bad invoice or an amount out of range.</exception>
    public Bolt11Invoice ValidateCallback(string? k1, string? pr)
    {
        if (k1 is null || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(k1), Encoding.UTF8.GetBytes(K1)))
        {
            throw new LnurlException(LnurlError.InvalidField, "k1 does not match");
        }

        return CheckInvoice(pr);
    }

    private Bolt11Invoice CheckInvoice(string? invoice)
    {
        if (string.IsNullOrEmpty(invoice))
        {
            throw new LnurlException(LnurlError.InvalidInvoice, "'pr' is missing");
        }

        if (!Bolt11Invoice.TryDecode(invoice, out var decoded, out var error))
        {
            throw new LnurlException(LnurlError.InvalidInvoice, "'pr' is not a BOLT 11 invoice: " + error?.Reason, error);
        }

        if (decoded!.Amount is not { } amount)
        {
            throw new LnurlException(LnurlError.InvalidInvoice, "the invoice must carry an amount");
        }

        if (amount < MinWithdrawable || amount > MaxWithdrawable)
        {
            throw new LnurlException(LnurlError.AmountOutOfRange, $"{amount} is outside {MinWithdrawable.Value}..{MaxWithdrawable.Value} msat");
        }

        return decoded;
    }
}

/// <summary>The <c>{"status":"OK"}</c> / <c>{"status":"ERROR","reason":…}</c> answer of LNURL callbacks.</summary>
public static class LnurlStatus
{
    /// <summary>The success answer.</summary>
    public const string OkJson = "{\"status\":\"OK\"}";

    /// <summary>An error answer with <paramref name="reason"/>.</summary>
    public static string ErrorJson(string reason) => JsonSerializer.Serialize(new Dictionary<string, string> { ["status"] = "ERROR", ["reason"] = reason ?? "" });

    /// <summary>Checks an answer is OK.</summary>
    /// <exception cref="LnurlException"><see cref="LnurlError.ServiceError"/> with the reason, or a malformed answer.</exception>
    public static void EnsureOk(string? json)
    {
        using var document = LnurlJson.ParseObject(json);
        if (LnurlJson.OptionalString(document.RootElement, "status") is not { } s || !string.Equals(s, "OK", StringComparison.OrdinalIgnoreCase))
        {
            throw new LnurlException(LnurlError.InvalidField, "'status' is not OK");
        }
    }
}
