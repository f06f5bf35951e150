using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

/// <summary>How to open a test channel.</summary>
internal sealed record TestChannelSpec
{
    public CommitmentFormat Format { get; init; } = CommitmentFormat.AnchorOutputs;

    public long CapacitySat { get; init; } = 1_000_000;

    public ulong PushMsat { get; init; } = 200_000_000;

    public uint FeeratePerKw { get; init; } = 2500;

    public ChannelLimits FunderLimits { get; init; } = DefaultLimits;

    public ChannelLimits FundeeLimits { get; init; } = DefaultLimits;

    public uint MinimumDepth { get; init; } = 3;

    public ChannelOptions? FunderOptions { get; init; }

    public ChannelOptions? FundeeOptions { get; init; }

    public static ChannelLimits DefaultLimits { get; } = new(
        Money.Satoshis(546), new MilliSatoshi(900_000_000), Money.Satoshis(10_000), new MilliSatoshi(1_000), 144, 30);
}

/// <summary>Builds both sides of a channel straight from <see cref="LocalChannelKeys.Derive"/> (no opening code).</summary>
internal static class ChannelFactory
{
    public static readonly byte[] SeedA = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    public static readonly byte[] SeedB = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();

    public static LocalChannelKeys KeysA { get; } = LocalChannelKeys.Derive(SeedA, 7);

    public static LocalChannelKeys KeysB { get; } = LocalChannelKeys.Derive(SeedB, 9);

    public static (FundedChannel Funder, FundedChannel Fundee) Funded(TestChannelSpec spec)
    {
        var a = KeysA;
        var b = KeysB;
        var outPoint = new OutPoint(new uint256(SHA256.HashData("satflow-test-funding"u8.ToArray())), 1);
        var capacity = Money.Satoshis(spec.CapacitySat);
        var pa = new ChannelStaticParameters(spec.Format, outPoint, capacity, true, a.Basepoints, b.Basepoints,
            spec.FundeeLimits.ToSelfDelay, spec.FunderLimits.ToSelfDelay, spec.FunderLimits.DustLimit, spec.FundeeLimits.DustLimit);
        var pb = new ChannelStaticParameters(spec.Format, outPoint, capacity, false, b.Basepoints, a.Basepoints,
            spec.FunderLimits.ToSelfDelay, spec.FundeeLimits.ToSelfDelay, spec.FundeeLimits.DustLimit, spec.FunderLimits.DustLimit);
        var push = new MilliSatoshi(spec.PushMsat);
        var funderBalance = MilliSatoshi.FromSatoshis((ulong)spec.CapacitySat) - push;
        // Each side signs the other's commitment 0.
        var aCommit0ByB = pb.BuildRemoteCommitment(0, a.PerCommitmentPoint(0), spec.FeeratePerKw, funderBalance, push, []);
        var bCommit0ByA = pa.BuildRemoteCommitment(0, b.PerCommitmentPoint(0), spec.FeeratePerKw, push, funderBalance, []);
        var sigForA = Bolt3Signing.SignCommitment(aCommit0ByB, b.FundingKey);
        var sigForB = Bolt3Signing.SignCommitment(bCommit0ByA, a.FundingKey);
        var channelType = FeatureBits.Of(FeatureRegistry.StaticRemoteKey.EvenBit);
        var tmp = new ChannelId(new Bytes32(SHA256.HashData("tmp"u8.ToArray())));
        var funder = new FundedChannel(pa, tmp, spec.FunderLimits, spec.FundeeLimits, spec.FeeratePerKw, funderBalance, push,
            b.PerCommitmentPoint(0), sigForA, spec.MinimumDepth, channelType, null, null, false);
        var fundee = new FundedChannel(pb, tmp, spec.FundeeLimits, spec.FunderLimits, spec.FeeratePerKw, push, funderBalance,
            a.PerCommitmentPoint(0), sigForB, spec.MinimumDepth, channelType, null, null, false);
        return (funder, fundee);
    }

    public static ShortChannelId Scid { get; } = new(700_000, 12, 1);

    public static Script FundeeCloseScript { get; } = new Key(SHA256.HashData("fundee-close"u8.ToArray())).PubKey.WitHash.ScriptPubKey;

