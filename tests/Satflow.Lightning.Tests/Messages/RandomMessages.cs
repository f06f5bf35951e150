using System.Net;
using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Messages;

/// <summary>Builds random but valid instances of every message type (deterministic for a given seed).</summary>
internal static class RandomMessages
{
    private static readonly Key[] Keys = [.. Enumerable.Range(1, 6).Select(i => new Key(Enumerable.Repeat((byte)i, 32).ToArray()))];
    private static readonly Point[] Points = [.. Keys.Select(k => new Point(k.PubKey))];
    private static readonly NodeId[] NodeIds = [.. Keys.Select(k => new NodeId(k.PubKey))];

    private static readonly Func<Random, LightningMessage>[] Factories =
    [
        r => new Init(Features(r), Features(r)) { Networks = r.Next(3) == 0 ? null : [.. Enumerable.Range(0, r.Next(3)).Select(_ => new ChainHash(B32(r)))], RemoteAddress = r.Next(2) == 0 ? null : Address(r), UnknownTlvs = Unknown(r) },
        r => new Error(Cid(r), Bytes(r, 40)) { UnknownTlvs = Unknown(r) },
        r => new Warning(Cid(r), Bytes(r, 40)) { UnknownTlvs = Unknown(r) },
        r => new Ping(U16(r), Bytes(r, 40)) { UnknownTlvs = Unknown(r) },
        r => new Pong(Bytes(r, 40)) { UnknownTlvs = Unknown(r) },
        r => new PeerStorage(Bytes(r, 100)) { UnknownTlvs = Unknown(r) },
        r => new PeerStorageRetrieval(Bytes(r, 100)) { UnknownTlvs = Unknown(r) },
        r => new OpenChannel(new ChainHash(B32(r)), Cid(r), Sat(r), Msat(r), Sat(r), Msat(r), Sat(r), Msat(r), U32(r), U16(r), U16(r), ChannelKeys(r), (byte)r.Next(256))
        {
            UpfrontShutdownScript = MaybeBytes(r), ChannelType = r.Next(2) == 0 ? null : Features(r), UnknownTlvs = Unknown(r),
        },
        r => new AcceptChannel(Cid(r), Sat(r), Msat(r), Sat(r), Msat(r), U32(r), U16(r), U16(r), ChannelKeys(r))
        {
            UpfrontShutdownScript = MaybeBytes(r), ChannelType = r.Next(2) == 0 ? null : Features(r), UnknownTlvs = Unknown(r),
        },
        r => new FundingCreated(Cid(r), Txid(r), U16(r), Sig(r)) { UnknownTlvs = Unknown(r) },
        r => new FundingSigned(Cid(r), Sig(r)) { UnknownTlvs = Unknown(r) },
        r => new ChannelReady(Cid(r), Pt(r)) { Alias = r.Next(2) == 0 ? null : new ShortChannelId(U64(r)), UnknownTlvs = Unknown(r) },
        r => new OpenChannel2(new ChainHash(B32(r)), Cid(r), U32(r), U32(r), Sat(r), Sat(r), Msat(r), Msat(r), U16(r), U16(r), U32(r), ChannelKeys(r), Pt(r), (byte)r.Next(256))
        {
            UpfrontShutdownScript = MaybeBytes(r), ChannelType = r.Next(2) == 0 ? null : Features(r), RequireConfirmedInputs = r.Next(2) == 0, UnknownTlvs = Unknown(r),
        },
        r => new AcceptChannel2(Cid(r), Sat(r), Sat(r), Msat(r), Msat(r), U32(r), U16(r), U16(r), ChannelKeys(r), Pt(r))
        {
            UpfrontShutdownScript = MaybeBytes(r), ChannelType = r.Next(2) == 0 ? null : Features(r), RequireConfirmedInputs = r.Next(2) == 0, UnknownTlvs = Unknown(r),
        },
        r => new TxAddInput(Cid(r), U64(r), Bytes(r, 200), U32(r), U32(r)) { SharedInputTxid = r.Next(2) == 0 ? null : Txid(r), UnknownTlvs = Unknown(r) },
        r => new TxAddOutput(Cid(r), U64(r), Sat(r), Bytes(r, 40)) { UnknownTlvs = Unknown(r) },
        r => new TxRemoveInput(Cid(r), U64(r)) { UnknownTlvs = Unknown(r) },
        r => new TxRemoveOutput(Cid(r), U64(r)) { UnknownTlvs = Unknown(r) },
        r => new TxComplete(Cid(r)) { UnknownTlvs = Unknown(r) },
        r => new TxSignatures(Cid(r), Txid(r), [.. Enumerable.Range(0, r.Next(4)).Select(_ => (ReadOnlyMemory<byte>)Bytes(r, 120))])
        {
            SharedInputSignature = r.Next(2) == 0 ? null : Sig(r), UnknownTlvs = Unknown(r),
        },
        r => new TxInitRbf(Cid(r), U32(r), U32(r)) { FundingOutputContribution = r.Next(2) == 0 ? null : (long)U64(r), RequireConfirmedInputs = r.Next(2) == 0, UnknownTlvs = Unknown(r) },
        r => new TxAckRbf(Cid(r)) { FundingOutputContribution = r.Next(2) == 0 ? null : (long)U64(r), RequireConfirmedInputs = r.Next(2) == 0, UnknownTlvs = Unknown(r) },
        r => new TxAbort(Cid(r), Bytes(r, 40)) { UnknownTlvs = Unknown(r) },
        r => new Stfu(Cid(r), (byte)r.Next(2)) { UnknownTlvs = Unknown(r) },
        r => new SpliceInit(Cid(r), (long)U64(r), U32(r), U32(r), Pt(r)) { RequireConfirmedInputs = r.Next(2) == 0, UnknownTlvs = Unknown(r) },
        r => new SpliceAck(Cid(r), (long)U64(r), Pt(r)) { RequireConfirmedInputs = r.Next(2) == 0, UnknownTlvs = Unknown(r) },
        r => new SpliceLocked(Cid(r), Txid(r)) { UnknownTlvs = Unknown(r) },
        r => new Shutdown(Cid(r), Bytes(r, 34)) { UnknownTlvs = Unknown(r) },
        r => new ClosingSigned(Cid(r), Sat(r), Sig(r)) { FeeRange = r.Next(2) == 0 ? null : new ClosingFeeRange(Sat(r), Sat(r)), UnknownTlvs = Unknown(r) },
        r => new ClosingComplete
        {
            ChannelId = Cid(r), CloserScriptPubKey = Bytes(r, 34), CloseeScriptPubKey = Bytes(r, 34), FeeSatoshis = Sat(r), Locktime = U32(r),
            CloserOutputOnly = MaybeSig(r), CloseeOutputOnly = MaybeSig(r), CloserAndCloseeOutputs = MaybeSig(r), UnknownTlvs = Unknown(r),
        },
        r => new ClosingSig
        {
            ChannelId = Cid(r), CloserScriptPubKey = Bytes(r, 34), CloseeScriptPubKey = Bytes(r, 34), FeeSatoshis = Sat(r), Locktime = U32(r),
            CloserOutputOnly = MaybeSig(r), CloseeOutputOnly = MaybeSig(r), CloserAndCloseeOutputs = MaybeSig(r), UnknownTlvs = Unknown(r),
        },
        r => new StartBatch(Cid(r), U16(r)) { BatchedMessageType = r.Next(2) == 0 ? null : U16(r), UnknownTlvs = Unknown(r) },
        r => new UpdateAddHtlc(Cid(r), U64(r), Msat(r), new PaymentHash(B32(r)), U32(r), FixedBytes(r, UpdateAddHtlc.OnionPacketLength))
        {
            PathKey = r.Next(2) == 0 ? null : Pt(r), UnknownTlvs = Unknown(r),
        },
        r => new UpdateFulfillHtlc(Cid(r), U64(r), new PaymentPreimage(B32(r))) { AttributionData = MaybeAttribution(r), UnknownTlvs = Unknown(r) },
        r => new UpdateFailHtlc(Cid(r), U64(r), Bytes(r, 300)) { AttributionData = MaybeAttribution(r), UnknownTlvs = Unknown(r) },
        r => new UpdateFailMalformedHtlc(Cid(r), U64(r), B32(r), U16(r)) { UnknownTlvs = Unknown(r) },
        r => new CommitmentSigned(Cid(r), Sig(r), [.. Enumerable.Range(0, r.Next(5)).Select(_ => Sig(r))]) { FundingTxid = r.Next(2) == 0 ? null : Txid(r), UnknownTlvs = Unknown(r) },
        r => new RevokeAndAck(Cid(r), B32(r), Pt(r)) { UnknownTlvs = Unknown(r) },
        r => new UpdateFee(Cid(r), U32(r)) { UnknownTlvs = Unknown(r) },
        r => new ChannelReestablish(Cid(r), U64(r), U64(r), B32(r), Pt(r))
        {
            NextFunding = r.Next(2) == 0 ? null : new FundingTxidWithFlags(Txid(r), (byte)r.Next(256)),
            MyCurrentFundingLocked = r.Next(2) == 0 ? null : new FundingTxidWithFlags(Txid(r), (byte)r.Next(256)),
            UnknownTlvs = Unknown(r),
        },
        r => new AnnouncementSignatures(Cid(r), new ShortChannelId(U64(r)), Sig(r), Sig(r)) { UnknownTlvs = Unknown(r) },
        r => new ChannelAnnouncement(Sig(r), Sig(r), Sig(r), Sig(r), Features(r).ToBytes(), new ChainHash(B32(r)), new ShortChannelId(U64(r)), Nid(r), Nid(r), Pt(r), Pt(r), Bytes(r, 20)),
        r => new NodeAnnouncement(
            Sig(r), Features(r).ToBytes(), U32(r), Nid(r), new RgbColor((byte)r.Next(256), (byte)r.Next(256), (byte)r.Next(256)), B32(r),
            [.. Enumerable.Range(0, r.Next(4)).Select(_ => Address(r, announceable: true))], r.Next(3) == 0 ? new byte[] { 0x2a, 1, 2 } : Array.Empty<byte>(), Bytes(r, 20)),
        r => new ChannelUpdate(Sig(r), new ChainHash(B32(r)), new ShortChannelId(U64(r)), U32(r), (byte)r.Next(256), (byte)r.Next(256), U16(r), Msat(r), U32(r), U32(r), Msat(r), Bytes(r, 20)),
        r => new QueryShortChannelIds(new ChainHash(B32(r)), Scids(r, out var n)) { QueryFlags = r.Next(2) == 0 ? null : [.. Enumerable.Range(0, n).Select(_ => U64(r) >> r.Next(64))], UnknownTlvs = Unknown(r) },
        r => new ReplyShortChannelIdsEnd(new ChainHash(B32(r)), (byte)r.Next(2)) { UnknownTlvs = Unknown(r) },
        r => new QueryChannelRange(new ChainHash(B32(r)), U32(r), U32(r)) { QueryOptionFlags = r.Next(2) == 0 ? null : U64(r) >> r.Next(64), UnknownTlvs = Unknown(r) },
        r => new ReplyChannelRange(new ChainHash(B32(r)), U32(r), U32(r), (byte)r.Next(2), Scids(r, out var n))
        {
            Timestamps = r.Next(2) == 0 ? null : [.. Enumerable.Range(0, n).Select(_ => new ChannelUpdateTimestamps(U32(r), U32(r)))],
            Checksums = r.Next(2) == 0 ? null : [.. Enumerable.Range(0, n).Select(_ => new ChannelUpdateChecksums(U32(r), U32(r)))],
            UnknownTlvs = Unknown(r),
        },
        r => new GossipTimestampFilter(new ChainHash(B32(r)), U32(r), U32(r)) { UnknownTlvs = Unknown(r) },
        r => new UnknownMessage(UnknownOddType(r), Bytes(r, 50)),
        r => new OnionMessageWire(new Satflow.Lightning.Onion.OnionMessage(
            NBitcoin.Secp256k1.ECPrivKey.Create(System.Security.Cryptography.SHA256.HashData(FixedBytes(r, 32))).CreatePubKey(),
            Satflow.Lightning.Onion.OnionPacket.Parse(FixedBytes(r, 66 + r.Next(1400))))),
    ];

