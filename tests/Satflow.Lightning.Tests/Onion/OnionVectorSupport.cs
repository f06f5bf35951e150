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