    /// <summary>A pair in state Normal (both channel_ready exchanged).</summary>
    public static ChannelPair NormalPair(TestChannelSpec? spec = null)
    {
        var pair = ChannelPair.Open(spec ?? new TestChannelSpec { FundeeOptions = new ChannelOptions(ShutdownScript: FundeeCloseScript) });
        pair.ConfirmBoth();
        Assert.Equal(ChannelState.Normal, pair.A.State);
        Assert.Equal(ChannelState.Normal, pair.B.State);
        return pair;
    }

    public static byte[] Onion(byte tag) => Enumerable.Repeat(tag, UpdateAddHtlc.OnionPacketLength).ToArray();

    public static PaymentPreimage Preimage(int i) => new(new Bytes32(SHA256.HashData(BitConverter.GetBytes(i + 1000))));
}

/// <summary>One side of the pair and everything it emitted.</summary>
internal sealed class Side(string name, LocalChannelKeys keys, Channel channel)
{
    public string Name { get; } = name;

    public LocalChannelKeys Keys { get; } = keys;

    public Channel Channel { get; set; } = channel;

    public Queue<LightningMessage> Inbox { get; } = new();

    public List<ChannelMonitorUpdate> Updates { get; } = [];

    public List<ChannelEvent> Events { get; } = [];

    public Dictionary<ulong, uint256> RemoteCommitTxids { get; } = [];

    public Dictionary<ulong, uint256> LocalCommitTxids { get; } = [];
}

/// <summary>Two channels connected by an in-memory pump, with invariant checks on every output.</summary>
internal sealed class ChannelPair
{
    private readonly Dictionary<PaymentHash, PaymentPreimage> _preimages = [];

    private ChannelPair(Side a, Side b)
    {
        SideA = a;
        SideB = b;
    }

    public Side SideA { get; }

    public Side SideB { get; }

    public Channel A => SideA.Channel;

    public Channel B => SideB.Channel;

    public bool Connected { get; private set; } = true;

    /// <summary>Verify every commitment (finalize + script validation). Off in the big property runs.</summary>
    public bool VerifyTransactions { get; set; } = true;

    /// <summary>Round-trip Serialize/Deserialize after every step.</summary>
    public bool CheckRoundTrip { get; set; } = true;

    public static ChannelPair Open(TestChannelSpec spec)
    {
        var (funder, fundee) = ChannelFactory.Funded(spec);
        return Start(funder, ChannelFactory.KeysA, fundee, ChannelFactory.KeysB, spec.FunderOptions, spec.FundeeOptions);
    }

    /// <summary>A pair from any two matching funded channels (A is conventionally the funder).</summary>
    public static ChannelPair Start(FundedChannel fundedA, LocalChannelKeys keysA, FundedChannel fundedB, LocalChannelKeys keysB, ChannelOptions? optionsA = null, ChannelOptions? optionsB = null)
    {
        var a = Channel.FromFunded(fundedA, keysA, out var outA, optionsA);
        var b = Channel.FromFunded(fundedB, keysB, out var outB, optionsB);
        var pair = new ChannelPair(new Side("A", keysA, a), new Side("B", keysB, b));
        pair.Absorb(pair.SideA, outA);
        pair.Absorb(pair.SideB, outB);
        return pair;
    }

    public Side Other(Side side) => side == SideA ? SideB : SideA;

    public void ConfirmBoth()
    {
        Absorb(SideA, A.FundingConfirmed(3, ChannelFactory.Scid));
        Absorb(SideB, B.FundingConfirmed(3, ChannelFactory.Scid));
        Pump();
    }

    public void RememberPreimage(PaymentPreimage preimage) => _preimages[preimage.Hash] = preimage;

    public ulong Add(Side from, ulong amountMsat, int preimageIndex, uint cltv = 800_000)
    {
        var preimage = ChannelFactory.Preimage(preimageIndex);
        RememberPreimage(preimage);
        var output = from.Channel.AddHtlc(new MilliSatoshi(amountMsat), preimage.Hash, cltv, ChannelFactory.Onion((byte)preimageIndex), out var id);
        Absorb(from, output);
        return id;
    }

    public void Sign(Side side) => Absorb(side, side.Channel.SignCommitment());

