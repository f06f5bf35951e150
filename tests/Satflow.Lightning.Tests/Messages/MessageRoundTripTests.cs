using CsCheck;
using Satflow.Lightning.Messages;

namespace Satflow.Lightning.Tests.Messages;

public sealed class MessageRoundTripTests
{
    public static TheoryData<int> Kinds => [.. Enumerable.Range(0, RandomMessages.KindCount)];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_message_kind_round_trips_exactly(int kind)
    {
        Gen.Int.Sample(seed =>
        {
            var message = RandomMessages.Create(kind, seed);
            var bytes = message.Encode();
            var decoded = LightningMessage.Decode(bytes);
            Assert.Equal(message.GetType(), decoded.GetType());
            Assert.Equal(message.Type, decoded.Type);
            Assert.Equal(bytes, decoded.Encode());
        }, iter: 60);
    }

    [Fact]
    public void A_random_unknown_message_never_takes_a_known_type()
    {
        // Seed 8574 (CsCheck seed dyoWad71GhI2) once drew type 257, which decodes as node_announcement and fails.
        var kind = Enumerable.Range(0, RandomMessages.KindCount).Single(k => RandomMessages.Create(k, 1) is UnknownMessage);
        var message = RandomMessages.Create(kind, 8574);
        Assert.IsType<UnknownMessage>(message);
        Assert.IsType<UnknownMessage>(LightningMessage.Decode(message.Encode()));
    }

    [Fact]
    public void Generated_kinds_cover_every_known_message_type()
    {
        var types = Enumerable.Range(0, RandomMessages.KindCount).Select(k => RandomMessages.Create(k, 1)).Where(m => m is not UnknownMessage).Select(m => m.Type).ToHashSet();
        var declared = typeof(MessageTypes).GetFields().Select(f => (ushort)f.GetValue(null)!).ToHashSet();
        Assert.Equal(declared.Order(), types.Order());
    }

    [Fact]
    public void Unknown_odd_tlvs_are_preserved_in_order()
    {
        var bytes = new UpdateFee(default, 253).Encode().Concat(new byte[] { 0x05, 0x01, 0xAA, 0xFD, 0x01, 0x01, 0x00 }).ToArray();
        var fee = Assert.IsType<UpdateFee>(LightningMessage.Decode(bytes));
        Assert.Equal([5UL, 257UL], fee.UnknownTlvs.Select(r => r.Type));
        Assert.Equal(bytes, fee.Encode());
    }

    [Fact]
    public void Unknown_even_tlv_in_a_message_extension_is_refused()
    {
        var bytes = new UpdateFee(default, 253).Encode().Concat(new byte[] { 0x06, 0x00 }).ToArray();
        var ex = Assert.ThrowsAny<Satflow.Lightning.Wire.WireFormatException>(() => LightningMessage.Decode(bytes));
        Assert.Equal("unknown even tlv type", ex.Reason);
    }

    [Fact]
    public void Known_tlv_with_wrong_length_is_refused()
    {
        // channel_ready with a 7-byte short_channel_id alias.
        var ready = new ChannelReady(default, new Satflow.Lightning.Messages.Primitives.Point(new NBitcoin.Key(Enumerable.Repeat((byte)7, 32).ToArray()).PubKey));
        var bytes = ready.Encode().Concat(new byte[] { 0x01, 0x07, 1, 2, 3, 4, 5, 6, 7 }).ToArray();
        var ex = Assert.ThrowsAny<Satflow.Lightning.Wire.WireFormatException>(() => LightningMessage.Decode(bytes));
        Assert.Equal("invalid tlv length", ex.Reason);
    }
}
