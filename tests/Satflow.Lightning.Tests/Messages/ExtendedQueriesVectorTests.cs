using System.Text.Json;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Tests.Wire;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Messages;

/// <summary>
/// <c>bolt07/extended-queries.json</c>: every entry is decoded and compared field by field, and the message described
/// by the JSON is encoded and compared with the hex. Entries using the zlib encoding (type 1), which the current BOLT 7
/// says MUST NOT be used, are refused by the default decoder; with the opt-in legacy option they decode to the
/// described fields, and their described message re-encodes uncompressed (this codec never emits zlib).
/// </summary>
public sealed class ExtendedQueriesVectorTests
{
    private static readonly MessageDecodeOptions Legacy = new() { AllowLegacyZlib = true };

    public static TheoryData<string, string> Cases => BoltVectors.Cases("bolts/bolt07/extended-queries.json");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vector(string name, string json)
    {
        Assert.NotNull(name);
        using var doc = JsonDocument.Parse(json);
        var hex = doc.RootElement.GetProperty("hex").GetString()!;
        var bytes = Convert.FromHexString(hex);
        var msg = doc.RootElement.GetProperty("msg");
        var described = Build(msg);
        Assert.True(described switch
        {
            QueryShortChannelIds q => q.QueryFlagsMatchIds,
            ReplyChannelRange r => r.ExtensionsMatchIds,
            _ => true,
        });
        var usesZlib = json.Contains("COMPRESSED_ZLIB", StringComparison.Ordinal);

        if (usesZlib)
        {
            var ex = Assert.Throws<WireFormatException>(() => LightningMessage.Decode(bytes));
            Assert.Equal("zlib encoding not allowed", ex.Reason);
            var legacy = LightningMessage.Decode(bytes, Legacy);
            AssertSameFields(described, legacy);
            var reencoded = described.Encode();
            AssertSameFields(described, LightningMessage.Decode(reencoded));
            Assert.Equal(reencoded, legacy.Encode());
        }
        else
        {
            Assert.Equal(hex, Convert.ToHexStringLower(described.Encode()));
            var decoded = LightningMessage.Decode(bytes);
            AssertSameFields(described, decoded);
            Assert.Equal(hex, Convert.ToHexStringLower(decoded.Encode()));
        }
    }

    [Fact]
    public void Vector_file_holds_10_cases() => Assert.Equal(10, Cases.Count());

    private static LightningMessage Build(JsonElement msg)
    {
        var chain = new ChainHash(Bytes32.Parse(msg.GetProperty("chainHash").GetString()!));
        switch (msg.GetProperty("type").GetString())
        {
            case "QueryChannelRange":
                {
                    var records = msg.GetProperty("tlvStream").GetProperty("records");
                    ulong? flags = records.GetArrayLength() == 0 ? null : ParseOptionFlags(records[0].GetString()!);
                    return new QueryChannelRange(chain, msg.GetProperty("firstBlockNum").GetUInt32(), msg.GetProperty("numberOfBlocks").GetUInt32())
                    {
                        QueryOptionFlags = flags,
                    };
                }
            case "ReplyChannelRange":
                {
                    List<ChannelUpdateTimestamps>? timestamps = null;
                    if (msg.TryGetProperty("timestamps", out var t))
                    {
                        timestamps = [.. t.GetProperty("timestamps").EnumerateArray().Select(x => new ChannelUpdateTimestamps(x.GetProperty("timestamp1").GetUInt32(), x.GetProperty("timestamp2").GetUInt32()))];
                    }
                    List<ChannelUpdateChecksums>? checksums = null;
                    if (msg.TryGetProperty("checksums", out var c))
                    {
                        checksums = [.. c.GetProperty("checksums").EnumerateArray().Select(x => new ChannelUpdateChecksums(x.GetProperty("checksum1").GetUInt32(), x.GetProperty("checksum2").GetUInt32()))];
                    }
                    return new ReplyChannelRange(
                        chain, msg.GetProperty("firstBlockNum").GetUInt32(), msg.GetProperty("numberOfBlocks").GetUInt32(),
                        msg.GetProperty("complete").GetByte(), Ids(msg))
                    {
                        Timestamps = timestamps,
                        Checksums = checksums,
                    };
                }
            case "QueryShortChannelIds":
                {
                    var records = msg.GetProperty("tlvStream").GetProperty("records");
                    List<ulong>? flags = records.GetArrayLength() == 0 ? null : [.. records[0].GetProperty("array").EnumerateArray().Select(x => x.GetUInt64())];
                    return new QueryShortChannelIds(chain, Ids(msg)) { QueryFlags = flags };
                }
            default:
                throw new InvalidOperationException("unknown vector message type");
        }
    }

    private static List<ShortChannelId> Ids(JsonElement msg) =>
        [.. msg.GetProperty("shortChannelIds").GetProperty("array").EnumerateArray().Select(x => ShortChannelId.Parse(x.GetString()!))];

    private static ulong ParseOptionFlags(string text)
    {
        ulong flags = 0;
        foreach (var part in text.Split('|', StringSplitOptions.TrimEntries))
        {
            flags |= part switch
            {
                "WANT_TIMESTAMPS" => QueryChannelRange.WantTimestamps,
                "WANT_CHECKSUMS" => QueryChannelRange.WantChecksums,
                _ => throw new InvalidOperationException(part),
            };
        }
        return flags;
    }

    private static void AssertSameFields(LightningMessage expected, LightningMessage actual)
    {
        switch (expected)
        {
            case QueryChannelRange e:
                {
                    var a = Assert.IsType<QueryChannelRange>(actual);
                    Assert.Equal((e.ChainHash, e.FirstBlocknum, e.NumberOfBlocks, e.QueryOptionFlags), (a.ChainHash, a.FirstBlocknum, a.NumberOfBlocks, a.QueryOptionFlags));
                    Assert.Empty(a.UnknownTlvs);
                    break;
                }
            case ReplyChannelRange e:
                {
                    var a = Assert.IsType<ReplyChannelRange>(actual);
                    Assert.Equal((e.ChainHash, e.FirstBlocknum, e.NumberOfBlocks, e.SyncComplete), (a.ChainHash, a.FirstBlocknum, a.NumberOfBlocks, a.SyncComplete));
                    Assert.Equal(e.ShortChannelIds, a.ShortChannelIds);
                    Assert.Equal(e.Timestamps, a.Timestamps);
                    Assert.Equal(e.Checksums, a.Checksums);
                    Assert.Empty(a.UnknownTlvs);
                    break;
                }
            case QueryShortChannelIds e:
                {
                    var a = Assert.IsType<QueryShortChannelIds>(actual);
                    Assert.Equal(e.ChainHash, a.ChainHash);
                    Assert.Equal(e.ShortChannelIds, a.ShortChannelIds);
                    Assert.Equal(e.QueryFlags, a.QueryFlags);
                    Assert.Empty(a.UnknownTlvs);
                    break;
                }
            default:
                throw new InvalidOperationException("unexpected message");
        }
    }
}
