using CsCheck;
using Satflow.Lightning.Types;

namespace Satflow.Payments.Tests;

/// <summary>Version 2 of the outgoing payment record (HTLC attempts and parts) next to version 1.</summary>
public sealed class OutgoingPaymentRecordVersionTests
{
    private static readonly OutgoingPaymentRecord Paid = new()
    {
        PaymentHash = TestEnv.PreimageOf(5).Hash,
        Amount = new MilliSatoshi(400_000_000),
        Destination = TestEnv.NodeIdOf(0x35),
        State = OutgoingPaymentState.Succeeded,
        Attempts = 1,
        StartedAt = TestEnv.Start,
        CompletedAt = TestEnv.Start.AddSeconds(3),
        Preimage = TestEnv.PreimageOf(5),
        Fee = new MilliSatoshi(2_400),
    };

    [Fact]
    public void RoutingFieldsRoundTripInVersion2AndVersion1StaysReadable()
    {
        var v1 = Paid.Encode();
        Assert.Equal(1, v1[0]);
        Assert.Equal(Paid, OutgoingPaymentRecord.Decode(v1));

        var routed = Paid with { HtlcAttempts = 3, Parts = 2 };
        var v2 = routed.Encode();
        Assert.Equal(OutgoingPaymentRecord.CurrentVersion, v2[0]);
        Assert.Equal(routed, OutgoingPaymentRecord.Decode(v2));
        Assert.Equal(Paid with { Parts = 1 }, OutgoingPaymentRecord.Decode((Paid with { Parts = 1 }).Encode()));
    }

    [Fact]
    public void DamagedVersion2RecordsAreATypedError()
    {
        var valid = (Paid with { HtlcAttempts = 3, Parts = 2 }).Encode();
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Int[0, valid.Length]).Sample(c =>
        {
            var (at, value, cut) = c;
            var mutated = valid.ToArray();
            mutated[at] = value;
            foreach (var bytes in new[] { mutated, valid[..cut] })
            {
                try
                {
                    OutgoingPaymentRecord.Decode(bytes);
                }
                catch (PaymentRecordCorruptException)
                {
                }
            }
        }, iter: 500);
    }
}
