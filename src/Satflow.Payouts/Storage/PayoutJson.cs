using System.Text.Json;
using System.Text.Json.Serialization;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Storage;

/// <summary>The JSON form records are stored in (versions live outside the document).</summary>
internal static class PayoutJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = false };
        options.Converters.Add(new JsonStringEnumConverter());
        options.Converters.Add(new MilliSatoshiConverter());
        options.Converters.Add(new PaymentHashConverter());
        return options;
    }

    public static string Write<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Read<T>(string json) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options)
                ?? throw new PayoutsException(PayoutsErrorReason.StorageFailure, $"A stored {typeof(T).Name} is null.");
        }
        catch (Exception e) when (e is JsonException or PayoutsException { Reason: PayoutsErrorReason.InvalidArgument } or FormatException or NotSupportedException)
        {
            throw new PayoutsException(PayoutsErrorReason.StorageFailure, $"A stored {typeof(T).Name} could not be read: {e.Message}", e);
        }
    }

    private sealed class MilliSatoshiConverter : JsonConverter<MilliSatoshi>
    {
        public override MilliSatoshi Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => new(reader.GetUInt64());

        public override void Write(Utf8JsonWriter writer, MilliSatoshi value, JsonSerializerOptions options) => writer.WriteNumberValue(value.Value);
    }

    private sealed class PaymentHashConverter : JsonConverter<PaymentHash>
    {
        public override PaymentHash Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            try
            {
                return PaymentHash.Parse(reader.GetString() ?? "");
            }
            catch (FormatException e)
            {
                throw new JsonException("Invalid payment hash.", e);
            }
        }

        public override void Write(Utf8JsonWriter writer, PaymentHash value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value.ToHex());
    }
}