    /// <summary>Delivers messages both ways until no message is in flight, signing whenever a side has changes.</summary>
    public void Settle(bool autoSign = true)
    {
        for (var round = 0; round < 1000; round++)
        {
            Pump();
            if (!autoSign)
            {
                return;
            }
            var signed = false;
            foreach (var side in new[] { SideA, SideB })
            {
                if (side.Channel.HasChangesToSign)
                {
                    Sign(side);
                    signed = true;
                }
            }
            if (!signed && SideA.Inbox.Count == 0 && SideB.Inbox.Count == 0)
            {
                return;
            }
        }
        throw new InvalidOperationException("The pair did not settle.");
    }

    /// <summary>Delivers every queued message (alternating sides) until both inboxes are empty.</summary>
    public void Pump()
    {
        while (SideA.Inbox.Count > 0 || SideB.Inbox.Count > 0)
        {
            if (SideA.Inbox.Count > 0)
            {
                DeliverOne(SideA);
            }
            if (SideB.Inbox.Count > 0)
            {
                DeliverOne(SideB);
            }
        }
    }

    /// <summary>Delivers the next message queued for <paramref name="to"/>.</summary>
    public void DeliverOne(Side to)
    {
        var message = to.Inbox.Dequeue();
        // Through the wire codec, as a real peer would.
        var decoded = LightningMessage.Decode(message.Encode());
        Absorb(to, to.Channel.Handle(decoded));
    }

    public void Disconnect()
    {
        Connected = false;
        SideA.Inbox.Clear();
        SideB.Inbox.Clear();
        Absorb(SideA, A.PeerDisconnected());
        Absorb(SideB, B.PeerDisconnected());
    }

    public void Reconnect()
    {
        Connected = true;
        var ra = A.CreateReestablish();
        var rb = B.CreateReestablish();
        SideB.Inbox.Enqueue(ra);
        SideA.Inbox.Enqueue(rb);
    }

    /// <summary>Takes an operation's output: checks update ids, verifies commitments, queues messages for the peer.</summary>
    public void Absorb(Side side, ChannelOutput output)
    {
        foreach (var update in output.MonitorUpdates)
        {
            var last = side.Updates.Count == 0 ? 0UL : side.Updates[^1].UpdateId;
            Assert.Equal(last + 1, update.UpdateId);
            side.Updates.Add(update);
            CheckUpdate(side, update);
        }
        side.Events.AddRange(output.Events);
        foreach (var e in output.Events)
        {
            if (e is HtlcFulfilled f)
            {
                RememberPreimage(f.Preimage);
            }
        }
        if (Connected)
        {
            foreach (var message in output.Messages)
            {
                Other(side).Inbox.Enqueue(message);
            }
        }
        if (CheckRoundTrip)
        {
            RoundTrip(side);
        }
    }

    public void RoundTrip(Side side)
    {
        var bytes = side.Channel.Serialize();
        var restored = Channel.Deserialize(bytes, side.Keys);
        Assert.Equal(bytes, restored.Serialize());
        side.Channel = restored;
    }

    private void CheckUpdate(Side side, ChannelMonitorUpdate update)
    {
        var p = side.Channel.Parameters;
        switch (update)
        {
            case LocalCommitmentUpdate u:
            {
                var commitment = p.BuildLocalCommitment(u.CommitmentNumber, side.Keys.PerCommitmentPoint(u.CommitmentNumber), u.FeeratePerKw, u.ToLocal, u.ToRemote, u.Htlcs);
                side.LocalCommitTxids[u.CommitmentNumber] = commitment.TxId;
                if (Other(side).RemoteCommitTxids.TryGetValue(u.CommitmentNumber, out var signedByPeer))
                {
                    Assert.Equal(signedByPeer, commitment.TxId);
                }
                Assert.Equal(p.FundingAmount.Satoshi * 1000, (long)u.Htlcs.Aggregate(u.ToLocal.Value + u.ToRemote.Value, (s, h) => s + h.Amount.Value));
                if (VerifyTransactions)
                {
                    VerifyLocalCommitment(side, commitment, u);
                }
                break;
            }
            case RemoteCommitmentUpdate u:
            {
                var commitment = p.BuildRemoteCommitment(u.CommitmentNumber, u.PerCommitmentPoint, u.FeeratePerKw, u.RemoteToLocal, u.RemoteToRemote, u.Htlcs);
                side.RemoteCommitTxids[u.CommitmentNumber] = commitment.TxId;
                if (Other(side).LocalCommitTxids.TryGetValue(u.CommitmentNumber, out var peerLocal))
                {
                    Assert.Equal(peerLocal, commitment.TxId);
                }
                break;
            }
        }
    }

