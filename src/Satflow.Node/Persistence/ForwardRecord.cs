using System.Buffers.Binary;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Node.Persistence;

/// <summary>Where a forwarded HTLC stands.</summary>
public enum ForwardStatus
{
    /// <summary>The outgoing HTLC is offered and not resolved yet.</summary>
    Pending = 0,

    /// <summary>The outgoing HTLC was fulfilled: the preimage settles the incoming HTLC and we earned the fee.</summary>
    Settled = 1,

    /// <summary>The forward failed (refused by our policy, or failed downstream): the incoming HTLC is failed back.</summary>
    Failed = 2,
}

/// <summary>
/// One HTLC this node was asked to forward, as stored under <c>node/forwards/&lt;incoming channel id hex&gt;-&lt;incoming htlc id&gt;</c>:
/// the incoming and outgoing HTLCs, the shared secret of the incoming onion (to wrap a failure back), the outcome and
/// its times. Written in the same batch as the outgoing <c>update_add_htlc</c> (or as the incoming failure when our
/// policy refused it), and rewritten in the batch that learns the outcome, before the incoming HTLC is settled.
/// </summary>
/// <param name="IncomingChannelId">The channel the HTLC came in on.</param>
/// <param name="IncomingHtlcId">Its HTLC id there.</param>
/// <param name="IncomingShortChannelId">The incoming channel's short id, when known.</param>
/// <param name="IncomingAmount">The incoming amount.</param>
/// <param name="IncomingCltvExpiry">The incoming expiry.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="SharedSecret">The shared secret of the incoming onion layer we peeled.</param>
/// <param name="ReceivedAt">When we decided to forward (or refused).</param>
public sealed record ForwardRecord(
    ChannelId IncomingChannelId,
    ulong IncomingHtlcId,
    ShortChannelId? IncomingShortChannelId,
    MilliSatoshi IncomingAmount,
    uint IncomingCltvExpiry,
    PaymentHash PaymentHash,
    Bytes32 SharedSecret,
    DateTimeOffset ReceivedAt)
{
    /// <summary>Secondary namespace (under <see cref="NodeStore.PrimaryNamespace"/>) of forward records.</summary>
    public const string Namespace = "forwards";

    /// <summary>The encoding version.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>The channel the HTLC went out on (null when refused before choosing one).</summary>
    public ChannelId? OutgoingChannelId { get; init; }

    /// <summary>The outgoing HTLC id (null when none was offered).</summary>
    public ulong? OutgoingHtlcId { get; init; }

    /// <summary>The outgoing channel's short id: the one the onion asked for, or the channel used.</summary>
    public ShortChannelId? OutgoingShortChannelId { get; init; }

    /// <summary>The outgoing amount (the onion's <c>amt_to_forward</c>).</summary>
    public MilliSatoshi OutgoingAmount { get; init; }

    /// <summary>The outgoing expiry (the onion's <c>outgoing_cltv_value</c>).</summary>
    public uint OutgoingCltvExpiry { get; init; }

    /// <summary>The status.</summary>
    public ForwardStatus Status { get; init; }

    /// <summary>When the outcome was learned.</summary>
    public DateTimeOffset? ResolvedAt { get; init; }

    /// <summary>Why it failed (a BOLT 4 failure name and detail), for failed forwards.</summary>
    public string? FailureReason { get; init; }

    /// <summary>The preimage, once the outgoing HTLC was fulfilled.</summary>
    public PaymentPreimage? Preimage { get; init; }

    /// <summary>The failure packet to return upstream (already wrapped with our layer), for failed forwards.</summary>
    public ReadOnlyMemory<byte>? FailurePacket { get; init; }

    /// <summary>The <c>attribution_data</c> to return with <see cref="FailurePacket"/>.</summary>
    public ReadOnlyMemory<byte>? AttributionData { get; init; }

    /// <summary>What we earn: the incoming minus the outgoing amount (zero unless settled).</summary>
    public MilliSatoshi FeeEarned => Status == ForwardStatus.Settled && IncomingAmount >= OutgoingAmount ? IncomingAmount - OutgoingAmount : MilliSatoshi.Zero;

    /// <summary>The record's store key.</summary>
    public string Key => NodeStore.KeyOf(IncomingChannelId, IncomingHtlcId);

    /// <summary>An operation writing the record.</summary>
    public KvOperation Write() => KvOperation.Write(NodeStore.PrimaryNamespace, Namespace, Key, Encode());

    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var writer = new List<byte>(256) { CurrentVersion };
        void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, v);
            writer.AddRange(b.ToArray());
        }
        void Blob(ReadOnlySpan<byte> bytes)
        {
            U64((ulong)bytes.Length);
            writer.AddRange(bytes.ToArray());
        }
        void Flag(bool present) => writer.Add(present ? (byte)1 : (byte)0);
        writer.AddRange(IncomingChannelId.Value.ToArray());
        U64(IncomingHtlcId);
        U64(IncomingShortChannelId?.Value ?? 0);
        U64(IncomingAmount.Value);
        U64(IncomingCltvExpiry);
        writer.AddRange(PaymentHash.Value.ToArray());
        writer.AddRange(SharedSecret.ToArray());
        U64((ulong)ReceivedAt.ToUnixTimeMilliseconds());
        Flag(OutgoingChannelId is not null);
        writer.AddRange((OutgoingChannelId?.Value ?? Bytes32.Zero).ToArray());
        Flag(OutgoingHtlcId is not null);
        U64(OutgoingHtlcId ?? 0);
        U64(OutgoingShortChannelId?.Value ?? 0);
        U64(OutgoingAmount.Value);
        U64(OutgoingCltvExpiry);
        writer.Add((byte)Status);
        Flag(ResolvedAt is not null);
        U64((ulong)(ResolvedAt?.ToUnixTimeMilliseconds() ?? 0));
        Flag(FailureReason is not null);
        Blob(System.Text.Encoding.UTF8.GetBytes(FailureReason ?? ""));
        Flag(Preimage is not null);
        writer.AddRange((Preimage?.Value ?? Bytes32.Zero).ToArray());
        Flag(FailurePacket is not null);
        Blob(FailurePacket is { } packet ? packet.Span : default);
        Flag(AttributionData is not null);
        Blob(AttributionData is { } attribution ? attribution.Span : default);
        return [.. writer];
    }

    /// <summary>Decodes a record.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Truncated, of an unknown version, or holding an invalid field.</exception>
    public static ForwardRecord Decode(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        if (r.Byte() != CurrentVersion)
        {
            throw new NodeStateCorruptException($"A forward record needs version {CurrentVersion}.");
        }
        var incoming = new ChannelId(r.B32());
        var htlc = r.U64();
        var incomingScid = r.U64();
        var amount = new MilliSatoshi(r.U64());
        var expiry = r.U32From64();
        var hash = new PaymentHash(r.B32());
        var secret = r.B32();
        var received = r.Time();
        var hasOutChannel = r.Flag();
        var outChannel = new ChannelId(r.B32());
        var hasOutHtlc = r.Flag();
        var outHtlc = r.U64();
        var outScid = r.U64();
        var outAmount = new MilliSatoshi(r.U64());
        var outExpiry = r.U32From64();
        var status = r.Byte();
        if (status > (byte)ForwardStatus.Failed)
        {
            throw new NodeStateCorruptException("A forward record has an unknown status.");
        }
        var hasResolved = r.Flag();
        var resolved = r.Time();
        var hasReason = r.Flag();
        var reason = r.Blob();
        var hasPreimage = r.Flag();
        var preimage = r.B32();
        var hasPacket = r.Flag();
        var packet = r.Blob();
        var hasAttribution = r.Flag();
        var attribution = r.Blob();
        r.End();
        string? reasonText;
        try
        {
            reasonText = hasReason ? new System.Text.UTF8Encoding(false, true).GetString(reason) : null;
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new NodeStateCorruptException("A forward record's failure reason is not UTF-8.", e);
        }
        return new ForwardRecord(incoming, htlc, incomingScid == 0 ? null : new ShortChannelId(incomingScid), amount, expiry, hash, secret, received)
        {
            OutgoingChannelId = hasOutChannel ? outChannel : null,
            OutgoingHtlcId = hasOutHtlc ? outHtlc : null,
            OutgoingShortChannelId = outScid == 0 ? null : new ShortChannelId(outScid),
            OutgoingAmount = outAmount,
            OutgoingCltvExpiry = outExpiry,
            Status = (ForwardStatus)status,
            ResolvedAt = hasResolved ? resolved : null,
            FailureReason = reasonText,
            Preimage = hasPreimage ? new PaymentPreimage(preimage) : null,
            FailurePacket = hasPacket ? (ReadOnlyMemory<byte>?)packet : null,
            AttributionData = hasAttribution ? (ReadOnlyMemory<byte>?)attribution : null,
        };
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        private ReadOnlySpan<byte> Take(int length)
        {
            if (length < 0 || _rest.Length < length)
            {
                throw new NodeStateCorruptException("A forward record is truncated.");
            }
            var taken = _rest[..length];
            _rest = _rest[length..];
            return taken;
        }

        public byte Byte() => Take(1)[0];

        public bool Flag() => Byte() switch
        {
            0 => false,
            1 => true,
            _ => throw new NodeStateCorruptException("A forward record has an invalid flag."),
        };

        public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

        public uint U32From64()
        {
            var value = U64();
            return value <= uint.MaxValue ? (uint)value : throw new NodeStateCorruptException("A forward record's expiry is out of range.");
        }

        public Bytes32 B32() => new(Take(32));

        public DateTimeOffset Time()
        {
            var ms = U64();
            return ms <= 253_402_300_799_999UL ? DateTimeOffset.FromUnixTimeMilliseconds((long)ms) : throw new NodeStateCorruptException("A forward record's time is out of range.");
        }

        public byte[] Blob()
        {
            var length = U64();
            return length <= int.MaxValue ? Take((int)length).ToArray() : throw new NodeStateCorruptException("A forward record's blob is too long.");
        }

        public readonly void End()
        {
            if (!_rest.IsEmpty)
            {
                throw new NodeStateCorruptException("A forward record has trailing bytes.");
            }
        }
    }
}
