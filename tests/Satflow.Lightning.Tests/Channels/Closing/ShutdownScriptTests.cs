using NBitcoin;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Features;

namespace Satflow.Lightning.Tests.Channels.Closing;

/// <summary>BOLT 2 shutdown script forms and the BOLT 3 dust thresholds.</summary>
public sealed class ShutdownScriptTests
{
    private static readonly FeatureBits None = FeatureBits.Empty;
    private static readonly FeatureBits AnySegwit = FeatureBits.Of(27);
    private static readonly FeatureBits SimpleClose = FeatureBits.Of(27, 61);

    private static string Hex(int n, string b = "07") => string.Concat(Enumerable.Repeat(b, n));

    [Theory]
    [InlineData("76a914" + "0707070707070707070707070707070707070707" + "88ac", ShutdownScriptKind.P2pkh)]
    [InlineData("a914" + "0707070707070707070707070707070707070707" + "87", ShutdownScriptKind.P2sh)]
    [InlineData("0014" + "0707070707070707070707070707070707070707", ShutdownScriptKind.P2wpkh)]
    [InlineData("0020" + "0707070707070707070707070707070707070707070707070707070707070707", ShutdownScriptKind.P2wsh)]
    public void ClassicFormsNeedNoFeature(string hex, ShutdownScriptKind kind)
    {
        var script = Script.FromHex(hex);
        Assert.Equal(kind, ShutdownScript.Validate(script, None));
        Assert.True(ShutdownScript.TryValidate(script, None, out var k, out var reason));
        Assert.Equal(kind, k);
        Assert.Null(reason);
    }

    [Theory]
    [InlineData(0x51, 32)]
    [InlineData(0x51, 2)]
    [InlineData(0x60, 40)]
    [InlineData(0x55, 20)]
    public void FutureSegwitNeedsAnySegwit(int version, int length)
    {
        var script = Script.FromHex(((byte)version).ToString("x2", null) + ((byte)length).ToString("x2", null) + Hex(length));
        Assert.Equal(ClosingFailure.InvalidShutdownScript, Assert.Throws<ClosingException>(() => ShutdownScript.Validate(script, None)).Reason);
        Assert.Equal(ShutdownScriptKind.FutureSegwit, ShutdownScript.Validate(script, AnySegwit));
        Assert.Equal(ShutdownScriptKind.FutureSegwit, ShutdownScript.Validate(script, FeatureBits.Of(26)));
    }

    [Theory]
    [InlineData("6a06" + "070707070707")]
    [InlineData("6a4b" + "070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707")]
    [InlineData("6a4c4c" + "07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707")]
    public void OpReturnNeedsSimpleClose(string hex)
    {
        var script = Script.FromHex(hex);
        Assert.Throws<ClosingException>(() => ShutdownScript.Validate(script, AnySegwit));
        Assert.Equal(ShutdownScriptKind.OpReturn, ShutdownScript.Validate(script, SimpleClose));
        Assert.True(ShutdownScript.IsOpReturn(script));
        Assert.Equal(Money.Zero, ShutdownScript.DustThreshold(script));
    }

    [Theory]
    [InlineData("")]
    [InlineData("51")]
    [InlineData("0013" + "07070707070707070707070707070707070707")]
    [InlineData("0015" + "070707070707070707070707070707070707070707")]
    [InlineData("0021" + "070707070707070707070707070707070707070707070707070707070707070707")]
    [InlineData("5101" + "07")]
    [InlineData("5129" + "0707070707070707070707070707070707070707070707070707070707070707070707070707070707")]
    [InlineData("6120" + "0707070707070707070707070707070707070707070707070707070707070707")]
    [InlineData("6a05" + "0707070707")]
    [InlineData("6a4c4b" + "070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707")]
    [InlineData("6a4c51" + "070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707")]
    [InlineData("6a0607070707070707")]
    [InlineData("76a914" + "0707070707070707070707070707070707070707" + "88ad")]
    [InlineData("a914" + "0707070707070707070707070707070707070707" + "88")]
    [InlineData("6a")]
    public void OtherScriptsAreRejectedEvenWithAllFeatures(string hex)
    {
        var script = Script.FromHex(hex);
        Assert.False(ShutdownScript.TryValidate(script, SimpleClose, out _, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
        Assert.Equal(ClosingFailure.InvalidShutdownScript, Assert.Throws<ClosingException>(() => ShutdownScript.Validate(script, SimpleClose)).Reason);
    }

    [Theory]
    [InlineData("76a914" + "0707070707070707070707070707070707070707" + "88ac", 546)]
    [InlineData("a914" + "0707070707070707070707070707070707070707" + "87", 540)]
    [InlineData("0014" + "0707070707070707070707070707070707070707", 294)]
    [InlineData("0020" + "0707070707070707070707070707070707070707070707070707070707070707", 330)]
    [InlineData("5120" + "0707070707070707070707070707070707070707070707070707070707070707", 330)]
    [InlineData("5128" + "07070707070707070707070707070707070707070707070707070707070707070707070707070707", 354)]
    public void DustThresholdsMatchBitcoinCore(string hex, long satoshis) =>
        Assert.Equal(Money.Satoshis(satoshis), ShutdownScript.DustThreshold(Script.FromHex(hex)));
}
