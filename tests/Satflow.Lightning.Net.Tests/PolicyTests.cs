using System.Net;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net.Tests;

public sealed class PolicyTests
{
    [Fact]
    public void Backoff_doubles_is_capped_and_jittered_between_half_and_full()
    {
        var initial = TimeSpan.FromSeconds(1);
        var max = TimeSpan.FromSeconds(30);
        Assert.Equal(TimeSpan.FromSeconds(1), ReconnectBackoff.Delay(0, initial, max, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(0.5), ReconnectBackoff.Delay(0, initial, max, 0.0));
        Assert.Equal(TimeSpan.FromSeconds(8), ReconnectBackoff.Delay(3, initial, max, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(30), ReconnectBackoff.Delay(10, initial, max, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(30), ReconnectBackoff.Delay(int.MaxValue, initial, max, 1.0));
        var random = new Random(1);
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var delay = ReconnectBackoff.Delay(attempt, initial, max, random.NextDouble());
            var full = Math.Min(Math.Pow(2, Math.Min(attempt, 30)), 30);
            Assert.InRange(delay.TotalSeconds, (full / 2) - 1e-6, full + 1e-6);
        }
    }

    [Fact]
    public void Our_init_round_trips_and_is_accepted_by_ourselves()
    {
        var options = new PeerManagerOptions();
        var init = InitPolicy.BuildInit(options, new IPEndPoint(IPAddress.Parse("::ffff:10.1.2.3"), 9735));
        var decoded = Assert.IsType<Init>(LightningMessage.Decode(init.Encode()));
        Assert.Equal(options.LocalFeatures, decoded.Features);
        Assert.Equal([ChainHash.Regtest], decoded.Networks);
        var remote = Assert.IsType<IPv4NetworkAddress>(decoded.RemoteAddress);
        Assert.Equal(IPAddress.Parse("10.1.2.3"), remote.Address);
        Assert.Equal(9735, remote.Port);
        Assert.Null(InitPolicy.Check(options, decoded));
    }

    [Fact]
    public void Default_features_are_valid_for_init()
    {
        Assert.True(FeatureRegistry.Validate(PeerManagerOptions.DefaultFeatures, FeatureContext.Init).IsValid);
        foreach (var required in new[] { FeatureRegistry.StaticRemoteKey, FeatureRegistry.VarOnionOptin, FeatureRegistry.PaymentSecret, FeatureRegistry.ChannelType })
        {
            Assert.True(required.IsCompulsoryIn(PeerManagerOptions.DefaultFeatures), required.Name);
        }
        Assert.True(PeerManagerOptions.DefaultFeatures.IsSet(FeatureRegistry.Anchors.OddBit));
    }

    [Fact]
    public void Check_reports_chain_and_feature_problems()
    {
        var options = new PeerManagerOptions();
        var good = new Init(FeatureBits.Empty, PeerManagerOptions.DefaultFeatures);
        Assert.Null(InitPolicy.Check(options, good));
        Assert.Equal(DisconnectReason.IncompatibleChain, InitPolicy.Check(options, good with { Networks = [ChainHash.Testnet, ChainHash.Signet] })!.Value.Reason);
        Assert.Null(InitPolicy.Check(options, good with { Networks = [ChainHash.Testnet, ChainHash.Regtest] }));
        Assert.Equal(DisconnectReason.IncompatibleFeatures, InitPolicy.Check(options, good with { Features = good.Features.With(98) })!.Value.Reason);
        // basic_mpp (16) without payment_secret is a broken dependency.
        Assert.Equal(DisconnectReason.IncompatibleFeatures, InitPolicy.Check(options, new Init(FeatureBits.Empty, FeatureBits.Of(17)))!.Value.Reason);
        // Unknown odd bits are fine.
        Assert.Null(InitPolicy.Check(options, good with { Features = good.Features.With(99) }));
    }

    [Fact]
    public void Invalid_options_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new PeerManagerOptions { SendQueueCapacity = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new PeerManagerOptions { PingInterval = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentException>(() => new PeerManagerOptions { ReconnectMaxDelay = TimeSpan.FromMilliseconds(1) }.Validate());
        Assert.Throws<ArgumentException>(() => new PeerManagerOptions { PingPongBytes = Ping.NoReplyThreshold }.Validate());
    }
}