    public static int KindCount => Factories.Length;

    /// <summary>Every type the decoder knows: an unknown message must use none of them, or it decodes as that type.</summary>
    private static readonly HashSet<ushort> KnownTypes = [.. typeof(MessageTypes).GetFields().Select(f => (ushort)f.GetValue(null)!)];

    /// <summary>An odd type that no known message uses (257, 259, ... 513 are known odd types).</summary>
    private static ushort UnknownOddType(Random r)
    {
        ushort type;
        do
        {
            type = (ushort)((r.Next(100, 32000) * 2) + 1);
        }
        while (KnownTypes.Contains(type));
        return type;
    }

    public static LightningMessage Create(int kind, int seed) => Factories[kind](new Random(seed));

    /// <summary>A sample of every kind, encoded.</summary>
    public static IEnumerable<byte[]> EncodedSamples(int perKind)
    {
        for (var kind = 0; kind < Factories.Length; kind++)
        {
            for (var seed = 0; seed < perKind; seed++)
            {
                yield return Create(kind, seed).Encode();
            }
        }
    }

    private static byte[] Bytes(Random r, int max) => FixedBytes(r, r.Next(max + 1));

    private static byte[] FixedBytes(Random r, int length)
    {
        var bytes = new byte[length];
        r.NextBytes(bytes);
        return bytes;
    }

