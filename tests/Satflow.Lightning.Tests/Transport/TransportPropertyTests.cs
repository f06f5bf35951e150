using CsCheck;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Transport;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Transport;

/// <summary>Random and mutated inputs only ever produce <see cref="TransportException"/>; pieces reassemble.</summary>
public sealed class TransportPropertyTests
{
    private static readonly ECPrivKey InitiatorStatic = ECPrivKey.Create(Enumerable.Repeat((byte)0x11, 32).ToArray());
    private static readonly ECPrivKey ResponderStatic = ECPrivKey.Create(Enumerable.Repeat((byte)0x21, 32).ToArray());
    private static readonly NodeId ResponderId = NodeId.FromBytes(ResponderStatic.CreatePubKey().ToBytes(true));

    private static NoiseHandshake NewInitiator() => NoiseHandshake.Initiator(InitiatorStatic, ResponderId, ECPrivKey.Create(Enumerable.Repeat((byte)0x12, 32).ToArray()));

    private static NoiseHandshake NewResponder() => NoiseHandshake.Responder(ResponderStatic, ECPrivKey.Create(Enumerable.Repeat((byte)0x22, 32).ToArray()));

    private static readonly Lazy<(byte[] ActOne, byte[] ActTwo, byte[] ActThree)> ValidActs = new(() =>
    {
        var i = NewInitiator();
        var r = NewResponder();
        var one = i.WriteActOne();
        var two = r.ReadActOne(one);
        var three = i.ReadActTwo(two);
        r.ReadActThree(three);
        return (one, two, three);
    });

    private static void OnlyTransportErrors(Action action)
    {
        try
        {
            action();
        }
        catch (TransportException)
        {
        }
    }

