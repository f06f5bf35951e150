using System.Buffers.Binary;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;

namespace Satflow.Node.Payments;

/// <summary>
/// What the node keeps of a payment session so that parts still in flight after a restart resolve the payment correctly:
/// the session's parameters (payee, amount, secret, keysend preimage, limits, route hints) and the number of parts sent
/// so far (part ids continue from it). The parts themselves live in the offered-HTLC records. Versioned binary encoding.
/// </summary>
/// <param name="Parameters">The session's parameters.</param>
/// <param name="KeysendPreimage">The keysend preimage (spontaneous payments), or null.</param>
/// <param name="Attempts">Parts sent so far.</param>
internal sealed record PaymentSessionRecord(PaymentParameters Parameters, PaymentPreimage? KeysendPreimage, int Attempts)
{
    /// <summary>The encoding written by <see cref="Encode"/>.</summary>
    public const byte CurrentVersion = 1;

    private const int HintHopLength = 33 + 8 + 4 + 4 + 2;

    public byte[] Encode()
    {
        var p = Parameters;
        var hints = p.RouteHints ?? [];
        if (hints.Count > byte.MaxValue || hints.Any(h => h.Count > byte.MaxValue))
        {
            throw new InvalidOperationException("At most 255 route hints of at most 255 hops are stored.");
        }
        var length = 1 + 33 + 8 + 33 + 33 + 4 + 8 + 9 + 4 + 1 + 4 + 4 + 4 + 1 + hints.Sum(h => 1 + (h.Count * HintHopLength));
        var bytes = new byte[length];
        var w = new Writer(bytes);
        w.U8(CurrentVersion);
        w.Raw(p.Payee.Span);
        w.U64(p.Amount.Value);
        w.OptionalB32(p.PaymentSecret?.Value);
        w.OptionalB32(KeysendPreimage?.Value);
        w.U32(checked((uint)p.FinalCltvExpiryDelta));
        w.U64(unchecked((ulong)p.Deadline.ToUnixTimeMilliseconds()));
        w.U8(p.MaxFee.HasValue ? (byte)1 : (byte)0);
        w.U64(p.MaxFee?.Value ?? 0);
        w.U32(checked((uint)p.MaxAttempts));
        w.U8(p.PayeeSupportsMpp ? (byte)1 : (byte)0);
        w.U32(checked((uint)p.MaxParts));
        w.U32(checked((uint)p.MaxCltvExpiryDelta));
        w.U32(checked((uint)Attempts));
        w.U8((byte)hints.Count);
        foreach (var hint in hints)
        {
            w.U8((byte)hint.Count);
            foreach (var hop in hint)
            {
                w.Raw(hop.Node.Span);
                w.U64(hop.ShortChannelId.Value);
                w.U32(hop.FeeBaseMsat);
                w.U32(hop.FeeProportionalMillionths);
                w.U16(hop.CltvExpiryDelta);
            }
        }
        return bytes[..w.Position];
    }

    /// <summary>Decodes a stored record.</summary>
    /// <exception cref="NodeStateCorruptException">Unknown version, truncated, trailing bytes or invalid fields.</exception>
    public static PaymentSessionRecord Decode(ReadOnlySpan<byte> bytes, PaymentHash paymentHash)
    {
        var r = new Reader(bytes);
        var version = r.U8();
        if (version != CurrentVersion)
        {
            throw new NodeStateCorruptException($"Unknown payment session record version {version} (this build reads version {CurrentVersion}).");
        }
        var payee = r.Node();
        var amount = r.U64();
        var secret = r.OptionalB32();
        var keysend = r.OptionalB32();
        var finalCltv = r.U32();
        var deadline = unchecked((long)r.U64());
        var hasMaxFee = r.Bool();
        var maxFee = r.U64();
        var maxAttempts = r.U32();
        var mpp = r.Bool();
        var maxParts = r.U32();
        var maxCltv = r.U32();
        var attempts = r.U32();
        var hintCount = r.U8();
        var hints = new List<IReadOnlyList<RouteHintHop>>(hintCount);
        for (var i = 0; i < hintCount; i++)
        {
            var hopCount = r.U8();
            var hops = new List<RouteHintHop>(hopCount);
            for (var j = 0; j < hopCount; j++)
            {
                hops.Add(new RouteHintHop(r.Node(), new ShortChannelId(r.U64()), r.U32(), r.U32(), r.U16()));
            }
            hints.Add(hops);
        }
        r.End();
        if (amount == 0 || amount > MilliSatoshi.MaxMoney.Value || finalCltv > 100_000 || maxAttempts is 0 or > 100_000 || maxParts is 0 or > 100_000
            || maxCltv > 100_000 || attempts > 100_000 || deadline < DateTimeOffset.MinValue.ToUnixTimeMilliseconds() || deadline > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            throw new NodeStateCorruptException("A payment session record holds out-of-range values.");
        }
        if (keysend is { } k && new PaymentPreimage(k).Hash != paymentHash)
        {
            throw new NodeStateCorruptException("A payment session record's keysend preimage does not match its payment hash.");
        }
        var parameters = new PaymentParameters(payee, paymentHash, secret is { } s ? new PaymentSecret(s) : null, new MilliSatoshi(amount), (int)finalCltv,
            DateTimeOffset.FromUnixTimeMilliseconds(deadline), hasMaxFee ? new MilliSatoshi(maxFee) : null, (int)maxAttempts, mpp, (int)maxParts,
            hints.Count == 0 ? null : hints, null, (int)maxCltv);
        return new PaymentSessionRecord(parameters, keysend is { } pre ? new PaymentPreimage(pre) : null, (int)attempts);
    }

    private ref struct Writer(Span<byte> bytes)
    {
        private readonly Span<byte> _bytes = bytes;

        public int Position { get; private set; }

        public void U8(byte value) => _bytes[Position++] = value;

        public void U16(ushort value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_bytes[Position..], value);
            Position += 2;
        }

        public void U32(uint value)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_bytes[Position..], value);
            Position += 4;
        }

        public void U64(ulong value)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_bytes[Position..], value);
            Position += 8;
        }

        public void Raw(ReadOnlySpan<byte> value)
        {
            value.CopyTo(_bytes[Position..]);
            Position += value.Length;
        }

        public void OptionalB32(Bytes32? value)
        {
            U8(value.HasValue ? (byte)1 : (byte)0);
            if (value is { } v)
            {
                v.CopyTo(_bytes[Position..]);
                Position += 32;
            }
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public byte U8() => Take(1)[0];

        public bool Bool() => U8() switch
        {
            0 => false,
            1 => true,
            var b => throw new NodeStateCorruptException($"A payment session record holds the flag {b} (expected 0 or 1)."),
        };

        public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

        public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

        public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

        public NodeId Node() => NodeId.TryFromBytes(Take(NodeId.Length), out var id)
            ? id
            : throw new NodeStateCorruptException("A payment session record holds an invalid node id.");

        public Bytes32? OptionalB32() => Bool() ? new Bytes32(Take(32)) : null;

        public readonly void End()
        {
            if (_at != _bytes.Length)
            {
                throw new NodeStateCorruptException("A payment session record has trailing bytes.");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (_bytes.Length - _at < count)
            {
                throw new NodeStateCorruptException("A payment session record is truncated.");
            }
            var span = _bytes.Slice(_at, count);
            _at += count;
            return span;
        }
    }
}
