using System.Text.Json;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Wire;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Messages;

/// <summary>BOLT 1 Appendix C: valid and invalid extended <c>init</c> messages.</summary>
public sealed class InitVectorTests
{
    private const string File = "bolts/bolt01-init.json";

    public static TheoryData<string, string> Valid => Load("valid");

    public static TheoryData<string, string> Invalid => Load("invalid");

    [Fact]
    public void Base_init_decodes_to_empty_features_and_re_encodes()
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText(File));
        var hex = doc.RootElement.GetProperty("base_init").GetString()!;
        var init = Assert.IsType<Init>(LightningMessage.Decode(Convert.FromHexString(hex)));
        Assert.Equal(FeatureBits.Empty, init.CombinedFeatures);
        Assert.Null(init.Networks);
        Assert.Null(init.RemoteAddress);
        Assert.Equal(hex, Convert.ToHexStringLower(init.Encode()));
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public void Valid_extensions_decode_and_round_trip(string description, string hex)
    {
        Assert.NotNull(description);
        var bytes = Convert.FromHexString(hex);
        var init = Assert.IsType<Init>(LightningMessage.Decode(bytes));
        Assert.True(init.CombinedFeatures.IsEmpty);
        Assert.All(init.UnknownTlvs, r => Assert.Equal(1UL, r.Type % 2));
        Assert.Equal(bytes, init.Encode());
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_extensions_are_refused(string description, string hex)
    {
        Assert.NotNull(description);
        Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Vector_file_holds_2_valid_and_3_invalid_cases()
    {
        Assert.Equal(2, Valid.Count());
        Assert.Equal(3, Invalid.Count());
    }

    private static TheoryData<string, string> Load(string property)
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText(File));
        var data = new TheoryData<string, string>();
        foreach (var e in doc.RootElement.GetProperty(property).EnumerateArray())
        {
            data.Add(e.GetProperty("description").GetString()!, e.GetProperty("message").GetString()!);
        }
        return data;
    }
}
