using System.Buffers.Binary;
using System.Security.Cryptography;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>The outcome of decrypting a returned failure at the origin node.</summary>
/// <param name="FailingHopIndex">The index in the route of the node whose HMAC matched, or null if none did.</param>
/// <param name="Message">The failure message of that node, or null if none matched.</param>
/// <param name="HoldTimes">Hold times (units of 100 ms) of the hops whose attribution HMACs verified, in route order.</param>
/// <param name="AttributionFailedAtHop">The first hop whose attribution HMAC did not verify, or null.</param>
/// <param name="Unwrapped">The packet after removing every hop's layer (useful when no hop matched).</param>
public sealed record DecryptedFailure(
    int? FailingHopIndex,
    FailureMessage? Message,
    IReadOnlyList<uint> HoldTimes,
    int? AttributionFailedAtHop,
    ReadOnlyMemory<byte> Unwrapped)
{
    /// <summary>True when a hop's HMAC matched and its message was decoded.</summary>
    public bool IsDecrypted => FailingHopIndex is not null;
}

/// <summary>
/// BOLT 4 failure packets (the <c>reason</c> of <c>update_fail_htlc</c>): created by the erring node
/// (<c>hmac || u16 failure_len || failuremsg || u16 pad_len || pad</c>, HMAC keyed with <c>um</c>), obfuscated with
/// the <c>ammag</c> stream at each hop back, and decrypted at the origin by trying each hop's shared secret.
/// </summary>
public static class FailurePacket
{
    /// <summary>The minimum of <c>failure_len + pad_len</c> the specification asks for.</summary>
    public const int MinimumPaddedLength = 256;

    private const int HmacLength = 32;

    /// <summary>The number of decryption rounds the origin always performs (the maximum route length), to hide the position of the failing hop.</summary>
    public const int MaxDecryptionRounds = 27;

