using CsCheck;
using NBitcoin;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Channels.Opening.OpeningTestKit;

namespace Satflow.Lightning.Tests.Channels.Opening;

/// <summary>Random bytes and mutated valid messages fed to the handshake: only typed errors escape, state is kept.</summary>
public sealed class OpeningPropertyTests
{
    private static readonly Gen<(int Position, byte Value)[]> Flips = Gen.Select(Gen.Int[0, 10_000], Gen.Byte).Array[1, 4];

    /// <summary>Applies the flips (positions wrap) and sometimes truncates; null when the result does not decode as <typeparamref name="T"/>.</summary>
    private static T? Mutated<T>(byte[] valid, (int Position, byte Value)[] flips, int truncate)
        where T : LightningMessage
    {
        var bytes = valid.ToArray();
        foreach (var (position, value) in flips)
        {
            // Keep the 2-byte type so that most samples reach the handler.
            bytes[2 + (position % (bytes.Length - 2))] = value;
        }
        if (truncate > 0)
        {
            bytes = bytes[..Math.Max(2, bytes.Length - truncate)];
        }
        try
        {
            return LightningMessage.Decode(bytes) as T;
        }
        catch (WireFormatException)
        {
            return null;
        }
    }

    [Fact]
    public void RandomBytesNeverEscapeAsUntypedErrors()
    {
        var funder = NewFunder();
        Gen.Select(Gen.UInt[32, 35], Gen.Byte.Array[0, 600]).Sample((type, body) =>
        {
            byte[] bytes = [(byte)(type >> 8), (byte)type, .. body];
            LightningMessage message;
            try
            {
                message = LightningMessage.Decode(bytes);
            }
            catch (WireFormatException)
            {
                return;
            }
            try
            {
                switch (message)
                {
                    case OpenChannel open:
                        InboundChannelOpening.FromOpenChannel(open, Policy, FundeeKeys, ChainHash.Regtest);
                        break;
                    case AcceptChannel accept:
                        funder.HandleAcceptChannel(accept);
                        break;
                    case FundingSigned signed:
                        funder.HandleFundingSigned(signed);
                        break;
                }
            }
            catch (ChannelOpeningException)
            {
            }
        }, iter: 300);
        Assert.Null(funder.ChannelId);
    }

    [Fact]
    public void MutatedOpenChannelOnlyFailsTyped()
    {
        var valid = NewFunder().OpenChannel.Encode();
        Gen.Select(Flips, Gen.Int[0, 40]).Sample((flips, truncate) =>
        {
            if (Mutated<OpenChannel>(valid, flips, truncate) is not { } open)
            {
                return;
            }
            try
            {
                var fundee = InboundChannelOpening.FromOpenChannel(open, Policy, FundeeKeys, ChainHash.Regtest);
                Assert.Equal(open.TemporaryChannelId, fundee.AcceptChannel.TemporaryChannelId);
            }
            catch (ChannelOpeningException e)
            {
                Assert.True(Enum.IsDefined(e.Reason));
            }
        }, iter: 400);
    }

    [Fact]
    public void MutatedAcceptChannelOnlyFailsTypedAndKeepsState()
    {
        var accept = NewFundee(NewFunder().OpenChannel).AcceptChannel;
        var valid = accept.Encode();
        Gen.Select(Flips, Gen.Int[0, 40]).Sample((flips, truncate) =>
        {
            if (Mutated<AcceptChannel>(valid, flips, truncate) is not { } mutated)
            {
                return;
            }
            var funder = NewFunder();
            try
            {
                funder.HandleAcceptChannel(mutated);
                return;
            }
            catch (ChannelOpeningException)
            {
            }
            Assert.Equal(Funding, funder.HandleAcceptChannel(accept).Amount);
        }, iter: 200);
    }

    [Fact]
    public void MutatedFundingCreatedOnlyFailsTypedAndKeepsState()
    {
        var funder = NewFunder();
        var open = funder.OpenChannel;
        var output = funder.HandleAcceptChannel(NewFundee(open).AcceptChannel);
        var created = funder.CreateFundingCreated(new OutPoint(FundingTransaction(output).GetHash(), 1));
        var valid = created.Encode();
        Gen.Select(Flips, Gen.Int[0, 20]).Sample((flips, truncate) =>
        {
            if (Mutated<FundingCreated>(valid, flips, truncate) is not { } mutated || mutated.Encode().AsSpan().SequenceEqual(valid))
            {
                return;
            }
            var fundee = InboundChannelOpening.FromOpenChannel(open, Policy, FundeeKeys, ChainHash.Regtest);
            var ex = Assert.Throws<ChannelOpeningException>(() => fundee.HandleFundingCreated(mutated));
            Assert.True(ex.Reason is ChannelOpeningFailure.InvalidSignature or ChannelOpeningFailure.TemporaryChannelIdMismatch, ex.Reason.ToString());
            Assert.NotNull(fundee.HandleFundingCreated(created).Channel);
        }, iter: 40);
    }

    [Fact]
    public void MutatedFundingSignedOnlyFailsTypedAndKeepsState()
    {
        var h = Run();
        var valid = h.FundingSigned.Encode();
        Gen.Select(Flips, Gen.Int[0, 20]).Sample((flips, truncate) =>
        {
            if (Mutated<FundingSigned>(valid, flips, truncate) is not { } mutated || mutated.Encode().AsSpan().SequenceEqual(valid))
            {
                return;
            }
            var funder = NewFunder();
            var output = funder.HandleAcceptChannel(h.Fundee.AcceptChannel);
            funder.CreateFundingCreated(new OutPoint(FundingTransaction(output).GetHash(), 1));
            var ex = Assert.Throws<ChannelOpeningException>(() => funder.HandleFundingSigned(mutated));
            Assert.True(ex.Reason is ChannelOpeningFailure.InvalidSignature or ChannelOpeningFailure.ChannelIdMismatch, ex.Reason.ToString());
            Assert.Equal(h.FunderChannel.Parameters, funder.HandleFundingSigned(h.FundingSigned).Parameters);
        }, iter: 40);
    }
}
