using CsCheck;
using NBitcoin;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Channels.Opening.OpeningTestKit;

namespace Satflow.Lightning.Tests.Channels.Closing;

/// <summary>The <c>option_simple_close</c> negotiation (<c>closing_complete</c>/<c>closing_sig</c>) between two nodes.</summary>
public sealed class SimpleCloseNegotiationTests
{
    private static readonly Handshake Opened = Run();
    private static readonly FeatureBits Features = FeatureBits.Of(27, 61);
    private static readonly Script OpReturn = Script.FromHex("6a06" + "010203040506");

    private static (SimpleCloseNegotiation A, SimpleCloseNegotiation B) Pair(long aSat = 700_000, long bSat = 300_000, Script? bScript = null)
    {
        var a = MilliSatoshi.FromSatoshis((ulong)aSat);
        var b = MilliSatoshi.FromSatoshis((ulong)bSat);
        return (
            new SimpleCloseNegotiation(Opened.FunderChannel.Parameters, FunderKeys, a, b, FunderShutdownScript, bScript ?? FundeeShutdownScript, Features),
            new SimpleCloseNegotiation(Opened.FundeeChannel.Parameters, FundeeKeys, b, a, bScript ?? FundeeShutdownScript, FunderShutdownScript, Features));
    }

    private static Transaction Close(SimpleCloseNegotiation closer, SimpleCloseNegotiation closee, long fee, uint lockTime = 800_000)
    {
        var complete = RoundTrip(closer.CreateClosingComplete(Money.Satoshis(fee), new LockTime(lockTime)));
        var signed = closee.HandleClosingComplete(complete);
        var tx = closer.HandleClosingSig(RoundTrip(signed.Reply));
        Assert.Equal(signed.ClosingTransaction.ToHex(), tx.ToHex());
        AssertSpendsFunding(tx, Opened.Output.ToTxOut());
        Assert.Equal(new Sequence(0xFFFFFFFDu), tx.Inputs[0].Sequence);
        Assert.Equal(lockTime, (uint)tx.LockTime);
        Assert.False(closer.IsAwaitingClosingSig);
        return tx;
    }

