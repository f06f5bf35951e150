using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Onion;

public sealed class PaymentOnionPayloadTests
{
    [Fact]
    public void FinalPayloadWithKeysendAndUnknownOddRoundTrips()
    {
        var preimage = PaymentPreimage.FromBytes(Enumerable.Repeat((byte)9, 32).ToArray());
        var payload = new PaymentOnionPayload
        {
            AmountToForward = new MilliSatoshi(1000),
            OutgoingCltvValue = 800_144,
            PaymentData = new PaymentData(PaymentSecret.FromBytes(Enumerable.Repeat((byte)1, 32).ToArray()), new MilliSatoshi(5000)),
            PaymentMetadata = new byte[] { 1, 2, 3 },
            KeysendPreimage = preimage,
            UnknownRecords = [new TlvRecord(65537, new byte[] { 0xab })],
        };
        var bytes = payload.Encode();
        var decoded = PaymentOnionPayload.Decode(bytes);
        Assert.Equal(new MilliSatoshi(1000), decoded.AmountToForward);
        Assert.Equal(800_144u, decoded.OutgoingCltvValue);
        Assert.Equal(new MilliSatoshi(5000), decoded.PaymentData!.TotalAmount);
        Assert.Equal(preimage, decoded.KeysendPreimage);
        Assert.Equal(65537ul, Assert.Single(decoded.UnknownRecords).Type);
        Assert.Equal(bytes, decoded.Encode());
        decoded.ValidateUnblinded(isFinal: true);
        Assert.Equal(PaymentOnionPayload.ShortChannelIdType, Assert.Throws<OnionException>(() => decoded.ValidateUnblinded(isFinal: false)).TlvType);
        var forwardingWithSecret = PaymentOnionPayload.Decode(new PaymentOnionPayload
        {
            AmountToForward = new MilliSatoshi(1),
            OutgoingCltvValue = 1,
            ShortChannelId = new ShortChannelId(1, 2, 3),
            PaymentData = payload.PaymentData,
        }.Encode());
        Assert.Equal(PaymentOnionPayload.PaymentDataType, Assert.Throws<OnionException>(() => forwardingWithSecret.ValidateUnblinded(isFinal: false)).TlvType);
    }

    [Fact]
    public void KeysendTypeIsEvenSoItMustBeUnderstood()
    {
        Assert.Equal(0ul, PaymentOnionPayload.KeysendPreimageType % 2);
    }

    [Theory]
    [InlineData("02020001", 2ul)] // amt_to_forward with a leading zero byte: not minimal
    [InlineData("02010104050102030405", 4ul)] // outgoing_cltv_value of 5 bytes is too long for a tu32
    [InlineData("020101060701020304050607", 6ul)] // short_channel_id of 7 bytes
    [InlineData("0c03020304", 12ul)] // current_path_key that is not a point
    [InlineData("081f" + "00000000000000000000000000000000000000000000000000000000000000", 8ul)] // payment_data shorter than 32 bytes
    public void MalformedValuesNameTheirType(string hex, ulong expectedType)
    {
        var error = Assert.Throws<OnionException>(() => PaymentOnionPayload.Decode(Convert.FromHexString(hex)));
        Assert.Equal(FailureCode.InvalidOnionPayload, error.FailureCode);
        Assert.Equal(expectedType, error.TlvType);
    }

    [Fact]
    public void UnknownEvenTypeIsRefused()
    {
        var error = Assert.Throws<OnionException>(() => PaymentOnionPayload.Decode(Convert.FromHexString("020101fd01000100")));
        Assert.Equal(FailureCode.InvalidOnionPayload, error.FailureCode);
    }

    [Fact]
    public void MissingFieldsAreReported()
    {
        var onlyScid = new PaymentOnionPayload { ShortChannelId = new ShortChannelId(1, 1, 1) };
        Assert.Equal(PaymentOnionPayload.AmountToForwardType, Assert.Throws<OnionException>(() => onlyScid.ValidateUnblinded(false)).TlvType);
        var noScid = new PaymentOnionPayload { AmountToForward = new MilliSatoshi(1), OutgoingCltvValue = 1 };
        Assert.Equal(PaymentOnionPayload.ShortChannelIdType, Assert.Throws<OnionException>(() => noScid.ValidateUnblinded(false)).TlvType);
        noScid.ValidateUnblinded(true);
        Assert.Equal(FailureCode.InvalidOnionBlinding, Assert.Throws<OnionException>(() => noScid.ValidateBlinded(true)).FailureCode);
    }
}
