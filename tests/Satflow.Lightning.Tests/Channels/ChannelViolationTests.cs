using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

/// <summary>Every receiver-side BOLT 2 violation throws <see cref="ChannelProtocolException"/> and changes nothing.</summary>
public sealed class ChannelViolationTests
{
    private static void Violation(Channel channel, LightningMessage message)
    {
        var before = channel.Serialize();
        Assert.Throws<ChannelProtocolException>(() => channel.Handle(message));
        Assert.Equal(before, channel.Serialize());
    }

    private static UpdateAddHtlc Add(Channel to, ulong id, ulong amount, uint cltv = 800_000) =>
        new(to.ChannelId, id, new MilliSatoshi(amount), ChannelFactory.Preimage(1).Hash, cltv, ChannelFactory.Onion(1));

    /// <summary>A proposes one HTLC and signs; the commitment_signed is returned instead of delivered.</summary>
    private static (ChannelPair Pair, CommitmentSigned Commit) SignedButUndelivered(int htlcs = 2)
    {
        var pair = ChannelFactory.NormalPair();
        for (var i = 0; i < htlcs; i++)
        {
            pair.Add(pair.SideA, 5_000_000 + ((ulong)i * 1_000_000), i);
        }
        pair.Pump();
        var sign = pair.A.SignCommitment();
        return (pair, Assert.IsType<CommitmentSigned>(Assert.Single(sign.Messages)));
    }

    [Fact]
    public void BadCommitmentSignature()
    {
        var (pair, commit) = SignedButUndelivered();
        var bogus = Signature64.FromBytes(new Key().Sign(uint256.One, useLowR: false).ToCompact());
        Violation(pair.B, commit with { Signature = bogus });
        Violation(pair.B, commit with { Signature = Signature64.FromBytes(new byte[64]) });
        // The genuine one still works afterwards.
        pair.B.Handle(commit);
    }

    [Fact]
    public void BadHtlcSignatures()
    {
        var (pair, commit) = SignedButUndelivered();
        Violation(pair.B, commit with { HtlcSignatures = [commit.HtlcSignatures[1], commit.HtlcSignatures[0]] });
        Violation(pair.B, commit with { HtlcSignatures = [commit.HtlcSignatures[0]] });
        Violation(pair.B, commit with { HtlcSignatures = [.. commit.HtlcSignatures, commit.HtlcSignatures[0]] });
    }

    [Fact]
    public void CommitmentSignedWithoutChanges()
    {
        var (pair, commit) = SignedButUndelivered();
        pair.B.Handle(commit);
        Violation(pair.B, commit);
    }

