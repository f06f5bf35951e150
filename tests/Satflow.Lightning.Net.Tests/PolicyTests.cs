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
        var init = InitPolicy.BuildInit(options, new IPEndPoint(IPAddress.Parse("::ffff:203.0.113.7"), 9735), PeerDirection.Inbound);
        var decoded = Assert.IsType<Init>(LightningMessage.Decode(init.Encode()));
        Assert.Equal(options.LocalFeatures, decoded.Features);
        Assert.Equal(FeatureBits.Of(PeerManagerOptions.DefaultFeatures.Where(b => b < 14)), decoded.GlobalFeatures);
        Assert.Equal([ChainHash.Regtest], decoded.Networks);
        var remote = Assert.IsType<IPv4NetworkAddress>(decoded.RemoteAddress);
        Assert.Equal(IPAddress.Parse("203.0.113.7"), remote.Address);
        Assert.Equal(9735, remote.Port);
        Assert.Null(InitPolicy.Check(options, decoded));
    }

    [Theory]
    [InlineData("203.0.113.7", true)]
    [InlineData("8.8.8.8", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("172.31.255.1", false)]
    [InlineData("172.32.0.1", true)]
    [InlineData("192.168.1.1", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("169.254.1.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    public void Remote_addr_is_only_sent_for_public_addresses_of_inbound_connections(string ip, bool expected)
    {
        var options = new PeerManagerOptions();
        var endPoint = new IPEndPoint(IPAddress.Parse(ip), 9735);
        Assert.Equal(expected, InitPolicy.BuildInit(options, endPoint, PeerDirection.Inbound).RemoteAddress is not null);
        Assert.Null(InitPolicy.BuildInit(options, endPoint, PeerDirection.Outbound).RemoteAddress);
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
