using System.Text.Json;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Wire;

public sealed class BigSizeVectorTests
{
    public static TheoryData<string, string> Decoding => BoltVectors.Cases("bolts/bolt01-bigsize-decoding.json");

    public static TheoryData<string, string> Encoding => BoltVectors.Cases("bolts/bolt01-bigsize-encoding.json");

    [Theory]
    [MemberData(nameof(Decoding))]
    public void Decodes_or_fails_as_the_vector_says(string name, string json)
    {
        Assert.NotNull(name);
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        var bytes = Convert.FromHexString(e.GetProperty("bytes").GetString()!);
        if (e.TryGetProperty("exp_error", out var expectedError))
        {
            var ex = Assert.Throws<WireFormatException>(() => BigSize.Read(bytes, out _));
            Assert.Contains(expectedError.GetString()!, ex.Reason, StringComparison.Ordinal);
            var reader = new WireReader(bytes);
            var threw = false;
            try
            {
                reader.ReadBigSize();
            }
            catch (WireFormatException)
            {
                threw = true;
            }
            Assert.True(threw);
        }
        else
        {
            var value = BigSize.Read(bytes, out var consumed);
            Assert.Equal(e.GetProperty("value").GetUInt64(), value);
            Assert.Equal(bytes.Length, consumed);
            Assert.Equal(bytes, BigSize.Encode(value));
        }
    }

    [Theory]
    [MemberData(nameof(Encoding))]
    public void Encodes_as_the_vector_says(string name, string json)
    {
        Assert.NotNull(name);
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        var value = e.GetProperty("value").GetUInt64();
        var expected = Convert.FromHexString(e.GetProperty("bytes").GetString()!);
        Assert.Equal(expected, BigSize.Encode(value));
        Assert.Equal(expected.Length, BigSize.EncodedLength(value));
        Assert.Equal(expected, new WireWriter().WriteBigSize(value).ToArray());
        Assert.Equal(value, BigSize.Read(expected, out _));
    }

    [Fact]
    public void Vector_files_hold_the_expected_number_of_cases()
    {
        Assert.Equal(18, Decoding.Count());
        Assert.Equal(8, Encoding.Count());
    }
}
