using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Lnurl;

/// <summary>The amount and comment a payer sent to an LNURL-pay callback, validated.</summary>
/// <param name="Amount">The amount to invoice.</param>
/// <param name="DescriptionHash">The SHA-256 of the metadata: the invoice's description hash.</param>
/// <param name="Comment">The LUD-12 comment, if any.</param>
public sealed record LnurlPayCallback(MilliSatoshi Amount, Bytes32 DescriptionHash, string? Comment);

/// <summary>
/// LUD-06 <c>payRequest</c>: what an LNURL-pay service (or a LUD-16 lightning address) answers to the first GET:
/// the callback, the sendable range in millisatoshis and the metadata (a JSON array of <c>[mime, content]</c> pairs
/// with exactly one <c>text/plain</c>) whose SHA-256 the invoice's description hash must equal. LUD-12
/// <c>commentAllowed</c> is supported.
/// </summary>
public sealed record LnurlPayRequest
{
    /// <summary>The tag value.</summary>
    public const string Tag = "payRequest";

    /// <summary>Where the wallet asks for an invoice.</summary>
    public required Uri Callback { get; init; }

    /// <summary>The smallest amount accepted (at least 1 msat).</summary>
    public required MilliSatoshi MinSendable { get; init; }

    /// <summary>The largest amount accepted.</summary>
    public required MilliSatoshi MaxSendable { get; init; }

    /// <summary>The metadata, exactly as sent (its bytes are hashed).</summary>
    public required string Metadata { get; init; }

    /// <summary>The longest comment accepted (LUD-12); 0 or null: none.</summary>
    public int? CommentAllowed { get; init; }

    /// <summary>SHA-256 of the UTF-8 metadata: the description hash invoices must carry.</summary>
    public Bytes32 MetadataHash => new(SHA256.HashData(Encoding.UTF8.GetBytes(Metadata)));

    /// <summary>The <c>text/plain</c> description from the metadata.</summary>
    public string Description => ParseMetadata(Metadata).Description;

    /// <summary>The <c>text/identifier</c> (LUD-16 address) from the metadata, if any.</summary>
    public string? Identifier => ParseMetadata(Metadata).Identifier;

    /// <summary>Server side: a payRequest for a store's LNURL-pay endpoint or lightning address.</summary>
    /// <exception cref="LnurlException">Invalid values.</exception>
    public static LnurlPayRequest Create(Uri callback, MilliSatoshi minSendable, MilliSatoshi maxSendable, string description,
        LightningAddress? identifier = null, int? commentAllowed = null, bool allowInsecureLoopback = false)
    {
        var request = new LnurlPayRequest
        {
            Callback = callback,
            MinSendable = minSendable,
            MaxSendable = maxSendable,
            Metadata = BuildMetadata(description, identifier),
            CommentAllowed = commentAllowed,
        };
        request.Validate(allowInsecureLoopback);
        return request;
    }

    /// <summary>Builds metadata: <c>[["text/plain", description]]</c> plus <c>["text/identifier", address]</c> when given.</summary>
    public static string BuildMetadata(string description, LightningAddress? identifier = null)
    {
        ArgumentNullException.ThrowIfNull(description);
        var entries = new List<string[]> { new[] { "text/plain", description } };
        if (identifier is not null)
        {
            entries.Add(["text/identifier", identifier.ToString()]);
        }

        return JsonSerializer.Serialize(entries);
    }

    /// <summary>Parses and validates a payRequest response.</summary>
    /// <exception cref="LnurlException">Any violation, or a service error response.</exception>
    public static LnurlPayRequest Parse(string? json, bool allowInsecureLoopback = false)
    {
        using var document = LnurlJson.ParseObject(json);
        var root = document.RootElement;
        LnurlJson.RequireTag(root, Tag);
        var request = new LnurlPayRequest
        {
            Callback = LnurlJson.Url(root, "callback", allowInsecureLoopback),
            MinSendable = LnurlJson.MilliSatoshis(root, "minSendable"),
            MaxSendable = LnurlJson.MilliSatoshis(root, "maxSendable"),
            Metadata = LnurlJson.String(root, "metadata"),
            CommentAllowed = LnurlJson.OptionalInt(root, "commentAllowed"),
        };
        request.Validate(allowInsecureLoopback);
        return request;
    }

    /// <summary>Checks the range (1 ≤ min ≤ max), the callback and the metadata.</summary>
    /// <exception cref="LnurlException">The first violation.</exception>
    public void Validate(bool allowInsecureLoopback = false)
    {
        LnurlCodec.ValidateServiceUrl(Callback, allowInsecureLoopback);
        if (MinSendable.Value < 1 || MinSendable > MaxSendable || MaxSendable > MilliSatoshi.MaxMoney)
        {
            throw new LnurlException(LnurlError.InvalidField, "need 1 <= minSendable <= maxSendable");
        }

        if (CommentAllowed is < 0 or > 2000)
        {
            throw new LnurlException(LnurlError.InvalidField, "commentAllowed must be 0 to 2000");
        }

        ParseMetadata(Metadata);
    }

