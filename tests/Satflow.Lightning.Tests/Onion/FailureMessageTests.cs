using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Onion;

public sealed class FailureMessageTests
{
    public static TheoryData<ushort> AllCodes
    {
        get
        {
            var data = new TheoryData<ushort>();
            foreach (var code in FailureCode.All)
            {
                data.Add(code.Value);
            }
            return data;
        }
    }

    private static readonly byte[] Update = Convert.FromHexString("0102aabbccdd");

    private static FailureMessage Sample(FailureCode code)
    {
        var hash = new Bytes32(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        return code.Value switch
        {
            _ when code.IsBadOnion => FailureMessage.BadOnion(code, hash),
            _ when code == FailureCode.TemporaryChannelFailure => FailureMessage.TemporaryChannelFailure(Update),
            _ when code == FailureCode.AmountBelowMinimum => FailureMessage.AmountBelowMinimum(new MilliSatoshi(1234), Update),
            _ when code == FailureCode.FeeInsufficient => FailureMessage.FeeInsufficient(new MilliSatoshi(99), Update),
            _ when code == FailureCode.IncorrectCltvExpiry => FailureMessage.IncorrectCltvExpiry(700_000, Update),
            _ when code == FailureCode.ExpiryTooSoon => FailureMessage.ExpiryTooSoon(Update),
            _ when code == FailureCode.IncorrectOrUnknownPaymentDetails => FailureMessage.IncorrectOrUnknownPaymentDetails(new MilliSatoshi(100), 800_000),
            _ when code == FailureCode.FinalIncorrectCltvExpiry => FailureMessage.FinalIncorrectCltvExpiry(123),
            _ when code == FailureCode.FinalIncorrectHtlcAmount => FailureMessage.FinalIncorrectHtlcAmount(new MilliSatoshi(456)),
            _ when code == FailureCode.ChannelDisabled => FailureMessage.ChannelDisabled(0, Update),
            _ when code == FailureCode.InvalidOnionPayload => FailureMessage.InvalidOnionPayload(70000, 12),
            _ => FailureMessage.Simple(code),
        };
    }

    [Theory]
    [MemberData(nameof(AllCodes))]
    public void EveryCodeRoundTripsWithItsFields(ushort value)
    {
        var code = new FailureCode(value);
        Assert.True(code.IsKnown);
        Assert.False(code.Name.StartsWith("unknown_failure", StringComparison.Ordinal));
        var message = Sample(code);
        var encoded = message.Encode();
        Assert.Equal(value, (ushort)((encoded[0] << 8) | encoded[1]));
        var decoded = FailureMessage.Decode(encoded);
        Assert.Equal(code, decoded.Code);
        Assert.Equal(Convert.ToHexString(encoded), Convert.ToHexString(decoded.Encode()));
        Assert.Equal(message.Sha256OfOnion, decoded.Sha256OfOnion);
        Assert.Equal(message.HtlcAmount, decoded.HtlcAmount);
        Assert.Equal(message.CltvExpiry, decoded.CltvExpiry);
        Assert.Equal(message.Height, decoded.Height);
        Assert.Equal(message.DisabledFlags, decoded.DisabledFlags);
        Assert.Equal(message.InvalidTlvType, decoded.InvalidTlvType);
        Assert.Equal(message.ChannelUpdate?.ToArray(), decoded.ChannelUpdate?.ToArray());
        // Truncating a message that carries data is a typed error.
        if (encoded.Length > 2)
        {
            Assert.ThrowsAny<WireFormatException>(() => FailureMessage.Decode(encoded.AsSpan(0, encoded.Length - 1)));
        }
    }

    [Fact]
    public void FlagsMatchTheSpecification()
    {
        Assert.Equal(0x400f, FailureCode.IncorrectOrUnknownPaymentDetails.Value);
        Assert.Equal(0xc005, FailureCode.InvalidOnionHmac.Value);
        Assert.True(FailureCode.InvalidOnionBlinding.IsBadOnion && FailureCode.InvalidOnionBlinding.IsPermanent);
        Assert.True(FailureCode.TemporaryNodeFailure.IsNode && !FailureCode.TemporaryNodeFailure.IsPermanent);
        Assert.True(FailureCode.ChannelDisabled.IsUpdate);
        Assert.Equal(22, FailureCode.All.Count);
        Assert.Equal("unknown_failure_0x1234", new FailureCode(0x1234).Name);
    }

    [Fact]
    public void UnknownCodesKeepTheirData()
    {
        var decoded = FailureMessage.Decode(Convert.FromHexString("1234deadbeef"));
        Assert.False(decoded.Code.IsKnown);
        Assert.Equal("deadbeef", Convert.ToHexStringLower(decoded.UnknownData.Span));
        Assert.Equal("1234deadbeef", Convert.ToHexStringLower(decoded.Encode()));
    }

    [Fact]
    public void LegacyPaymentDetailsWithoutFieldsDecode()
    {
        var decoded = FailureMessage.Decode(Convert.FromHexString("400f"));
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, decoded.Code);
        Assert.Null(decoded.HtlcAmount);
    }