    private static ReadOnlyMemory<byte>? MaybeBytes(Random r) => r.Next(2) == 0 ? null : Bytes(r, 34);

    private static Bytes32 B32(Random r) => new(FixedBytes(r, 32));

    private static ChannelId Cid(Random r) => new(B32(r));

    private static uint256 Txid(Random r) => new(FixedBytes(r, 32));

    private static Signature64 Sig(Random r) => Signature64.FromBytes(FixedBytes(r, 64));

    private static Signature64? MaybeSig(Random r) => r.Next(2) == 0 ? null : Sig(r);

    private static Point Pt(Random r) => Points[r.Next(Points.Length)];

    private static NodeId Nid(Random r) => NodeIds[r.Next(NodeIds.Length)];

    private static ulong U64(Random r) => (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63);

    private static uint U32(Random r) => (uint)U64(r);

    private static ushort U16(Random r) => (ushort)U64(r);

    private static Satoshis Sat(Random r) => new(U64(r));

    private static MilliSatoshi Msat(Random r) => new(U64(r));

    private static ChannelKeys ChannelKeys(Random r) => new(Pt(r), Pt(r), Pt(r), Pt(r), Pt(r), Pt(r));

    private static FeatureBits Features(Random r) => FeatureBits.Of(Enumerable.Range(0, r.Next(6)).Select(_ => r.Next(r.Next(2) == 0 ? 64 : 400)));