    /// <summary>The payRequest JSON a service answers with.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("tag", Tag);
            w.WriteString("callback", Callback.OriginalString);
            w.WriteNumber("minSendable", MinSendable.Value);
            w.WriteNumber("maxSendable", MaxSendable.Value);
            w.WriteString("metadata", Metadata);
            if (CommentAllowed is { } c)
            {
                w.WriteNumber("commentAllowed", c);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The URL a wallet calls to get an invoice for <paramref name="amount"/> (with an optional comment).</summary>
    /// <exception cref="LnurlException">Amount out of range or comment too long.</exception>
    public Uri BuildCallbackUri(MilliSatoshi amount, string? comment = null)
    {
        CheckAmount(amount);
        CheckComment(comment);
        return comment is { Length: > 0 }
            ? LnurlCodec.AppendQuery(Callback, ("amount", LnurlJson.Number(amount.Value)), ("comment", comment))
            : LnurlCodec.AppendQuery(Callback, ("amount", LnurlJson.Number(amount.Value)));
    }

    /// <summary>
    /// Server side: validates the <c>amount</c> and <c>comment</c> query values a wallet sent to the callback and
    /// returns what the invoice must carry (amount and description hash).
    /// </summary>
    /// <exception cref="LnurlException">A missing/invalid amount, one out of range, or a comment too long.</exception>
    public LnurlPayCallback ValidateCallback(string? amountQuery, string? comment)
    {
        if (string.IsNullOrEmpty(amountQuery) || amountQuery.Length > 20 || !amountQuery.All(char.IsAsciiDigit)
            || !ulong.TryParse(amountQuery, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var msat))
        {
            throw new LnurlException(LnurlError.InvalidField, "'amount' must be a whole number of millisatoshis");
        }

        var amount = new MilliSatoshi(msat);
        CheckAmount(amount);
        CheckComment(comment);
        return new LnurlPayCallback(amount, MetadataHash, string.IsNullOrEmpty(comment) ? null : comment);
    }

    /// <summary>
    /// Wallet side: parses the callback's answer (<c>{"pr": "...", "routes": []}</c>) and checks the invoice: valid
    /// BOLT 11, amount equal to <paramref name="amount"/>, description hash equal to <see cref="MetadataHash"/>.
    /// </summary>
    /// <exception cref="LnurlException">A service error, a malformed answer or an invoice that does not match.</exception>
    public Bolt11Invoice VerifyCallbackResponse(string? json, MilliSatoshi amount)
    {
        using var document = LnurlJson.ParseObject(json);
        var pr = LnurlJson.String(document.RootElement, "pr");
        if (!Bolt11Invoice.TryDecode(pr, out var invoice, out var error))
        {
            throw new LnurlException(LnurlError.InvalidInvoice, "'pr' is not a BOLT 11 invoice: " + error?.Reason, error);
        }

        if (invoice!.Amount != amount)
        {
            throw new LnurlException(LnurlError.InvalidInvoice, $"the invoice is for {invoice.Amount?.ToString() ?? "no amount"}, not {amount}");
        }

        if (invoice.DescriptionHash != MetadataHash)
        {
            throw new LnurlException(LnurlError.MetadataMismatch, "the invoice's description hash is not SHA-256 of the metadata");
        }

        return invoice;
    }

    private void CheckAmount(MilliSatoshi amount)
    {
        if (amount < MinSendable || amount > MaxSendable)
        {
            throw new LnurlException(LnurlError.AmountOutOfRange, $"{amount} is outside {MinSendable.Value}..{MaxSendable.Value} msat");
        }
    }

    private void CheckComment(string? comment)
    {
        if (comment is { Length: > 0 } && comment.Length > (CommentAllowed ?? 0))
        {
            throw new LnurlException(LnurlError.CommentTooLong, $"comments are limited to {CommentAllowed ?? 0} characters");
        }
    }

    private static (string Description, string? Identifier) ParseMetadata(string? metadata)
    {
        if (string.IsNullOrEmpty(metadata) || metadata.Length > 100_000)
        {
            throw new LnurlException(LnurlError.MetadataMismatch, "metadata is empty or oversized");
        }

        try
        {
            using var document = JsonDocument.Parse(metadata, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new LnurlException(LnurlError.MetadataMismatch, "metadata is not a JSON array");
            }

            string? description = null;
            string? identifier = null;
            foreach (var entry in document.RootElement.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() < 2 || entry[0].ValueKind != JsonValueKind.String)
                {
                    throw new LnurlException(LnurlError.MetadataMismatch, "metadata entries must be [mime, content] arrays");
                }

                var mime = entry[0].GetString();
                if (mime == "text/plain")
                {
                    if (description is not null || entry[1].ValueKind != JsonValueKind.String)
                    {
                        throw new LnurlException(LnurlError.MetadataMismatch, "metadata needs exactly one text/plain string");
                    }

                    description = entry[1].GetString();
                }
                else if (mime is "text/identifier" or "text/email" && entry[1].ValueKind == JsonValueKind.String)
                {
                    identifier = entry[1].GetString();
                }
            }

            return description is null
                ? throw new LnurlException(LnurlError.MetadataMismatch, "metadata has no text/plain entry")
                : (description, identifier);
        }
        catch (JsonException e)
        {
            throw new LnurlException(LnurlError.MetadataMismatch, "metadata is not valid JSON", e);
        }
        catch (InvalidOperationException e)
        {
            throw new LnurlException(LnurlError.MetadataMismatch, "metadata text is not valid", e);
        }
    }
}