    [Fact]
    public void LargerSideClosesWithBothOutputs()
    {
        var (a, b) = Pair();
        var complete = a.CreateClosingComplete(Money.Satoshis(500), new LockTime(800_000));
        Assert.NotNull(complete.CloserOutputOnly);
        Assert.NotNull(complete.CloserAndCloseeOutputs);
        Assert.Null(complete.CloseeOutputOnly);
        var signed = b.HandleClosingComplete(RoundTrip(complete));
        Assert.NotNull(signed.Reply.CloserAndCloseeOutputs);
        Assert.Null(signed.Reply.CloserOutputOnly);
        var tx = a.HandleClosingSig(RoundTrip(signed.Reply));
        Assert.Equal(signed.ClosingTransaction.ToHex(), tx.ToHex());
        AssertSpendsFunding(tx, Opened.Output.ToTxOut());
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == FunderShutdownScript && o.Value == Money.Satoshis(699_500));
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == FundeeShutdownScript && o.Value == Money.Satoshis(300_000));
    }

    [Fact]
    public void BothSidesMayCloseIndependently()
    {
        var (a, b) = Pair();
        var byA = Close(a, b, 500);
        var byB = Close(b, a, 400);
        Assert.NotEqual(byA.GetHash(), byB.GetHash());
        Assert.Contains(byB.Outputs, o => o.ScriptPubKey == FundeeShutdownScript && o.Value == Money.Satoshis(299_600));
        Assert.Contains(byB.Outputs, o => o.ScriptPubKey == FunderShutdownScript && o.Value == Money.Satoshis(700_000));
    }

    [Fact]
    public void LesserSideNeverSendsCloserOnlyAndDropsItsDustOutput()
    {
        var (a, b) = Pair(999_500, 500);
        var complete = b.CreateClosingComplete(Money.Satoshis(300), new LockTime(0));
        Assert.Null(complete.CloserOutputOnly);
        Assert.Null(complete.CloserAndCloseeOutputs);
        Assert.NotNull(complete.CloseeOutputOnly);
        var signed = a.HandleClosingComplete(complete);
        var tx = b.HandleClosingSig(signed.Reply);
        var output = Assert.Single(tx.Outputs);
        Assert.Equal(FunderShutdownScript, output.ScriptPubKey);
        Assert.Equal(Money.Satoshis(999_500), output.Value);
        AssertSpendsFunding(tx, Opened.Output.ToTxOut());
    }

    [Fact]
    public void ClosingCompleteOmitsTheCloseesDustOutput()
    {
        var (a, b) = Pair(999_800, 200);
        var complete = a.CreateClosingComplete(Money.Satoshis(300), new LockTime(0));
        Assert.NotNull(complete.CloserOutputOnly);
        Assert.Null(complete.CloserAndCloseeOutputs);
        var signed = b.HandleClosingComplete(RoundTrip(complete));
        Assert.NotNull(signed.Reply.CloserOutputOnly);
        var tx = a.HandleClosingSig(RoundTrip(signed.Reply));
        Assert.Equal(signed.ClosingTransaction.ToHex(), tx.ToHex());
        Assert.Equal(FunderShutdownScript, Assert.Single(tx.Outputs).ScriptPubKey);
        Assert.Equal(Money.Satoshis(999_500), tx.Outputs[0].Value);
        AssertSpendsFunding(tx, Opened.Output.ToTxOut());
    }

    [Fact]
    public void OpReturnCloserOutputCarriesZero()
    {
        var (a, b) = Pair(999_500, 500, OpReturn);
        var tx = Close(b, a, 300);
        Assert.Equal(2, tx.Outputs.Count);
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == OpReturn && o.Value == Money.Zero);
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == FunderShutdownScript && o.Value == Money.Satoshis(999_500));
    }

    [Fact]
    public void CloserMayChangeItsScriptAndTheCloseeFollows()
    {
        var (a, b) = Pair();
        var newScript = new Key(Enumerable.Repeat((byte)0x77, 32).ToArray()).PubKey.GetScriptPubKey(ScriptPubKeyType.TaprootBIP86);
        var complete = a.CreateClosingComplete(Money.Satoshis(600), new LockTime(1), newScript);
        var signed = b.HandleClosingComplete(complete);
        Assert.Equal(newScript, b.RemoteScript);
        Assert.Equal(newScript, a.LocalScript);
        var tx = a.HandleClosingSig(signed.Reply);
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == newScript);
        // B's next proposal must target the new script.
        var byB = Close(b, a, 400);
        Assert.Contains(byB.Outputs, o => o.ScriptPubKey == newScript);
    }

    [Fact]
    public void CloseeRejectsBadProposalsAndKeepsState()
    {
        var (a, b) = Pair();
        var valid = a.CreateClosingComplete(Money.Satoshis(500), new LockTime(5));
        var cases = new (ClosingComplete Message, ClosingFailure Reason)[]
        {
            (valid with { CloseeScriptPubKey = FunderShutdownScript.ToBytes(true) }, ClosingFailure.ScriptMismatch),
            (valid with { CloserScriptPubKey = new byte[] { 0x51 } }, ClosingFailure.InvalidShutdownScript),
            (valid with { FeeSatoshis = new Satoshis(700_001) }, ClosingFailure.FeeExceedsBalance),
            (valid with { FeeSatoshis = new Satoshis(501) }, ClosingFailure.InvalidSignature),
            (valid with { Locktime = 6 }, ClosingFailure.InvalidSignature),
            (valid with { CloserAndCloseeOutputs = valid.CloserOutputOnly }, ClosingFailure.InvalidSignature),
            (valid with { CloserAndCloseeOutputs = null, CloseeOutputOnly = null }, ClosingFailure.MissingSignature),
            (valid with { ChannelId = TemporaryId }, ClosingFailure.UnexpectedMessage),
        };
        foreach (var (message, reason) in cases)
        {
            Assert.Equal(reason, Assert.Throws<ClosingException>(() => b.HandleClosingComplete(message)).Reason);
        }
        Assert.Equal(FunderShutdownScript, b.RemoteScript);
        Assert.NotNull(a.HandleClosingSig(b.HandleClosingComplete(valid).Reply));
    }

    [Fact]
    public void CloserRejectsBadSignaturesAndKeepsWaiting()
    {
        var (a, b) = Pair();
        Assert.Equal(ClosingFailure.UnexpectedMessage, Assert.Throws<ClosingException>(() => a.HandleClosingSig(new ClosingSig
        {
            ChannelId = a.ChannelId,
            CloserScriptPubKey = FunderShutdownScript.ToBytes(true),
            CloseeScriptPubKey = FundeeShutdownScript.ToBytes(true),
            FeeSatoshis = new Satoshis(1),
            Locktime = 0,
        })).Reason);
        var complete = a.CreateClosingComplete(Money.Satoshis(500), new LockTime(5));
        Assert.Throws<InvalidOperationException>(() => a.CreateClosingComplete(Money.Satoshis(600), new LockTime(5)));
        var reply = b.HandleClosingComplete(complete).Reply;
        var sig = reply.CloserAndCloseeOutputs!.Value;
        var cases = new (ClosingSig Message, ClosingFailure Reason)[]
        {
            (reply with { FeeSatoshis = new Satoshis(499) }, ClosingFailure.ScriptMismatch),
            (reply with { Locktime = 4 }, ClosingFailure.ScriptMismatch),
            (reply with { CloseeScriptPubKey = FunderShutdownScript.ToBytes(true) }, ClosingFailure.ScriptMismatch),
            (reply with { CloserOutputOnly = sig }, ClosingFailure.MissingSignature),
            (reply with { CloserAndCloseeOutputs = null }, ClosingFailure.MissingSignature),
            (reply with { CloserAndCloseeOutputs = null, CloseeOutputOnly = sig }, ClosingFailure.MissingSignature),
            (reply with { CloserAndCloseeOutputs = null, CloserOutputOnly = sig }, ClosingFailure.InvalidSignature),
            (reply with { CloserAndCloseeOutputs = complete.CloserAndCloseeOutputs }, ClosingFailure.InvalidSignature),
            (reply with { CloserAndCloseeOutputs = Signature64.FromBytes(new byte[64]) }, ClosingFailure.InvalidSignature),
        };
        foreach (var (message, reason) in cases)
        {
            Assert.Equal(reason, Assert.Throws<ClosingException>(() => a.HandleClosingSig(message)).Reason);
            Assert.True(a.IsAwaitingClosingSig);
        }
        AssertSpendsFunding(a.HandleClosingSig(reply), Opened.Output.ToTxOut());
    }

    [Fact]
    public void CloserRefusesImpossibleProposals()
    {
        var (a, b) = Pair(999_800, 200);
        Assert.Throws<ArgumentException>(() => a.CreateClosingComplete(Money.Satoshis(999_801), LockTime.Zero));
        Assert.Throws<ArgumentException>(() => a.CreateClosingComplete(Money.Satoshis(999_700), LockTime.Zero));
        Assert.Throws<ArgumentException>(() => b.CreateClosingComplete(Money.Satoshis(100), LockTime.Zero, new Script(OpcodeType.OP_TRUE)));
        Assert.False(a.IsAwaitingClosingSig);
        Assert.False(b.IsAwaitingClosingSig);
    }

    [Fact]
    public void MutatedClosingCompleteOnlyFailsTyped()
    {
        var (a, b) = Pair();
        var valid = a.CreateClosingComplete(Money.Satoshis(500), new LockTime(5));
        var bytes = valid.Encode();
        Gen.Select(Gen.Int[2, bytes.Length - 1], Gen.Byte, Gen.Int[0, 30]).Sample((position, value, truncate) =>
        {
            var mutated = bytes.ToArray();
            mutated[position] = value;
            mutated = mutated[..Math.Max(2, mutated.Length - truncate)];
            ClosingComplete message;
            try
            {
                message = Assert.IsType<ClosingComplete>(LightningMessage.Decode(mutated));
            }
            catch (WireFormatException)
            {
                return;
            }
            try
            {
                b.HandleClosingComplete(message);
            }
            catch (ClosingException e)
            {
                Assert.True(Enum.IsDefined(e.Reason));
            }
        }, iter: 150);
        Assert.NotNull(a.HandleClosingSig(b.HandleClosingComplete(valid).Reply));
    }
}
