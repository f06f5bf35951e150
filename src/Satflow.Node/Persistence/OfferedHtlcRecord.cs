using System.Buffers.Binary;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Node.Persistence;

/// <summary>
/// What the node remembers of an HTLC it offered as a payer, so the settle or failure that comes back (possibly after
/// a restart) finds its payment: the payment hash, the part id and route, and the onion shared secret of every hop
/// (to decrypt and attribute a failure).
/// </summary>
/// <param name="HtlcId">The HTLC id on its channel.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="Amount">The HTLC amount.</param>
/// <param name="SharedSecret">The onion shared secret of the final hop.</param>
public sealed record OfferedHtlcRecord(ulong HtlcId, PaymentHash PaymentHash, MilliSatoshi Amount, Bytes32 SharedSecret)
{
    /// <summary>The first encoding: id, hash, amount, final-hop secret (a direct peer only).</summary>
    public const byte Version1 = 1;

    /// <summary>The current encoding: version 1's fields, then the part id, every hop's shared secret and the route.</summary>
    public const byte CurrentVersion = 2;

    private const int Version1Length = 1 + 8 + 32 + 8 + 32;

    private const int RouteHopLength = 8 + 33 + 8 + 8 + 4 + 1;

    /// <summary>The caller's part id (0 for records of version 1).</summary>
    public ulong PartId { get; init; }

    /// <summary>The route the HTLC took (null for records of version 1: a payment to the channel's peer).</summary>
    public Route? Route { get; init; }

    /// <summary>The onion shared secret of every hop, first to last (version 1 records: the final hop's only).</summary>
    public IReadOnlyList<Bytes32> HopSharedSecrets
    {
        get => _hopSharedSecrets ?? [SharedSecret];
        init => _hopSharedSecrets = value;
    }

    private readonly IReadOnlyList<Bytes32>? _hopSharedSecrets;