    [Fact]
    public void PaddingRules()
    {
        var secret = new Bytes32(new byte[32]);
        Assert.Equal(32 + 2 + 2 + 2 + 254, FailurePacket.Create(secret, FailureMessage.Simple(FailureCode.MppTimeout)).Length);
        var big = FailureMessage.IncorrectOrUnknownPaymentDetails(new MilliSatoshi(1), 1, new TlvStream([new TlvRecord(101, new byte[400])]));
        var packet = FailurePacket.Create(secret, big);
        Assert.Equal(32 + 2 + big.Encode().Length + 2, packet.Length);
        Assert.Throws<ArgumentException>(() => FailurePacket.Create(secret, big, 256));
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, FailurePacket.TryOpen(packet, secret)!.Code);
        Assert.Null(FailurePacket.TryOpen(packet, new Bytes32(Enumerable.Repeat((byte)1, 32).ToArray())));
    }

    [Fact]
    public void OnionExceptionsMapToFailureMessages()
    {
        var hash = new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray());
        var badOnion = new OnionException(FailureCode.InvalidOnionKey, "bad key", hash).ToFailureMessage();
        Assert.Equal(FailureCode.InvalidOnionKey, badOnion.Code);
        Assert.Equal(hash, badOnion.Sha256OfOnion);
        var payload = new OnionException(PaymentOnionPayload.ShortChannelIdType, "missing").ToFailureMessage();
        Assert.Equal(FailureCode.InvalidOnionPayload, payload.Code);
        Assert.Equal(PaymentOnionPayload.ShortChannelIdType, payload.InvalidTlvType);
    }

    [Fact]
    public void MalformedFromDownstreamBecomesAFailurePacketForUpstream()
    {
        var secrets = new[] { new Bytes32(Enumerable.Repeat((byte)5, 32).ToArray()), new Bytes32(Enumerable.Repeat((byte)6, 32).ToArray()) };
        var hash = new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray());
        // Hop 1 got update_fail_malformed_htlc from hop 2 and reports it; hop 0 wraps it on the way back.
        var packet = FailurePacket.Wrap(FailurePacket.FromMalformed(secrets[1], FailureCode.InvalidOnionHmac, hash), secrets[0]);
        var result = FailurePacket.Decrypt(packet, [], secrets);
        Assert.Equal(1, result.FailingHopIndex);
        Assert.Equal(FailureCode.InvalidOnionHmac, result.Message!.Code);
        Assert.Equal(hash, result.Message.Sha256OfOnion);
        Assert.Throws<ArgumentException>(() => FailurePacket.FromMalformed(secrets[1], FailureCode.MppTimeout, hash));
    }

    [Fact]
    public void HoldTimesAreCountedIn100Milliseconds()
    {
        Assert.Equal(3u, AttributionData.ToHoldTimeUnits(TimeSpan.FromMilliseconds(399)));
        Assert.Equal(0u, AttributionData.ToHoldTimeUnits(TimeSpan.FromMilliseconds(-5)));
        Assert.Equal(uint.MaxValue, AttributionData.ToHoldTimeUnits(TimeSpan.MaxValue));
    }
}
