using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>
/// The API's JSON: snake_case names, enums as snake_case strings, node ids / hashes / txids as lowercase hex, amounts
/// as integers (sat or msat, as the field name says), outpoints as <c>txid:vout</c>, short channel ids as
/// <c>BLOCKxTXxOUT</c>, times as ISO 8601. Server and clients share these options.
/// </summary>
public static class NodeApiJson
{
    /// <summary>Serializer options for request and response bodies.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            NumberHandling = JsonNumberHandling.Strict,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.Converters.Add(new NodeIdConverter());
        options.Converters.Add(new ChannelIdConverter());
        options.Converters.Add(new ShortChannelIdConverter());
        options.Converters.Add(new PaymentHashConverter());
        options.Converters.Add(new PaymentPreimageConverter());
        options.Converters.Add(new MilliSatoshiConverter());
        options.Converters.Add(new MoneyConverter());
        options.Converters.Add(new OutPointConverter());
        options.Converters.Add(new Uint256Converter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private abstract class HexConverter<T> : JsonConverter<T>
    {
        protected abstract bool TryParse(string text, out T value);

        protected abstract string Format(T value);

        protected abstract string What { get; }

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException($"expected {What} as a string");
            }
            var text = reader.GetString()!;
            return TryParse(text, out var value) ? value : throw new JsonException($"'{text}' is not {What}");
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(Format(value));
    }

    private sealed class NodeIdConverter : HexConverter<NodeId>
    {
        protected override string What => "a node id (66 hex characters)";

        protected override bool TryParse(string text, out NodeId value) => NodeId.TryParse(text, out value);

        protected override string Format(NodeId value) => value.ToString();
    }

    private sealed class ChannelIdConverter : HexConverter<ChannelId>
    {
        protected override string What => "a channel id (64 hex characters)";

        protected override bool TryParse(string text, out ChannelId value)
        {
            var ok = Bytes32.TryParse(text, out var bytes);
            value = new ChannelId(bytes);
            return ok;
        }

        protected override string Format(ChannelId value) => value.Value.ToHex();
    }

    private sealed class ShortChannelIdConverter : HexConverter<ShortChannelId>
    {
        protected override string What => "a short channel id (BLOCKxTXxOUT)";

        protected override bool TryParse(string text, out ShortChannelId value) => ShortChannelId.TryParse(text, out value);

        protected override string Format(ShortChannelId value) => value.ToString();
    }

    private sealed class PaymentHashConverter : HexConverter<PaymentHash>
    {
        protected override string What => "a payment hash (64 hex characters)";

        protected override bool TryParse(string text, out PaymentHash value)
        {
            var ok = Bytes32.TryParse(text, out var bytes);
            value = new PaymentHash(bytes);
            return ok;
        }

        protected override string Format(PaymentHash value) => value.Value.ToHex();
    }

    private sealed class PaymentPreimageConverter : HexConverter<PaymentPreimage>
    {
        protected override string What => "a payment preimage (64 hex characters)";

        protected override bool TryParse(string text, out PaymentPreimage value)
        {
            var ok = Bytes32.TryParse(text, out var bytes);
            value = new PaymentPreimage(bytes);
            return ok;
        }

        // The preimage is the proof of payment the API exists to hand out; its ToString is redacted on purpose.
        protected override string Format(PaymentPreimage value) => value.Value.ToHex();
    }

    private sealed class Uint256Converter : HexConverter<uint256>
    {
        protected override string What => "a transaction id (64 hex characters)";

        protected override bool TryParse(string text, out uint256 value)
        {
            if (text.Length == 64 && uint256.TryParse(text, out var parsed))
            {
                value = parsed;
                return true;
            }
            value = uint256.Zero;
            return false;
        }

        protected override string Format(uint256 value) => value.ToString();
    }

    private sealed class OutPointConverter : HexConverter<OutPoint>
    {
        protected override string What => "an outpoint (txid:vout)";

        protected override bool TryParse(string text, out OutPoint value)
        {
            value = new OutPoint();
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon != 64 || !uint256.TryParse(text[..colon], out var txid)
                || !uint.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var vout))
            {
                return false;
            }
            value = new OutPoint(txid, vout);
            return true;
        }

        protected override string Format(OutPoint value) => value.Hash + ":" + value.N.ToString(CultureInfo.InvariantCulture);
    }

    private sealed class MilliSatoshiConverter : JsonConverter<MilliSatoshi>
    {
        public override MilliSatoshi Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out var value) || value > MilliSatoshi.MaxMoney.Value)
            {
                throw new JsonException("expected an amount in millisatoshis: a whole number between 0 and 2100000000000000000");
            }
            return new MilliSatoshi(value);
        }

        public override void Write(Utf8JsonWriter writer, MilliSatoshi value, JsonSerializerOptions options) => writer.WriteNumberValue(value.Value);
    }

    private sealed class MoneyConverter : JsonConverter<Money>
    {
        public override Money Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value) || value < 0 || value > 21_000_000L * 100_000_000L)
            {
                throw new JsonException("expected an amount in satoshis: a whole number between 0 and 2100000000000000");
            }
            return Money.Satoshis(value);
        }

        public override void Write(Utf8JsonWriter writer, Money value, JsonSerializerOptions options) => writer.WriteNumberValue(value.Satoshi);
    }
}