    /// <summary>Random bytes, or a valid act with one byte changed (or cut short / extended).</summary>
    private static Gen<byte[]> ActInputs(byte[] valid) => Gen.OneOf(
        Gen.Byte.Array[0, 80],
        Gen.Byte.Array[valid.Length],
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte[1, 255], (i, x) =>
        {
            var copy = (byte[])valid.Clone();
            copy[i] ^= x;
            return copy;
        }),
        Gen.Int[0, valid.Length + 4].Select(n => valid.Concat(new byte[4]).Take(n).ToArray()));

    [Fact]
    public void RandomActOneOnlyFailsTyped() =>
        ActInputs(ValidActs.Value.ActOne).Sample(bytes =>
        {
            var r = NewResponder();
            OnlyTransportErrors(() => r.ReadActOne(bytes));
            Assert.True(bytes.AsSpan().SequenceEqual(ValidActs.Value.ActOne) ? r.State == HandshakeState.ResponderReadActThree : r.State == HandshakeState.Failed);
        }, iter: 150);

    [Fact]
    public void RandomActTwoOnlyFailsTyped() =>
        ActInputs(ValidActs.Value.ActTwo).Sample(bytes =>
        {
            var i = NewInitiator();
            i.WriteActOne();
            OnlyTransportErrors(() => i.ReadActTwo(bytes));
            Assert.True(bytes.AsSpan().SequenceEqual(ValidActs.Value.ActTwo) ? i.State == HandshakeState.Complete : i.State == HandshakeState.Failed);
        }, iter: 150);

    [Fact]
    public void RandomActThreeOnlyFailsTyped() =>
        ActInputs(ValidActs.Value.ActThree).Sample(bytes =>
        {
            var r = NewResponder();
            r.ReadActOne(ValidActs.Value.ActOne);
            OnlyTransportErrors(() => r.ReadActThree(bytes));
            Assert.True(bytes.AsSpan().SequenceEqual(ValidActs.Value.ActThree) ? r.State == HandshakeState.Complete : r.State == HandshakeState.Failed);
        }, iter: 150);

    private static (LightningTransport Sender, LightningTransport Receiver) Pair()
    {
        var i = NewInitiator();
        var r = NewResponder();
        r.ReadActThree(i.ReadActTwo(r.ReadActOne(i.WriteActOne())));
        return (i.CreateTransport(), r.CreateTransport());
    }

    [Fact]
    public void RandomFramesOnlyFailTyped()
    {
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            var (sender, receiver) = Pair();
            using (sender)
            using (receiver)
            {
                var reader = receiver.CreateReader();
                IReadOnlyList<byte[]> messages = [];
                OnlyTransportErrors(() => messages = reader.Push(bytes));
                Assert.Empty(messages);
                OnlyTransportErrors(() => receiver.DecryptFrame(bytes));
            }
        }, iter: 100);
    }

    [Fact]
    public void MutatedFramesAreRejectedAndBreakTheTransport()
    {
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, int.MaxValue], Gen.Byte[1, 255]).Sample(t =>
        {
            var (message, position, flip) = t;
            var (sender, receiver) = Pair();
            using (sender)
            using (receiver)
            {
                var frame = sender.Encrypt(message);
                frame[position % frame.Length] ^= flip;
                var reader = receiver.CreateReader();
                var ex = Assert.Throws<TransportException>(() => reader.Push(frame));
                Assert.True(ex.Error is TransportError.BadLengthPrefix or TransportError.BadMessage);
                var again = Assert.Throws<TransportException>(() => receiver.DecryptFrame(sender.Encrypt(message)));
                Assert.Equal(TransportError.TransportFailed, again.Error);
                Assert.Equal(TransportError.TransportFailed, Assert.Throws<TransportException>(() => reader.Push(new byte[40])).Error);
            }
        }, iter: 100);
    }

    [Fact]
    public void ReaderReassemblesFramesSplitAnywhere()
    {
        Gen.Select(Gen.Byte.Array[0, 200].Array[1, 6], Gen.Int[1, 40]).Sample(t =>
        {
            var (messages, chunk) = t;
            var (sender, receiver) = Pair();
            using (sender)
            using (receiver)
            {
                var stream = messages.SelectMany(m => sender.Encrypt(m)).ToArray();
                var reader = receiver.CreateReader();
                var received = new List<byte[]>();
                for (var offset = 0; offset < stream.Length; offset += chunk)
                {
                    received.AddRange(reader.Push(stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset))));
                }
                Assert.Equal(messages.Length, received.Count);
                for (var k = 0; k < messages.Length; k++)
                {
                    Assert.Equal(messages[k], received[k]);
                }
                Assert.Equal(LightningTransport.HeaderLength, reader.BytesNeeded);
            }
        }, iter: 60);
    }

    [Fact]
    public void ReaderTellsHowManyBytesItNeeds()
    {
        var (sender, receiver) = Pair();
        using var s = sender;
        using var r = receiver;
        var frame = s.Encrypt(new byte[100]);
        var reader = r.CreateReader();
        Assert.Equal(18, reader.BytesNeeded);
        Assert.Empty(reader.Push(frame.AsSpan(0, 10)));
        Assert.Equal(8, reader.BytesNeeded);
        Assert.Empty(reader.Push(frame.AsSpan(10, 8)));
        Assert.Equal(116, reader.BytesNeeded);
        Assert.Equal(100, r.PendingBodyLength);
        Assert.Single(reader.Push(frame.AsSpan(18)));
        Assert.Equal(18, reader.BytesNeeded);
    }

    [Fact]
    public void KeysRotateInStepAcrossManyMessagesBothWays()
    {
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            for (var n = 0; n < 1200; n++)
            {
                var payload = BitConverter.GetBytes(n);
                Assert.Equal(payload, b.DecryptFrame(a.Encrypt(payload)));
                if (n % 3 == 0)
                {
                    Assert.Equal(payload, a.DecryptFrame(b.Encrypt(payload)));
                }
            }
        }
    }

    [Fact]
    public void LimitsAndMisuseAreReported()
    {
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            Assert.Throws<ArgumentException>(() => a.Encrypt(new byte[LightningTransport.MaxMessageLength + 1]));
            var max = a.Encrypt(new byte[LightningTransport.MaxMessageLength]);
            Assert.Equal(LightningTransport.MaxMessageLength, b.DecryptFrame(max).Length);
            Assert.Throws<InvalidOperationException>(() => b.DecryptBody(new byte[16]));
            Assert.Equal(TransportError.BadLengthPrefix, Assert.Throws<TransportException>(() => b.DecryptLength(new byte[5])).Error);
        }
        var i = NewInitiator();
        Assert.Throws<InvalidOperationException>(() => i.ReadActTwo(new byte[50]));
        Assert.Throws<InvalidOperationException>(() => i.CreateTransport());
        var r = NewResponder();
        Assert.Throws<InvalidOperationException>(() => r.WriteActOne());
        Assert.Null(r.RemoteStatic);
    }

    [Fact]
    public void RandomEphemeralKeysStillAgree()
    {
        var i = NoiseHandshake.Initiator(InitiatorStatic, ResponderId);
        var r = NoiseHandshake.Responder(ResponderStatic);
        r.ReadActThree(i.ReadActTwo(r.ReadActOne(i.WriteActOne())));
        Assert.Equal(NodeId.FromBytes(InitiatorStatic.CreatePubKey().ToBytes(true)), r.RemoteStatic);
        using var a = i.CreateTransport();
        using var b = r.CreateTransport();
        Assert.Equal("ping"u8.ToArray(), b.DecryptFrame(a.Encrypt("ping"u8)));
    }
}
