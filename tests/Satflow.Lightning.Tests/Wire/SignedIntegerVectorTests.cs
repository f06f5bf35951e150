using System.Text.Json;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Wire;

public sealed class SignedIntegerVectorTests
{
    public static TheoryData<string, string> Cases => BoltVectors.Cases("bolts/bolt01-signed-integers.json");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encodes_and_decodes_twos_complement_big_endian(string name, string json)
    {
        Assert.NotNull(name);
        using var doc = JsonDocument.Parse(json);
        var value = doc.RootElement.GetProperty("value").GetInt64();
        var bytes = Convert.FromHexString(doc.RootElement.GetProperty("bytes").GetString()!);
        var writer = new WireWriter();
        var reader = new WireReader(bytes);
        long decoded;
        switch (bytes.Length)
        {
            case 1:
                writer.WriteSByte(checked((sbyte)value));
                decoded = reader.ReadSByte();
                break;
            case 2:
                writer.WriteInt16(checked((short)value));
                decoded = reader.ReadInt16();
                break;
            case 4:
                writer.WriteInt32(checked((int)value));
                decoded = reader.ReadInt32();
                break;
            case 8:
                writer.WriteInt64(value);
                decoded = reader.ReadInt64();
                break;
            default:
                throw new InvalidOperationException($"unexpected width {bytes.Length}");
        }
        Assert.Equal(bytes, writer.ToArray());
        Assert.Equal(value, decoded);
        Assert.True(reader.IsEnd);
        // The vector uses the narrowest of s8/s16/s32/s64 that holds the value.
        var narrowest = value is >= sbyte.MinValue and <= sbyte.MaxValue ? 1 : value is >= short.MinValue and <= short.MaxValue ? 2 : value is >= int.MinValue and <= int.MaxValue ? 4 : 8;
        Assert.Equal(narrowest, bytes.Length);
    }

    [Fact]
    public void Vector_file_holds_23_cases() => Assert.Equal(23, Cases.Count());
}