    /// <summary>Encodes the record (version 2).</summary>
    public byte[] Encode()
    {
        var secrets = HopSharedSecrets;
        if (secrets.Count > byte.MaxValue || Route is { Hops.Count: > ushort.MaxValue })
        {
            throw new InvalidOperationException("An offered HTLC record holds at most 255 hop secrets.");
        }
        var routeLength = Route is null ? 1 : 1 + 33 + 2 + (Route.Hops.Count * RouteHopLength) + 8 + 4;
        var bytes = new byte[Version1Length + 8 + 1 + (32 * secrets.Count) + routeLength];
        var span = bytes.AsSpan();
        span[0] = CurrentVersion;
        BinaryPrimitives.WriteUInt64BigEndian(span[1..], HtlcId);
        PaymentHash.Value.CopyTo(span[9..]);
        BinaryPrimitives.WriteUInt64BigEndian(span[41..], Amount.Value);
        SharedSecret.CopyTo(span[49..]);
        var at = Version1Length;
        BinaryPrimitives.WriteUInt64BigEndian(span[at..], PartId);
        at += 8;
        span[at++] = (byte)secrets.Count;
        foreach (var secret in secrets)
        {
            secret.CopyTo(span[at..]);
            at += 32;
        }
        if (Route is null)
        {
            span[at] = 0;
            return bytes;
        }
        span[at++] = 1;
        Route.Source.Span.CopyTo(span[at..]);
        at += 33;
        BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)Route.Hops.Count);
        at += 2;
        foreach (var hop in Route.Hops)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[at..], hop.ShortChannelId.Value);
            hop.Node.Span.CopyTo(span[(at + 8)..]);
            BinaryPrimitives.WriteUInt64BigEndian(span[(at + 41)..], hop.Amount.Value);
            BinaryPrimitives.WriteUInt64BigEndian(span[(at + 49)..], hop.Fee.Value);
            BinaryPrimitives.WriteInt32BigEndian(span[(at + 57)..], hop.CltvExpiryDelta);
            span[at + 61] = hop.FromRouteHint ? (byte)1 : (byte)0;
            at += RouteHopLength;
        }
        BinaryPrimitives.WriteUInt64BigEndian(span[at..], Route.RecipientAmount.Value);
        BinaryPrimitives.WriteInt32BigEndian(span[(at + 8)..], Route.BlindedPathIndex ?? -1);
        return bytes;
    }

    /// <summary>Decodes a record of version 1 or 2.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Truncated, of an unknown version or holding an invalid field.</exception>
    public static OfferedHtlcRecord Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < Version1Length || data[0] is not (Version1 or CurrentVersion) || (data[0] == Version1 && data.Length != Version1Length))
        {
            throw new NodeStateCorruptException($"An offered HTLC record must be of version {Version1} ({Version1Length} bytes) or {CurrentVersion}; got {data.Length} bytes.");
        }
        var record = new OfferedHtlcRecord(
            BinaryPrimitives.ReadUInt64BigEndian(data[1..]),
            new PaymentHash(new Bytes32(data.Slice(9, 32))),
            new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[41..])),
            new Bytes32(data.Slice(49, 32)));
        if (data[0] == Version1)
        {
            return record;
        }
        var rest = data[Version1Length..];
        Need(rest, 9);
        var partId = BinaryPrimitives.ReadUInt64BigEndian(rest);
        int count = rest[8];
        rest = rest[9..];
        Need(rest, 32 * count);
        var secrets = new Bytes32[count];
        for (var i = 0; i < count; i++)
        {
            secrets[i] = new Bytes32(rest.Slice(32 * i, 32));
        }
        rest = rest[(32 * count)..];
        Need(rest, 1);
        Route? route = null;
        if (rest[0] == 1)
        {
            rest = rest[1..];
            Need(rest, 35);
            var source = ReadNode(rest);
            int hopCount = BinaryPrimitives.ReadUInt16BigEndian(rest[33..]);
            rest = rest[35..];
            Need(rest, (hopCount * RouteHopLength) + 12);
            var hops = new RouteHop[hopCount];
            for (var i = 0; i < hopCount; i++)
            {
                var h = rest.Slice(i * RouteHopLength, RouteHopLength);
                if (h[61] > 1)
                {
                    throw new NodeStateCorruptException("An offered HTLC record's route hop has an invalid flag.");
                }
                hops[i] = new RouteHop(
                    new ShortChannelId(BinaryPrimitives.ReadUInt64BigEndian(h)),
                    ReadNode(h[8..]),
                    new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(h[41..])),
                    new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(h[49..])),
                    BinaryPrimitives.ReadInt32BigEndian(h[57..]),
                    h[61] == 1);
            }
            rest = rest[(hopCount * RouteHopLength)..];
            var blinded = BinaryPrimitives.ReadInt32BigEndian(rest[8..]);
            route = new Route(source, hops, new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(rest)), blinded < 0 ? null : blinded);
            rest = rest[12..];
        }
        else if (rest[0] == 0)
        {
            rest = rest[1..];
        }
        else
        {
            throw new NodeStateCorruptException("An offered HTLC record has an invalid route flag.");
        }
        if (!rest.IsEmpty)
        {
            throw new NodeStateCorruptException("An offered HTLC record has trailing bytes.");
        }
        return record with { PartId = partId, HopSharedSecrets = secrets, Route = route };
    }

    private static void Need(ReadOnlySpan<byte> data, int length)
    {
        if (data.Length < length)
        {
            throw new NodeStateCorruptException("An offered HTLC record is truncated.");
        }
    }

    private static NodeId ReadNode(ReadOnlySpan<byte> data) =>
        NodeId.TryFromBytes(data[..33], out var node) ? node : throw new NodeStateCorruptException("An offered HTLC record holds an invalid node id.");

    /// <inheritdoc />
    public bool Equals(OfferedHtlcRecord? other) =>
        other is not null
        && HtlcId == other.HtlcId && PaymentHash == other.PaymentHash && Amount == other.Amount && SharedSecret == other.SharedSecret
        && PartId == other.PartId
        && HopSharedSecrets.SequenceEqual(other.HopSharedSecrets)
        && RouteEquals(Route, other.Route);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(HtlcId, PaymentHash, Amount, SharedSecret, PartId);

    private static bool RouteEquals(Route? a, Route? b) =>
        a is null || b is null
            ? a is null && b is null
            : a.Source == b.Source && a.RecipientAmount == b.RecipientAmount && a.BlindedPathIndex == b.BlindedPathIndex && a.Hops.SequenceEqual(b.Hops);
}