    /// <summary>
    /// Builds the unobfuscated failure packet at the erring node (before <see cref="Wrap"/>).
    /// </summary>
    /// <param name="sharedSecret">The shared secret of the onion layer this node peeled.</param>
    /// <param name="failureMessage">The encoded failure message.</param>
    /// <param name="paddedLength">
    /// <c>failure_len + pad_len</c>; defaults to 256, or the message length when it is longer.
    /// </param>
    /// <exception cref="ArgumentException">When the message does not fit <paramref name="paddedLength"/>.</exception>
    public static byte[] Create(Bytes32 sharedSecret, ReadOnlySpan<byte> failureMessage, int? paddedLength = null)
    {
        var target = paddedLength ?? Math.Max(MinimumPaddedLength, failureMessage.Length);
        if (failureMessage.Length > ushort.MaxValue || target < failureMessage.Length || target - failureMessage.Length > ushort.MaxValue)
        {
            throw new ArgumentException("The failure message does not fit the padded length.", nameof(paddedLength));
        }
        var padLength = target - failureMessage.Length;
        var packet = new byte[HmacLength + 2 + failureMessage.Length + 2 + padLength];
        var body = packet.AsSpan(HmacLength);
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)failureMessage.Length);
        failureMessage.CopyTo(body[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(body[(2 + failureMessage.Length)..], (ushort)padLength);
        HMACSHA256.HashData(SphinxCrypto.GenerateKey(SphinxCrypto.Um, sharedSecret).ToArray(), body, packet.AsSpan(0, HmacLength));
        return packet;
    }

    /// <summary>Builds the unobfuscated failure packet for a <see cref="FailureMessage"/>.</summary>
    public static byte[] Create(Bytes32 sharedSecret, FailureMessage failureMessage, int? paddedLength = null)
    {
        ArgumentNullException.ThrowIfNull(failureMessage);
        return Create(sharedSecret, failureMessage.Encode(), paddedLength);
    }

    /// <summary>
    /// Turns an <c>update_fail_malformed_htlc</c> received from downstream into the failure packet this node returns
    /// upstream in <c>update_fail_htlc</c>: the BADONION message built and obfuscated with this node's shared secret.
    /// </summary>
    /// <param name="sharedSecret">The shared secret of the onion layer this node peeled.</param>
    /// <param name="failureCode">The BADONION code received.</param>
    /// <param name="sha256OfOnion">The <c>sha256_of_onion</c> received.</param>
    /// <exception cref="ArgumentException">When the code is not a BADONION code.</exception>
    public static byte[] FromMalformed(Bytes32 sharedSecret, FailureCode failureCode, Bytes32 sha256OfOnion) =>
        Wrap(Create(sharedSecret, FailureMessage.BadOnion(failureCode, sha256OfOnion)), sharedSecret);

    /// <summary>Applies (or removes) one hop's <c>ammag</c> obfuscation, returning a new array.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> packet, Bytes32 sharedSecret)
    {
        var result = packet.ToArray();
        ChaCha20.XorInPlace(SphinxCrypto.GenerateKey(SphinxCrypto.Ammag, sharedSecret).ToArray(), result);
        return result;
    }

    /// <summary>
    /// Checks the HMAC of an unobfuscated failure packet and decodes its message; returns null when the HMAC does not
    /// match this shared secret.
    /// </summary>
    /// <exception cref="WireFormatException">When the HMAC matches but the framing or message is malformed.</exception>
    public static FailureMessage? TryOpen(ReadOnlySpan<byte> packet, Bytes32 sharedSecret)
    {
        if (packet.Length < HmacLength + 4)
        {
            return null;
        }
        Span<byte> mac = stackalloc byte[HmacLength];
        HMACSHA256.HashData(SphinxCrypto.GenerateKey(SphinxCrypto.Um, sharedSecret).ToArray(), packet[HmacLength..], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, packet[..HmacLength]))
        {
            return null;
        }
        var reader = new WireReader(packet[HmacLength..]);
        var failureLength = reader.ReadUInt16();
        var failure = reader.ReadSpan(failureLength);
        var padLength = reader.ReadUInt16();
        reader.ReadSpan(padLength);
        reader.EnsureEnd("failure packet");
        return FailureMessage.Decode(failure);
    }

    /// <summary>
    /// Decrypts a failure returned to the origin: removes each hop's layer in route order until a hop's HMAC
    /// matches, verifying the attribution data (when given) on the way.
    /// </summary>
    /// <param name="packet">The <c>reason</c> received from the first hop.</param>
    /// <param name="attributionData">The 920-byte <c>attribution_data</c> received with it, if any.</param>
    /// <param name="sharedSecrets">The shared secrets of the route, from <c>OnionPacket.Create</c>.</param>
    /// <exception cref="WireFormatException">When a hop's HMAC matches but its failure message is malformed.</exception>
    public static DecryptedFailure Decrypt(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> attributionData, IReadOnlyList<Bytes32> sharedSecrets)
    {
        ArgumentNullException.ThrowIfNull(sharedSecrets);
        var current = packet.ToArray();
        byte[]? attribution = attributionData.Length == AttributionData.Length ? attributionData.ToArray() : null;
        var holdTimes = new List<uint>();
        int? attributionFailedAt = null;
        for (var i = 0; i < sharedSecrets.Count; i++)
        {
            current = Wrap(current, sharedSecrets[i]);
            if (attribution is not null && i >= AttributionData.MaxHops)
            {
                // Attribution data covers the first 20 hops only.
                attribution = null;
            }
            if (attribution is not null)
            {
                if (AttributionData.TryUnwrap(attribution, current, sharedSecrets[i], AttributionData.VerifiablePositions(i, sharedSecrets.Count), out var holdTime, out var next))
                {
                    holdTimes.Add(holdTime);
                    attribution = next;
                }
                else
                {
                    attributionFailedAt = i;
                    attribution = null;
                }
            }
            var message = TryOpen(current, sharedSecrets[i]);
            if (message is not null)
            {
                DummyRounds(current, i + 1, sharedSecrets.Count);
                return new DecryptedFailure(i, message, holdTimes, attributionFailedAt, current);
            }
        }
        DummyRounds(current, sharedSecrets.Count, sharedSecrets.Count);
        return new DecryptedFailure(null, null, holdTimes, attributionFailedAt, current);
    }

    /// <summary>
    /// Keeps unwrapping and checking HMACs until <see cref="MaxDecryptionRounds"/> rounds are done (constant keys
    /// past the route's end), so the time taken does not reveal the failing hop's position or the route length.
    /// </summary>
    private static void DummyRounds(byte[] packet, int done, int routeLength)
    {
        var rounds = Math.Max(MaxDecryptionRounds, routeLength);
        if (done >= rounds)
        {
            return;
        }
        var scratch = (byte[])packet.Clone();
        var ammag = SphinxCrypto.GenerateKey(SphinxCrypto.Ammag, Bytes32.Zero).ToArray();
        var um = SphinxCrypto.GenerateKey(SphinxCrypto.Um, Bytes32.Zero).ToArray();
        Span<byte> mac = stackalloc byte[HmacLength];
        for (var round = done; round < rounds; round++)
        {
            ChaCha20.XorInPlace(ammag, scratch);
            if (scratch.Length >= HmacLength)
            {
                HMACSHA256.HashData(um, scratch.AsSpan(HmacLength), mac);
                _ = CryptographicOperations.FixedTimeEquals(mac, scratch.AsSpan(0, HmacLength));
            }
        }
    }
}