    [Fact]
    public void WrongPreimageAndUnknownIds()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 5_000_000, 1);
        pair.Settle();
        Violation(pair.A, new UpdateFulfillHtlc(pair.A.ChannelId, 0, ChannelFactory.Preimage(2)));
        Violation(pair.A, new UpdateFulfillHtlc(pair.A.ChannelId, 3, ChannelFactory.Preimage(1)));
        Violation(pair.A, new UpdateFailHtlc(pair.A.ChannelId, 3, new byte[] { 1 }));
        Violation(pair.A, new UpdateFailMalformedHtlc(pair.A.ChannelId, 0, default, 0x4005));
        // Settling one of our own incoming... B has no outgoing HTLCs.
        Violation(pair.B, new UpdateFulfillHtlc(pair.B.ChannelId, 0, ChannelFactory.Preimage(1)));
        pair.A.Handle(new UpdateFailHtlc(pair.A.ChannelId, 0, new byte[] { 1 }));
        Violation(pair.A, new UpdateFulfillHtlc(pair.A.ChannelId, 0, ChannelFactory.Preimage(1)));
    }

    [Fact]
    public void UpdateFeeFromFundeeOrOutOfBounds()
    {
        var pair = ChannelFactory.NormalPair();
        Violation(pair.A, new UpdateFee(pair.A.ChannelId, 3000));
        Violation(pair.B, new UpdateFee(pair.B.ChannelId, 100));
        Violation(pair.B, new UpdateFee(pair.B.ChannelId, 1_000_000));
        var poor = ChannelFactory.NormalPair(new TestChannelSpec { PushMsat = 980_000_000, FundeeOptions = new ChannelOptions(MaxFeeratePerKw: 1_000_000) });
        Violation(poor.B, new UpdateFee(poor.B.ChannelId, 50_000));
    }

    [Fact]
    public void AddViolations()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec
        {
            FundeeLimits = TestChannelSpec.DefaultLimits with { MaxHtlcValueInFlight = new MilliSatoshi(50_000_000), MaxAcceptedHtlcs = 2 },
        });
        var b = pair.B;
        Violation(b, Add(b, 5, 1_000_000));
        Violation(b, Add(b, 0, 0));
        Violation(b, Add(b, 0, 999));
        Violation(b, Add(b, 0, 50_000_001));
        Violation(b, Add(b, 0, 1_000_000, cltv: 500_000_000));
        Violation(b, Add(b, 0, 1_000_000) with { OnionRoutingPacket = new byte[10] });
        b.Handle(Add(b, 0, 1_000_000));
        b.Handle(Add(b, 1, 1_000_000));
        Violation(b, Add(b, 2, 1_000_000));
        // The fundee's HTLC beyond its balance minus reserve (A receives).
        var a = pair.A;
        Violation(a, Add(a, 0, 190_000_001));
        a.Handle(Add(a, 0, 190_000_000));
    }

    [Fact]
    public void PeerOverdrawingWithoutReserve()
    {
        var noReserve = TestChannelSpec.DefaultLimits with { ChannelReserve = Money.Zero };
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderLimits = noReserve, FundeeLimits = noReserve });
        Violation(pair.A, Add(pair.A, 0, 200_000_001));
        pair.A.Handle(Add(pair.A, 0, 200_000_000));
    }

    [Fact]
    public void FunderCannotAffordAnIncomingHtlcsFee()
    {
        // The funder (A) keeps 3 600 sat; the fundee offers an untrimmed HTLC: the funder cannot pay the bigger fee.
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { PushMsat = 996_400_000 });
        var a = pair.A;
        var before = a.Serialize();
        // BOLT 2 only requires checking the sender's affordability; the funder's own fee is the sender's concern here.
        a.Handle(Add(a, 0, 5_000_000));
        Assert.NotEqual(before, a.Serialize());
        // A's funds as receiver are fine, but the fundee must keep its reserve: way too big fails.
        Violation(a, Add(a, 1, 990_000_000));
    }

    [Fact]
    public void RevocationViolations()
    {
        var (pair, commit) = SignedButUndelivered();
        Violation(pair.A, new RevokeAndAck(pair.A.ChannelId, ChannelFactory.KeysA.PerCommitmentSecret(0), new Point(ChannelFactory.KeysB.PerCommitmentPoint(2))));
        var revoke = Assert.IsType<RevokeAndAck>(pair.B.Handle(commit).Messages[0]);
        Violation(pair.A, revoke with { PerCommitmentSecret = ChannelFactory.KeysB.PerCommitmentSecret(1) });
        Violation(pair.A, revoke with { PerCommitmentSecret = new Bytes32(new byte[32]) });
        pair.A.Handle(revoke);
        Violation(pair.A, revoke);
    }

    [Fact]
    public void StateViolations()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec());
        Violation(pair.A, pair.B.CreateReestablish());
        Violation(pair.A, new ClosingSigned(pair.A.ChannelId, new Satoshis(1000), Signature64.FromBytes(new byte[64])));
        Violation(pair.A, new OpenChannelLike(pair.A.ChannelId).Message);
        pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        pair.Pump();
        Violation(pair.B, Add(pair.B, 0, 1_000_000));
        Violation(pair.B, new Shutdown(pair.B.ChannelId, new Key().PubKey.WitHash.ScriptPubKey.ToBytes()));
        var fresh = ChannelPair.Open(new TestChannelSpec());
        Violation(fresh.B, Add(fresh.B, 0, 1_000_000));
        Violation(fresh.B, new Shutdown(fresh.B.ChannelId, new Key().PubKey.ScriptPubKey.ToBytes()));
    }

    [Fact]
    public void OfflineChannelOnlyAcceptsReestablish()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Disconnect();
        Violation(pair.B, Add(pair.B, 0, 1_000_000));
    }

    private sealed record OpenChannelLike(ChannelId Id)
    {
        public LightningMessage Message => new TxAbort(Id, new byte[] { 1 });
    }
}