    private void VerifyLocalCommitment(Side side, CommitmentTransaction commitment, LocalCommitmentUpdate u)
    {
        Assert.True(commitment.ActualFee >= commitment.BaseFee, "the commitment pays at least its base fee");
        var ours = Bolt3Signing.SignCommitment(commitment, side.Keys.FundingKey);
        var tx = Bolt3Signing.FinalizeCommitment(commitment, ours, u.RemoteCommitmentSignature);
        var error = tx.CreateValidator([commitment.FundingOutput]).ValidateInput(0).Error;
        Assert.True(error is null, $"{side.Name} commitment {u.CommitmentNumber}: {error}");
        var htlcTxs = HtlcTransactionBuilder.BuildAll(commitment);
        Assert.Equal(htlcTxs.Count, u.RemoteHtlcSignatures.Count);
        var htlcKey = KeyDerivation.DerivePrivateKey(side.Keys.HtlcBasepointSecret, side.Keys.PerCommitmentPoint(u.CommitmentNumber));
        for (var i = 0; i < htlcTxs.Count; i++)
        {
            var htlcTx = htlcTxs[i];
            Assert.True(Bolt3Signing.VerifyHtlc(htlcTx, u.RemoteHtlcSignatures[i], commitment.Keys.RemoteHtlcPubKey, signerIsCommitmentOwner: false));
            PaymentPreimage? preimage = null;
            if (htlcTx.IsSuccess)
            {
                if (!_preimages.TryGetValue(htlcTx.Htlc.PaymentHash, out var known))
                {
                    continue;
                }
                preimage = known;
            }
            var local = Bolt3Signing.SignHtlc(htlcTx, htlcKey, signerIsCommitmentOwner: true);
            var signed = Bolt3Signing.FinalizeHtlc(htlcTx, u.RemoteHtlcSignatures[i], local, preimage);
            var spent = new TxOut(htlcTx.SpentOutput.Amount, htlcTx.SpentOutput.ScriptPubKey);
            var htlcError = signed.CreateValidator([spent]).ValidateInput(0).Error;
            Assert.True(htlcError is null, $"{side.Name} HTLC tx {i} of commitment {u.CommitmentNumber}: {htlcError}");
        }
    }

    /// <summary>Both sides agree and every balance adds up (the invariants of the property test).</summary>
    public void AssertConsistent()
    {
        var capacityMsat = (ulong)A.Parameters.FundingAmount.Satoshi * 1000;
        foreach (var c in new[] { A, B })
        {
            Assert.True(c.LocalBalance.Value + c.RemoteBalance.Value <= capacityMsat);
        }
        // When quiet (nothing in flight, nothing to sign), both local commitments are mirror images.
        if (SideA.Inbox.Count == 0 && SideB.Inbox.Count == 0 && !A.HasChangesToSign && !B.HasChangesToSign && Connected && !A.IsOffline && !B.IsOffline)
        {
            Assert.Equal(A.LocalBalance, B.RemoteBalance);
            Assert.Equal(A.RemoteBalance, B.LocalBalance);
            Assert.Equal(A.FeeratePerKw, B.FeeratePerKw);
            var outA = A.Htlcs.Where(h => h.Direction == ChannelHtlcDirection.Outgoing).Select(h => (h.Id, h.Amount)).ToList();
            var inB = B.Htlcs.Where(h => h.Direction == ChannelHtlcDirection.Incoming).Select(h => (h.Id, h.Amount)).ToList();
            Assert.Equal(outA, inB);
            var inflight = A.Htlcs.Aggregate(0UL, (s, h) => s + h.Amount.Value);
            Assert.Equal(capacityMsat, A.LocalBalance.Value + A.RemoteBalance.Value + inflight);
        }
    }
}
