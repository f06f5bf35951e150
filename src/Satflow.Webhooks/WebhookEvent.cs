using System.Text.Json;

namespace Satflow.Webhooks;

/// <summary>
/// The envelope every webhook request carries as its JSON body:
/// <c>{"id":"…","type":"invoice.settled","created":1764124800,"ownerId":"…","data":{…}}</c>
/// (<c>created</c> is UNIX seconds). The body bytes are produced once, stored in the outbox and sent unchanged on
/// every attempt and redelivery, so a receiver can deduplicate on <c>id</c>.
/// </summary>
public sealed record WebhookEvent
{
    /// <summary>Unique event id (receivers deduplicate on it).</summary>
    public required string Id { get; init; }

    /// <summary>The event type, e.g. <see cref="WebhookEventTypes.InvoiceSettled"/>.</summary>
    public required string Type { get; init; }

    /// <summary>When the event happened (serialised as whole UNIX seconds).</summary>
    public required DateTimeOffset Created { get; init; }

    /// <summary>The store (or other owner) the event belongs to; selects the subscriptions.</summary>
    public required string OwnerId { get; init; }

    /// <summary>Event-specific payload (an object).</summary>
    public required JsonElement Data { get; init; }

    /// <summary>Creates an event with a fresh id, the current time and <paramref name="data"/> serialised to JSON.</summary>
    /// <exception cref="WebhookException">Bad type or owner, or data that is not a JSON object.</exception>
    public static WebhookEvent Create<T>(string type, string ownerId, T data, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var element = JsonSerializer.SerializeToElement(data, SerializerOptions);
        var created = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds());
        var e = new WebhookEvent { Id = WebhookSubscription.NewId(), Type = type, OwnerId = ownerId, Created = created, Data = element };
        e.Validate();
        return e;
    }

    /// <summary>camelCase names, no indentation.</summary>
    public static JsonSerializerOptions SerializerOptions { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    /// <summary>Checks the type, ids and that <see cref="Data"/> is an object.</summary>
    /// <exception cref="WebhookException">The first broken rule.</exception>
    public void Validate()
    {
        if (!WebhookEventTypes.IsValid(Type))
        {
            throw new WebhookException(WebhookErrorReason.InvalidEventType, $"'{Type}' is not a valid event type.");
        }

        if (string.IsNullOrWhiteSpace(Id) || Id.Length > 64 || string.IsNullOrWhiteSpace(OwnerId) || OwnerId.Length > 128)
        {
            throw new WebhookException(WebhookErrorReason.InvalidArgument, "An event needs an id (at most 64 characters) and an owner id (at most 128).");
        }

        if (Data.ValueKind != JsonValueKind.Object)
        {
            throw new WebhookException(WebhookErrorReason.InvalidArgument, "Event data must be a JSON object.");
        }
    }

    /// <summary>The UTF-8 JSON body sent to endpoints.</summary>
    public byte[] ToJsonBytes()
    {
        Validate();
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("id", Id);
            writer.WriteString("type", Type);
            writer.WriteNumber("created", Created.ToUnixTimeSeconds());
            writer.WriteString("ownerId", OwnerId);
            writer.WritePropertyName("data");
            Data.WriteTo(writer);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>Parses a body produced by <see cref="ToJsonBytes"/> (what a receiver does after verifying the signature).</summary>
    /// <exception cref="WebhookException">Malformed JSON or a missing/invalid member.</exception>
    public static WebhookEvent Parse(ReadOnlySpan<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            throw new WebhookException(WebhookErrorReason.InvalidArgument, "The event body is not valid UTF-8.");
        }

        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new WebhookException(WebhookErrorReason.InvalidArgument, "The event body is not a JSON object.");
            }

            var e = new WebhookEvent
            {
                Id = RequiredString(root, "id"),
                Type = RequiredString(root, "type"),
                OwnerId = RequiredString(root, "ownerId"),
                Created = root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out var seconds)
                    && seconds is >= 0 and <= 253402300799
                    ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                    : throw new WebhookException(WebhookErrorReason.InvalidArgument, "The event has no valid 'created' time."),
                Data = root.TryGetProperty("data", out var d) ? d.Clone() : default,
            };
            e.Validate();
            return e;
        }
        catch (JsonException ex)
        {
            throw new WebhookException(WebhookErrorReason.InvalidArgument, "The event body is not valid JSON.", ex);
        }
    }

    private static string RequiredString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new WebhookException(WebhookErrorReason.InvalidArgument, $"The event has no string '{name}'.");
}
