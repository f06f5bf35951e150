using CsCheck;
using NBitcoin;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Channels.Opening.OpeningTestKit;

namespace Satflow.Lightning.Tests.Channels.Closing;

/// <summary>Random and mutated <c>closing_signed</c> messages: only <see cref="ClosingException"/> escapes, state is kept.</summary>
public sealed class ClosingPropertyTests
{
    private static readonly Handshake Opened = Run();

    private static ClosingNegotiation NewFundee() =>
        new(Opened.FundeeChannel.Parameters, FundeeKeys, MilliSatoshi.FromSatoshis(300_000), MilliSatoshi.FromSatoshis(700_000),
            FundeeShutdownScript, FunderShutdownScript, new ClosingFeePolicy(1000, Money.Satoshis(3000)));

    private static ClosingNegotiation NewFunder() =>
        new(Opened.FunderChannel.Parameters, FunderKeys, MilliSatoshi.FromSatoshis(700_000), MilliSatoshi.FromSatoshis(300_000),
            FunderShutdownScript, FundeeShutdownScript, new ClosingFeePolicy(2500, Money.Satoshis(5000)));

    [Fact]
    public void RandomClosingSignedOnlyFailsTyped()
    {
        var funder = NewFunder();
        var valid = funder.Start()!;
        var fundee = NewFundee();
        var gen = Gen.Select(Gen.ULong[0, 800_000], Gen.Byte.Array[64], Gen.Bool, Gen.ULong[0, 10_000], Gen.ULong[0, 10_000]);
        gen.Sample((fee, signature, withRange, min, max) =>
        {
            var message = valid with
            {
                FeeSatoshis = new Satoshis(fee),
                Signature = Signature64.FromBytes(signature),
                FeeRange = withRange ? new ClosingFeeRange(new Satoshis(min), new Satoshis(max)) : null,
            };
            var ex = Assert.Throws<ClosingException>(() => fundee.Handle(message));
            Assert.True(Enum.IsDefined(ex.Reason));
        }, iter: 150);
        Assert.False(fundee.IsCompleted);
        var step = fundee.Handle(valid);
        Assert.True(step.IsCompleted);
        Assert.True(funder.Handle(step.Reply!).IsCompleted);
        Assert.Equal(funder.ClosingTransaction!.ToHex(), fundee.ClosingTransaction!.ToHex());
    }

    [Fact]
    public void MutatedClosingSignedOnlyFailsTypedAndKeepsState()
    {
        var funder = NewFunder();
        var valid = funder.Start()!;
        var bytes = valid.Encode();
        var fundee = NewFundee();
        Gen.Select(Gen.Int[2, bytes.Length - 1], Gen.Byte, Gen.Int[0, 30]).Sample((position, value, truncate) =>
        {
            var mutated = bytes.ToArray();
            mutated[position] = value;
            if (truncate > 0)
            {
                mutated = mutated[..Math.Max(2, mutated.Length - truncate)];
            }
            ClosingSigned message;
            try
            {
                message = Assert.IsType<ClosingSigned>(LightningMessage.Decode(mutated));
            }
            catch (WireFormatException)
            {
                return;
            }
            if (message.Encode().AsSpan().SequenceEqual(bytes) || message.FeeRange != valid.FeeRange && message.FeeSatoshis == valid.FeeSatoshis && message.Signature == valid.Signature && message.ChannelId == valid.ChannelId)
            {
                // Unchanged, or only the fee range moved (still a valid proposal): not a failure case.
                return;
            }
            var ex = Assert.Throws<ClosingException>(() => fundee.Handle(message));
            Assert.True(Enum.IsDefined(ex.Reason));
        }, iter: 150);
        Assert.False(fundee.IsCompleted);
        Assert.True(fundee.Handle(valid).IsCompleted);
    }
}
