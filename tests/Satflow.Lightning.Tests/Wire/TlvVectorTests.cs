using System.Globalization;
using System.Text.Json;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Wire;

/// <summary>BOLT 1 Appendix B: the <c>n1</c>/<c>n2</c> test namespaces decoded with <see cref="TlvStream"/>.</summary>
public sealed class TlvVectorTests
{
    private const string File = "bolts/bolt01-tlv.json";

    public static TheoryData<string, string> DecodingFailures => BoltVectors.Cases(File, "decoding_failures");

    public static TheoryData<string, string> DecodingSuccesses => BoltVectors.Cases(File, "decoding_successes");

    public static TheoryData<string, string> StreamDecodingFailures => BoltVectors.Cases(File, "stream_decoding_failures");

    [Theory]
    [MemberData(nameof(DecodingFailures))]
    public void Decoding_failures_fail(string name, string json) => AssertFails(name, json);

    [Theory]
    [MemberData(nameof(StreamDecodingFailures))]
    public void Stream_decoding_failures_fail(string name, string json) => AssertFails(name, json);

    [Theory]
    [MemberData(nameof(DecodingSuccesses))]
    public void Decoding_successes_decode_to_expected(string name, string json)
    {
        Assert.NotNull(name);
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        var bytes = Convert.FromHexString(e.GetProperty("bytes").GetString()!);
        var expected = Normalize(e.GetProperty("expected"));
        foreach (var ns in Namespaces(e.GetProperty("namespace").GetString()!))
        {
            var decoded = Decode(ns, bytes);
            Assert.Equal(expected, decoded);
            // Known records re-encode to the same bytes (ignored unknown odd records aside).
            if (expected.Count > 0)
            {
                Assert.Equal(bytes, TlvStream.Parse(bytes, t => KnownTypes(ns).Contains(t)).ToBytes());
            }
        }
    }

    [Fact]
    public void Vector_file_holds_the_expected_number_of_cases()
    {
        Assert.Equal(33, DecodingFailures.Count());
        Assert.Equal(19, DecodingSuccesses.Count());
        Assert.Equal(5, StreamDecodingFailures.Count());
    }

    private static void AssertFails(string name, string json)
    {
        Assert.NotNull(name);
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        var bytes = Convert.FromHexString(e.GetProperty("bytes").GetString()!);
        foreach (var ns in Namespaces(e.GetProperty("namespace").GetString()!))
        {
            var ex = Assert.ThrowsAny<WireFormatException>(() => Decode(ns, bytes));
            Assert.False(string.IsNullOrEmpty(ex.Reason));
        }
    }

    private static string[] Namespaces(string ns) => ns is "any" or "either" ? ["n1", "n2"] : [ns];

    private static HashSet<ulong> KnownTypes(string ns) => ns == "n1" ? [1, 2, 3, 254] : [0, 11];

    /// <summary>Decodes a stream in a test namespace into record name → field name → value text.</summary>
    private static SortedDictionary<string, SortedDictionary<string, string>> Decode(string ns, byte[] bytes)
    {
        var known = KnownTypes(ns);
        var stream = TlvStream.Parse(bytes, known.Contains);
        var result = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var record in stream.Records)
        {
            if (!known.Contains(record.Type))
            {
                continue;
            }
            var reader = new WireReader(record.Value.Span);
            var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
            string recordName;
            switch (ns, record.Type)
            {
                case ("n1", 1):
                    recordName = "tlv1";
                    fields["amount_msat"] = Text(reader.ReadTruncatedUInt(8));
                    break;
                case ("n1", 2):
                    recordName = "tlv2";
                    fields["scid"] = new ShortChannelId(reader.ReadUInt64()).ToString();
                    break;
                case ("n1", 3):
                    recordName = "tlv3";
                    fields["node_id"] = Point.FromBytes(reader.ReadSpan(Point.Length)).ToString();
                    fields["amount_msat_1"] = Text(reader.ReadUInt64());
                    fields["amount_msat_2"] = Text(reader.ReadUInt64());
                    break;
                case ("n1", 254):
                    recordName = "tlv4";
                    fields["cltv_delta"] = Text(reader.ReadUInt16());
                    break;
                case ("n2", 0):
                    recordName = "tlv1";
                    fields["amount_msat"] = Text(reader.ReadTruncatedUInt(8));
                    break;
                case ("n2", 11):
                    recordName = "tlv2";
                    fields["cltv_expiry"] = Text(reader.ReadTruncatedUInt(4));
                    break;
                default:
                    throw new InvalidOperationException("unreachable");
            }
            reader.EnsureEnd(recordName);
            result[recordName] = fields;
        }
        return result;
    }

    private static SortedDictionary<string, SortedDictionary<string, string>> Normalize(JsonElement expected)
    {
        var result = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var record in expected.EnumerateObject())
        {
            var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var field in record.Value.EnumerateObject())
            {
                fields[field.Name] = field.Value.ValueKind == JsonValueKind.Number ? Text(field.Value.GetUInt64()) : field.Value.GetString()!;
            }
            result[record.Name] = fields;
        }
        return result;
    }

    private static string Text(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
