using System.Net;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Messages;

public sealed class SetupMessageTests
{
    [Fact]
    public void Unknown_odd_message_is_returned_for_the_caller_to_ignore()
    {
        var message = Assert.IsType<UnknownMessage>(LightningMessage.Decode([0x80, 0x01, 0xDE, 0xAD]));
        Assert.Equal(0x8001, message.Type);
        Assert.Equal([0xDE, 0xAD], message.Payload.ToArray());
        Assert.Equal([0x80, 0x01, 0xDE, 0xAD], message.Encode());
    }

    [Fact]
    public void Unknown_even_message_is_refused_with_a_typed_error()
    {
        var ex = Assert.Throws<UnknownEvenMessageTypeException>(() => LightningMessage.Decode([0x80, 0x02, 0x00]));
        Assert.Equal(0x8002, ex.MessageType);
        Assert.Equal("unknown even message type", ex.Reason);
    }

    [Fact]
    public void Empty_or_one_byte_input_is_truncated()
    {
        Assert.Equal("unexpected EOF", Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode([])).Reason);
        Assert.Equal("unexpected EOF", Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode([0x00])).Reason);
    }

    [Fact]
    public void Known_message_with_insufficient_length_is_refused()
    {
        var bytes = new UpdateFee(default, 1000).Encode();
        Assert.Equal("unexpected EOF", Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode(bytes.AsSpan(0, bytes.Length - 1))).Reason);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(10, true)]
    [InlineData(65531, true)]
    [InlineData(65532, false)]
    [InlineData(65535, false)]
    public void Ping_reply_follows_num_pong_bytes(int numPongBytes, bool replies)
    {
        var ping = Ping.Create((ushort)numPongBytes, 4);
        var decoded = Assert.IsType<Ping>(LightningMessage.Decode(ping.Encode()));
        var pong = decoded.CreateReply();
        Assert.Equal(replies, pong is not null);
        if (pong is not null)
        {
            Assert.Equal(numPongBytes, pong.Ignored.Length);
            Assert.All(pong.Ignored.ToArray(), b => Assert.Equal(0, b));
            Assert.Equal(pong.Encode(), LightningMessage.Decode(pong.Encode()).Encode());
        }
    }

    [Fact]
    public void Init_merges_global_and_local_features_and_carries_networks_and_remote_addr()
    {
        var init = new Init(FeatureBits.Of(1), FeatureBits.Of(9, 15))
        {
            Networks = [ChainHash.Bitcoin, ChainHash.Regtest],
            RemoteAddress = new IPv4NetworkAddress(IPAddress.Parse("203.0.113.7"), 9735),
        };
        var bytes = init.Encode();
        var decoded = Assert.IsType<Init>(LightningMessage.Decode(bytes));
        Assert.Equal(FeatureBits.Of(1, 9, 15), decoded.CombinedFeatures);
        Assert.Equal([ChainHash.Bitcoin, ChainHash.Regtest], decoded.Networks);
        Assert.Equal(init.RemoteAddress, decoded.RemoteAddress);
        Assert.Equal(bytes, decoded.Encode());
        // networks TLV (type 1, 64 bytes) precedes remote_addr (type 3: descriptor type 1, 4 address bytes, port).
        Assert.Equal("0307" + "01cb007107" + "2607", Convert.ToHexStringLower(bytes[^9..]));
    }

    [Fact]
    public void Init_networks_must_be_whole_chain_hashes()
    {
        var bytes = Convert.FromHexString("001000000000" + "0103aabbcc");
        Assert.Equal("invalid tlv length", Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode(bytes)).Reason);
    }

    [Fact]
    public void Error_and_warning_expose_printable_text_only()
    {
        var error = new Error(default, "bad things"u8.ToArray());
        Assert.Equal("bad things", Assert.IsType<Error>(LightningMessage.Decode(error.Encode())).PrintableText);
        Assert.Null(new Warning(default, new byte[] { 0x41, 0x07 }).PrintableText);
        Assert.Equal("0001" + new string('0', 64) + "0000", Convert.ToHexStringLower(new Warning(default, ReadOnlyMemory<byte>.Empty).Encode()));
    }

    [Fact]
    public void Address_descriptors_encode_as_bolt7_describes()
    {
        Assert.Equal("017f000001260700", Convert.ToHexStringLower(new IPv4NetworkAddress(IPAddress.Loopback, 9735).ToBytes()) + "00");
        Assert.Equal(18 + 1, new IPv6NetworkAddress(IPAddress.IPv6Loopback, 1).ToBytes().Length);
        Assert.Equal(37 + 1, new TorV3NetworkAddress(new byte[35], 1).ToBytes().Length);
        Assert.Equal("050b6578616d706c652e6f72672607", Convert.ToHexStringLower(new DnsHostnameNetworkAddress("example.org", 9735).ToBytes()));
        Assert.EndsWith(".onion", new TorV3NetworkAddress(new byte[35], 1).Hostname, StringComparison.Ordinal);
        Assert.Equal(56 + 6, new TorV3NetworkAddress(new byte[35], 1).Hostname.Length);
        var unusable = Assert.IsType<OpaqueNetworkAddress>(NetworkAddress.ParseSingle([5, 2, (byte)'a', 0x80, 0, 1]));
        Assert.Equal(5, unusable.AddressType);
        Assert.Equal([5, 2, (byte)'a', 0x80, 0, 1], unusable.ToBytes());
        Assert.Equal("unexpected EOF", Assert.ThrowsAny<WireFormatException>(() => NetworkAddress.ParseSingle([5, 2, (byte)'a'])).Reason);
        Assert.Equal("trailing bytes", Assert.ThrowsAny<WireFormatException>(() => NetworkAddress.ParseSingle([1, 1, 2, 3, 4, 0, 1, 9])).Reason);
    }

    [Fact]
    public void Gossip_query_extensions_report_count_mismatches()
    {
        var ids = new List<ShortChannelId> { new(1, 2, 3), new(4, 5, 6) };
        Assert.True(new QueryShortChannelIds(ChainHash.Regtest, ids) { QueryFlags = [1, 3] }.QueryFlagsMatchIds);
        Assert.False(new QueryShortChannelIds(ChainHash.Regtest, ids) { QueryFlags = [1] }.QueryFlagsMatchIds);
        Assert.False(new ReplyChannelRange(ChainHash.Regtest, 1, 2, 1, ids) { Checksums = [new(1, 2)] }.ExtensionsMatchIds);
        Assert.True(new ReplyChannelRange(ChainHash.Regtest, 1, 2, 1, ids).ExtensionsMatchIds);
    }
}
