using CsCheck;
using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Channels;

public sealed class ChannelPropertyTests
{
    private enum Op
    {
        AddA,
        AddB,
        FulfillA,
        FulfillB,
        FailA,
        FailB,
        SignA,
        SignB,
        DeliverA,
        DeliverB,
        Disconnect,
        UpdateFee,
    }

    [Fact]
    public void RandomOperationSequencesKeepTheInvariants()
    {
        var gen = Gen.Select(Gen.Bool, Gen.Select(Gen.Int[0, 11], Gen.Int[0, 1_000_000]).Array[25]);
        gen.Sample((anchors, ops) =>
        {
            var pair = ChannelFactory.NormalPair(new TestChannelSpec
            {
                Format = anchors ? CommitmentFormat.AnchorOutputs : CommitmentFormat.StaticRemoteKey,
                FundeeOptions = new ChannelOptions(ShutdownScript: ChannelFactory.FundeeCloseScript),
            });
            pair.CheckRoundTrip = true;
            var next = 0;
            foreach (var (kind, param) in ops)
            {
                Step(pair, (Op)kind, param, ref next);
                pair.AssertConsistent();
            }
            // Whatever happened, reconnecting and settling converges and both sides agree.
            if (!pair.Connected)
            {
                pair.Reconnect();
            }
            pair.Settle();
            pair.AssertConsistent();
            pair.RoundTrip(pair.SideA);
            pair.RoundTrip(pair.SideB);
            pair.AssertConsistent();
            CloseCooperatively(pair);
        }, iter: 30, threads: 1);
    }

    /// <summary>Fails every remaining HTLC, then both sides shut down and negotiate the closing transaction.</summary>
    private static void CloseCooperatively(ChannelPair pair)
    {
        pair.CheckRoundTrip = true;
        for (var round = 0; round < 10 && (pair.A.Htlcs.Count > 0 || pair.B.Htlcs.Count > 0); round++)
        {
            foreach (var side in new[] { pair.SideA, pair.SideB })
            {
                foreach (var h in side.Channel.Htlcs.Where(h => h.Direction == ChannelHtlcDirection.Incoming && h.State == ChannelHtlcState.Committed))
                {
                    pair.Absorb(side, side.Channel.FailHtlc(h.Id, new byte[] { 0 }));
                }
            }
            pair.Settle();
        }
        Assert.Empty(pair.A.Htlcs);
        if (pair.A.State == ChannelState.Normal)
        {
            pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        }
        pair.Settle();
        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(ChannelState.Closed, pair.B.State);
        Assert.Equal(pair.A.ClosingTransaction!.GetHash(), pair.B.ClosingTransaction!.GetHash());
    }

    private static void Step(ChannelPair pair, Op op, int param, ref int next)
    {
        try
        {
            switch (op)
            {
                case Op.AddA or Op.AddB:
                {
                    var side = op == Op.AddA ? pair.SideA : pair.SideB;
                    pair.Add(side, 1_000UL + ((ulong)param * 97 % 60_000_000), next++);
                    break;
                }
                case Op.FulfillA or Op.FulfillB or Op.FailA or Op.FailB:
                {
                    var side = op is Op.FulfillA or Op.FailA ? pair.SideA : pair.SideB;
                    var incoming = side.Channel.Htlcs.Where(h => h.Direction == ChannelHtlcDirection.Incoming && h.State == ChannelHtlcState.Committed).ToList();
                    if (incoming.Count == 0)
                    {
                        return;
                    }
                    var htlc = incoming[param % incoming.Count];
                    var index = Enumerable.Range(0, 10_000).First(i => ChannelFactory.Preimage(i).Hash == htlc.PaymentHash);
                    pair.Absorb(side, op is Op.FulfillA or Op.FulfillB
                        ? side.Channel.FulfillHtlc(htlc.Id, ChannelFactory.Preimage(index))
                        : side.Channel.FailHtlc(htlc.Id, new byte[] { (byte)param }));
                    break;
                }
                case Op.SignA:
                    pair.Sign(pair.SideA);
                    break;
                case Op.SignB:
                    pair.Sign(pair.SideB);
                    break;
                case Op.DeliverA or Op.DeliverB:
                {
                    var side = op == Op.DeliverA ? pair.SideA : pair.SideB;
                    for (var i = 0; i <= param % 3 && side.Inbox.Count > 0; i++)
                    {
                        pair.DeliverOne(side);
                    }
                    break;
                }
                case Op.Disconnect:
                    pair.Disconnect();
                    if (param % 4 != 0)
                    {
                        pair.Reconnect();
                    }
                    break;
                case Op.UpdateFee when param % 7 == 0:
                    pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
                    break;
                case Op.UpdateFee:
                    pair.Absorb(pair.SideA, pair.A.UpdateFee(253 + (uint)(param % 10_000)));
                    break;
            }
        }
        catch (ChannelUpdateRefusedException)
        {
            // A refused local operation is a legal outcome; the state is unchanged.
        }
    }

