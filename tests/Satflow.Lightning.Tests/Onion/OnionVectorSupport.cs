using System.Text.Json;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary>Loads the BOLT 4 vectors (once per file) and converts their hex fields.</summary>
internal static class OnionVectorSupport
{
    private static readonly Dictionary<string, JsonElement> Cache = [];
    private static readonly Lock Gate = new();

    public static JsonElement Load(string relative)
    {
        lock (Gate)
        {
            if (!Cache.TryGetValue(relative, out var root))
            {
                using var document = JsonDocument.Parse(TestVectors.ReadText(relative));
                root = document.RootElement.Clone();
                Cache[relative] = root;
            }
            return root;
        }
    }

    public static byte[] Hex(JsonElement element) => Convert.FromHexString(element.GetString()!);

    public static byte[] Hex(string hex) => Convert.FromHexString(hex);

    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static string Str(this JsonElement element, string name) => element.GetProperty(name).GetString()!;

    public static byte[] HexOf(this JsonElement element, string name) => Hex(element.GetProperty(name));

    public static Bytes32 B32(this JsonElement element, string name) => new(Hex(element.GetProperty(name)));

    /// <summary>A private key from hex; the vectors sometimes append the WIF compression flag 01.</summary>
    public static ECPrivKey Priv(string hex)
    {
        var bytes = Hex(hex);
        return SphinxCrypto.PrivateKey(bytes.AsSpan(0, 32));
    }

    public static ECPubKey Pub(string hex) => SphinxCrypto.ParsePoint(Hex(hex), "vector point");

    public static string PubHex(ECPubKey key) => ToHex(SphinxCrypto.Compress(key));

    public static string PubHex(NodeId key) => key.ToString();

    /// <summary>Removes the BigSize length prefix the vectors put in front of hop payloads.</summary>
    public static byte[] StripLength(byte[] prefixed)
    {
        var length = Satflow.Lightning.Wire.BigSize.Read(prefixed, out var consumed);
        Assert.Equal((ulong)(prefixed.Length - consumed), length);
        return prefixed[consumed..];
    }

    public static TheoryData<int> Range(int count)
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < count; i++)
        {
            data.Add(i);
        }
        return data;
    }
}

/// <summary>Builds typed TLV streams from the vectors' JSON descriptions.</summary>
internal static class VectorTlvs
{
    public static Satflow.Lightning.Onion.EncryptedDataTlv EncryptedData(JsonElement tlvs)
    {
        var unknown = new List<Satflow.Lightning.Wire.TlvRecord>();
        ReadOnlyMemory<byte>? padding = null, pathId = null;
        ShortChannelId? scid = null;
        NodeId? next = null;
        ECPubKey? overrideKey = null;
        PaymentRelay? relay = null;
        PaymentConstraints? constraints = null;
        Satflow.Lightning.Features.FeatureBits? features = null;
        foreach (var property in tlvs.EnumerateObject())
        {
            var v = property.Value;
            switch (property.Name)
            {
                case "padding": padding = OnionVectorSupport.Hex(v); break;
                case "short_channel_id": scid = ShortChannelId.Parse(v.GetString()!); break;
                case "next_node_id": next = NodeId.Parse(v.GetString()!); break;
                case "path_id": pathId = OnionVectorSupport.Hex(v); break;
                case "next_path_key_override": overrideKey = OnionVectorSupport.Pub(v.GetString()!); break;
                case "path_key_override_secret": break;
                case "payment_relay":
                    relay = new PaymentRelay(
                        (ushort)v.GetProperty("cltv_expiry_delta").GetInt32(),
                        v.GetProperty("fee_proportional_millionths").GetUInt32(),
                        new MilliSatoshi(v.TryGetProperty("fee_base_msat", out var b) ? b.GetUInt64() : 0));
                    break;
                case "payment_constraints":
                    constraints = new PaymentConstraints(v.GetProperty("max_cltv_expiry").GetUInt32(), new MilliSatoshi(v.GetProperty("htlc_minimum_msat").GetUInt64()));
                    break;
                case "allowed_features":
                    features = Satflow.Lightning.Features.FeatureBits.Of(v.GetProperty("features").EnumerateArray().Select(e => e.GetInt32()));
                    break;
                default:
                    Assert.StartsWith("unknown_tag_", property.Name, StringComparison.Ordinal);
                    unknown.Add(new Satflow.Lightning.Wire.TlvRecord(ulong.Parse(property.Name["unknown_tag_".Length..], System.Globalization.CultureInfo.InvariantCulture), OnionVectorSupport.Hex(v)));
                    break;
            }
        }
        return new Satflow.Lightning.Onion.EncryptedDataTlv
        {
            Padding = padding, ShortChannelId = scid, NextNodeId = next, PathId = pathId, NextPathKeyOverride = overrideKey,
            PaymentRelay = relay, PaymentConstraints = constraints, AllowedFeatures = features, UnknownRecords = unknown,
        };
    }
}
