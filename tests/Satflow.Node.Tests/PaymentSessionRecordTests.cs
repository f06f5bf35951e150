using CsCheck;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Node.Persistence;

namespace Satflow.Node.Tests;

public sealed class PaymentSessionRecordTests
{
    private static readonly PaymentPreimage Keysend = new(new Bytes32(Enumerable.Repeat((byte)4, 32).ToArray()));
    private static readonly NodeId Payee = new(new NBitcoin.Key(Convert.FromHexString(new string('3', 64))).PubKey);

    private static PaymentSessionRecord Sample(bool keysend) => new(
        new PaymentParameters(Payee, Keysend.Hash, keysend ? null : new PaymentSecret(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray())),
            new MilliSatoshi(123_456), 24, new DateTimeOffset(2026, 11, 26, 7, 0, 0, TimeSpan.Zero), keysend ? null : new MilliSatoshi(5_000), 12, !keysend, 4,
            keysend ? null : [new[] { new RouteHintHop(Payee, new ShortChannelId(103, 1, 0), 1000, 1, 80) }], null, 2010),
        keysend ? Keysend : null, 3);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RoundTrips(bool keysend)
    {
        var record = Sample(keysend);
        var decoded = PaymentSessionRecord.Decode(record.Encode(), Keysend.Hash);
        Assert.Equal(record.Attempts, decoded.Attempts);
        Assert.Equal(record.KeysendPreimage, decoded.KeysendPreimage);
        Assert.Equal(record.Parameters with { RouteHints = null }, decoded.Parameters with { RouteHints = null });
        Assert.Equal(record.Parameters.RouteHints?.SelectMany(h => h), decoded.Parameters.RouteHints?.SelectMany(h => h));
    }

    [Fact]
    public void AKeysendPreimageOfAnotherHashIsRefused() =>
        Assert.Throws<NodeStateCorruptException>(() => PaymentSessionRecord.Decode(Sample(true).Encode(), new PaymentHash(new Bytes32(new byte[32]))));

    [Fact]
    public void RandomAndDamagedBytesOnlyGiveTheTypedError()
    {
        var valid = Sample(false).Encode();
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Int[0, valid.Length]).Sample(c =>
        {
            var (random, at, value, cut) = c;
            var mutated = valid.ToArray();
            mutated[at] = value;
            foreach (var bytes in new[] { random, mutated, valid[..cut] })
            {
                try
                {
                    PaymentSessionRecord.Decode(bytes, Keysend.Hash);
                }
                catch (NodeStateCorruptException)
                {
                }
            }
        }, iter: 500);
    }
}