    /// <summary>A Normal channel with HTLCs both ways, and the messages an honest peer sent it along the way.</summary>
    private static (byte[] State, List<byte[]> Samples) FuzzBase()
    {
        var pair = ChannelFactory.NormalPair();
        var samples = new List<byte[]>();
        pair.Add(pair.SideA, 20_000_000, 1);
        pair.Add(pair.SideB, 10_000_000, 2);
        samples.AddRange(pair.SideB.Inbox.Select(m => m.Encode()));
        samples.AddRange(pair.SideA.Inbox.Select(m => m.Encode()));
        pair.Settle();
        pair.Add(pair.SideB, 3_000_000, 3);
        pair.Pump();
        var sign = pair.B.SignCommitment();
        samples.AddRange(sign.Messages.Select(m => m.Encode()));
        samples.Add(new UpdateFulfillHtlc(pair.B.ChannelId, 0, ChannelFactory.Preimage(1)).Encode());
        samples.Add(new UpdateFailMalformedHtlc(pair.B.ChannelId, 0, default, 0xC005).Encode());
        samples.Add(new UpdateFee(pair.B.ChannelId, 3000).Encode());
        samples.Add(pair.A.CreateReestablish().Encode());
        samples.Add(new Shutdown(pair.B.ChannelId, new Key().PubKey.WitHash.ScriptPubKey.ToBytes()).Encode());
        samples.Add(new ClosingSigned(pair.B.ChannelId, new Satoshis(500), Signature64.FromBytes(new byte[64])).Encode());
        samples.Add(new RevokeAndAck(pair.B.ChannelId, ChannelFactory.KeysA.PerCommitmentSecret(1), new Point(ChannelFactory.KeysA.PerCommitmentPoint(3))).Encode());
        samples.Add(new ChannelReady(pair.B.ChannelId, new Point(ChannelFactory.KeysA.PerCommitmentPoint(1))).Encode());
        return (pair.B.Serialize(), samples);
    }

    private static void Feed(byte[] state, byte[] bytes)
    {
        LightningMessage message;
        try
        {
            message = LightningMessage.Decode(bytes);
        }
        catch (WireFormatException)
        {
            return;
        }
        var channel = Channel.Deserialize(state, ChannelFactory.KeysB);
        try
        {
            channel.Handle(message);
        }
        catch (ChannelProtocolException)
        {
            Assert.Equal(state, channel.Serialize());
        }
    }

    [Fact]
    public void RandomMessageBytesOnlyGiveTypedErrors()
    {
        var (state, samples) = FuzzBase();
        var types = new ushort[] { 36, 38, 39, 128, 130, 131, 132, 133, 134, 135, 136 };
        Gen.Select(Gen.Int[0, types.Length - 1], Gen.Byte.Array[0, 1600]).Sample((t, body) =>
        {
            var bytes = new byte[body.Length + 2];
            bytes[0] = (byte)(types[t] >> 8);
            bytes[1] = (byte)types[t];
            body.CopyTo(bytes, 2);
            Feed(state, bytes);
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void MutatedMessagesOnlyGiveTypedErrors()
    {
        var (state, samples) = FuzzBase();
        Gen.Select(Gen.Int[0, samples.Count - 1], Gen.Int[0, 2000].Array[1, 4], Gen.Byte).Sample((s, positions, value) =>
        {
            var bytes = samples[s].ToArray();
            foreach (var p in positions)
            {
                bytes[p % bytes.Length] ^= (byte)(value | 1);
            }
            Feed(state, bytes);
        }, iter: 150, threads: 1);
        // And each genuine sample is handled or refused with the typed error only.
        foreach (var sample in samples)
        {
            Feed(state, sample);
        }
    }

    [Fact]
    public void CorruptStateBytesGiveTypedErrors()
    {
        var (state, _) = FuzzBase();
        Gen.Select(Gen.Int[0, 100_000].Array[1, 3], Gen.Byte).Sample((positions, value) =>
        {
            var bytes = state.ToArray();
            foreach (var p in positions)
            {
                bytes[p % bytes.Length] ^= (byte)(value | 1);
            }
            try
            {
                Channel.Deserialize(bytes, ChannelFactory.KeysB);
            }
            catch (ChannelSerializationException)
            {
            }
        }, iter: 300, threads: 1);
        Gen.Byte.Array[0, 3000].Sample(bytes =>
        {
            Assert.Throws<ChannelSerializationException>(() => Channel.Deserialize(bytes, ChannelFactory.KeysB));
        }, iter: 300, threads: 1);
        Assert.Throws<ChannelSerializationException>(() => Channel.Deserialize(state.AsSpan(0, state.Length - 1), ChannelFactory.KeysB));
        Assert.Throws<ChannelSerializationException>(() => Channel.Deserialize([.. state, 0], ChannelFactory.KeysB));
        Assert.Throws<ChannelSerializationException>(() => Channel.Deserialize(state, ChannelFactory.KeysA));
        var wrongVersion = state.ToArray();
        wrongVersion[0] = 99;
        Assert.Throws<ChannelSerializationException>(() => Channel.Deserialize(wrongVersion, ChannelFactory.KeysB));
    }
}