    private static AttributionData? MaybeAttribution(Random r) =>
        r.Next(2) == 0 ? null : new AttributionData([.. Enumerable.Range(0, AttributionData.HoldTimeCount).Select(_ => U32(r))], FixedBytes(r, AttributionData.HmacsLength));

    private static List<ShortChannelId> Scids(Random r, out int count)
    {
        count = r.Next(6);
        return [.. Enumerable.Range(0, count).Select(_ => new ShortChannelId(U64(r)))];
    }

    private static NetworkAddress Address(Random r, bool announceable = false) => r.Next(announceable ? 5 : 6) switch
    {
        0 => new IPv4NetworkAddress(new IPAddress(FixedBytes(r, 4)), U16(r)),
        1 => new IPv6NetworkAddress(new IPAddress(FixedBytes(r, 16)), U16(r)),
        2 => new TorV3NetworkAddress(FixedBytes(r, TorV3NetworkAddress.KeyLength), U16(r)),
        3 => new DnsHostnameNetworkAddress(new string('a', r.Next(1, 40)) + ".example", U16(r)),
        4 => new OpaqueNetworkAddress(3, FixedBytes(r, 12)),
        _ => new OpaqueNetworkAddress((byte)r.Next(6, 256), Bytes(r, 20)),
    };

    private static IReadOnlyList<TlvRecord> Unknown(Random r)
    {
        var count = r.Next(3);
        var types = new SortedSet<ulong>();
        while (types.Count < count)
        {
            types.Add((((ulong)r.Next(50, 1_000_000)) * 2) + 1);
        }
        return [.. types.Select(t => new TlvRecord(t, Bytes(r, 20)))];
    }
}
