using System.Security.Cryptography;
using NBitcoin.Secp256k1;
using HMACSHA256 = System.Security.Cryptography.HMACSHA256;
using SHA256 = System.Security.Cryptography.SHA256;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>One hop of an onion to build: the key the layer is encrypted to and the hop's payload (without its length prefix).</summary>
/// <param name="PublicKey">The node id, or the blinded node id inside a blinded route.</param>
/// <param name="Payload">The TLV payload bytes (<c>payload</c> or <c>onionmsg_tlv</c>), without the BigSize length.</param>
public sealed record OnionHop(ECPubKey PublicKey, ReadOnlyMemory<byte> Payload);

/// <summary>A freshly built onion and the shared secret of every hop (kept by the sender to decrypt failures).</summary>
/// <param name="Packet">The onion for the first hop.</param>
/// <param name="SharedSecrets">The shared secret of each hop, in route order.</param>
public sealed record OnionConstruction(OnionPacket Packet, IReadOnlyList<Bytes32> SharedSecrets);

/// <summary>The result of peeling one onion layer.</summary>
/// <param name="Payload">This hop's payload bytes (without the length prefix).</param>
/// <param name="SharedSecret">The shared secret with the sender (needed to build or wrap failures).</param>
/// <param name="NextPacket">The onion for the next hop, or null at the final hop.</param>
public sealed record PeeledOnion(ReadOnlyMemory<byte> Payload, Bytes32 SharedSecret, OnionPacket? NextPacket)
{
    /// <summary>True when this hop is the final destination (the next HMAC is all zero).</summary>
    public bool IsFinal => NextPacket is null;
}

/// <summary>
/// A BOLT 4 Sphinx onion packet: version, ephemeral public key, obfuscated hop payloads and HMAC. Payment onions have
/// 1300 bytes of hop payloads (1366 in all); onion messages may use other sizes (usually 1300 or 32768).
/// </summary>
public sealed class OnionPacket
{
    /// <summary>The hop payloads size of a payment onion.</summary>
    public const int PaymentPayloadsLength = 1300;

    /// <summary>The serialized size of a payment onion.</summary>
    public const int PaymentPacketLength = 1366;

    /// <summary>The large onion message hop payloads size (32834-byte packets).</summary>
    public const int LargeMessagePayloadsLength = 32768;

    /// <summary>Version byte, public key and HMAC: the bytes around the hop payloads.</summary>
    public const int HeaderAndHmacLength = 66;

    private const int HmacLength = 32;

    private readonly byte[] _publicKey;
    private readonly byte[] _payloads;

    /// <summary>Creates a packet from its parts (the public key is not validated until it is peeled).</summary>
    /// <exception cref="ArgumentException">When the public key is not 33 bytes.</exception>
    public OnionPacket(byte version, ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> hopPayloads, Bytes32 hmac)
    {
        if (publicKey.Length != 33)
        {
            throw new ArgumentException("The public key must be 33 bytes.", nameof(publicKey));
        }
        Version = version;
        _publicKey = publicKey.ToArray();
        _payloads = hopPayloads.ToArray();
        Hmac = hmac;
    }

    private OnionPacket(byte version, byte[] publicKey, byte[] hopPayloads, Bytes32 hmac)
    {
        Version = version;
        _publicKey = publicKey;
        _payloads = hopPayloads;
        Hmac = hmac;
    }

    /// <summary>The version byte (0 today).</summary>
    public byte Version { get; }

    /// <summary>The 33 bytes of the ephemeral public key as received.</summary>
    public ReadOnlySpan<byte> PublicKey => _publicKey;

    /// <summary>The obfuscated hop payloads.</summary>
    public ReadOnlySpan<byte> HopPayloads => _payloads;

    /// <summary>The HMAC for the receiving hop.</summary>
    public Bytes32 Hmac { get; }

    /// <summary>The serialized length.</summary>
    public int Length => HeaderAndHmacLength + _payloads.Length;

    /// <summary>Parses a packet of any size of at least 66 bytes (onion messages).</summary>
    /// <exception cref="OnionException">When the packet is shorter than 66 bytes.</exception>
    public static OnionPacket Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderAndHmacLength)
        {
            throw new OnionException(FailureCode.InvalidOnionVersion, $"onion packet of {bytes.Length} bytes is shorter than 66", Sha256(bytes));
        }
        return new OnionPacket(bytes[0], bytes.Slice(1, 33).ToArray(), bytes[34..^HmacLength].ToArray(), new Bytes32(bytes[^HmacLength..]));
    }

    /// <summary>Parses a 1366-byte payment onion (<c>onion_routing_packet</c>).</summary>
    /// <exception cref="OnionException">When the packet is not 1366 bytes.</exception>
    public static OnionPacket ParsePayment(ReadOnlySpan<byte> bytes) =>
        bytes.Length == PaymentPacketLength
            ? Parse(bytes)
            : throw new OnionException(FailureCode.InvalidOnionVersion, $"payment onion of {bytes.Length} bytes, expected 1366", Sha256(bytes));

    /// <summary>Serializes the packet.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Serializes the packet into <paramref name="destination"/>, which must hold <see cref="Length"/> bytes.</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[0] = Version;
        _publicKey.CopyTo(destination[1..]);
        _payloads.CopyTo(destination[34..]);
        Hmac.CopyTo(destination[(34 + _payloads.Length)..]);
    }

    /// <summary>The <c>sha256_of_onion</c> reported in BADONION failures.</summary>
    public Bytes32 ComputeSha256() => Sha256(ToBytes());

    /// <summary>
    /// Builds a payment onion (1300 bytes of hop payloads) for the hops in route order.
    /// </summary>
    /// <param name="sessionKey">The random session key (the first ephemeral key).</param>
    /// <param name="hops">The hops, first to last.</param>
    /// <param name="associatedData">Data the HMACs commit to (the payment hash for payments).</param>
    /// <exception cref="ArgumentException">When there are no hops or the payloads do not fit.</exception>
    public static OnionConstruction Create(ECPrivKey sessionKey, IReadOnlyList<OnionHop> hops, ReadOnlySpan<byte> associatedData) =>
        Create(sessionKey, hops, associatedData, PaymentPayloadsLength);

    /// <summary>Builds an onion with <paramref name="payloadsLength"/> bytes of hop payloads.</summary>
    /// <param name="sessionKey">The random session key (the first ephemeral key).</param>
    /// <param name="hops">The hops, first to last.</param>
    /// <param name="associatedData">Data the HMACs commit to.</param>
    /// <param name="payloadsLength">The size of the hop payloads field.</param>
    /// <exception cref="ArgumentException">When there are no hops or the payloads do not fit.</exception>
    public static OnionConstruction Create(ECPrivKey sessionKey, IReadOnlyList<OnionHop> hops, ReadOnlySpan<byte> associatedData, int payloadsLength)
    {
        ArgumentNullException.ThrowIfNull(sessionKey);
        ArgumentNullException.ThrowIfNull(hops);
        if (hops.Count == 0)
        {
            throw new ArgumentException("An onion needs at least one hop.", nameof(hops));
        }
        var shifts = new int[hops.Count];
        var total = 0;
        for (var i = 0; i < hops.Count; i++)
        {
            var length = hops[i].Payload.Length;
            shifts[i] = BigSize.EncodedLength((ulong)length) + length + HmacLength;
            total += shifts[i];
        }
        if (total > payloadsLength)
        {
            throw new ArgumentException($"The hop payloads take {total} bytes, more than the {payloadsLength} available.", nameof(hops));
        }

        // Ephemeral keys and shared secrets, first hop to last.
        var secrets = new Bytes32[hops.Count];
        var ephemeralPublicKeys = new ECPubKey[hops.Count];
        var ephemeral = sessionKey;
        for (var i = 0; i < hops.Count; i++)
        {
            ephemeralPublicKeys[i] = ephemeral.CreatePubKey();
            secrets[i] = SphinxCrypto.SharedSecret(hops[i].PublicKey, ephemeral);
            if (i + 1 < hops.Count)
            {
                ephemeral = SphinxCrypto.Blind(ephemeral, SphinxCrypto.BlindingFactor(ephemeralPublicKeys[i], secrets[i]));
            }
        }

        var filler = GenerateFiller(SphinxCrypto.Rho, shifts, secrets, payloadsLength);

        // Start from pseudo-random bytes derived from the session key.
        var mix = new byte[payloadsLength];
        ChaCha20.KeyStream(Key(SphinxCrypto.Pad, SphinxCrypto.PrivateKeyBytes(sessionKey)), mix);
        var stream = new byte[payloadsLength];
        Span<byte> nextHmac = stackalloc byte[HmacLength];
        nextHmac.Clear();
        var macInput = new byte[payloadsLength + associatedData.Length];
        for (var i = hops.Count - 1; i >= 0; i--)
        {
            var shift = shifts[i];
            Array.Copy(mix, 0, mix, shift, payloadsLength - shift);
            var written = BigSize.Write(mix, (ulong)hops[i].Payload.Length);
            hops[i].Payload.Span.CopyTo(mix.AsSpan(written));
            nextHmac.CopyTo(mix.AsSpan(written + hops[i].Payload.Length));
            ChaCha20.KeyStream(Key(SphinxCrypto.Rho, secrets[i]), stream);
            SphinxCrypto.XorInto(mix, stream);
            if (i == hops.Count - 1)
            {
                filler.CopyTo(mix.AsSpan(payloadsLength - filler.Length));
            }
            mix.CopyTo(macInput, 0);
            associatedData.CopyTo(macInput.AsSpan(payloadsLength));
            HMACSHA256.HashData(Key(SphinxCrypto.Mu, secrets[i]), macInput, nextHmac);
        }
        var packet = new OnionPacket(0, SphinxCrypto.Compress(ephemeralPublicKeys[0]), mix, new Bytes32(nextHmac));
        return new OnionConstruction(packet, secrets);
    }

    /// <summary>
    /// Peels this node's layer of a payment onion: checks version, key and HMAC, then extracts the payload and the
    /// onion for the next hop.
    /// </summary>
    /// <param name="nodeKey">This node's private key.</param>
    /// <param name="associatedData">The data the sender committed to (the payment hash).</param>
    /// <param name="pathKey">The route blinding <c>path_key</c> received with the onion, if any.</param>
    /// <exception cref="OnionException">
    /// invalid_onion_version, invalid_onion_key or invalid_onion_hmac (with <see cref="OnionException.Sha256OfOnion"/>),
    /// or invalid_onion_payload when the authenticated payload framing is malformed.
    /// </exception>
    public PeeledOnion Peel(ECPrivKey nodeKey, ReadOnlySpan<byte> associatedData, ECPubKey? pathKey = null) =>
        PeelCore(nodeKey, associatedData, pathKey, minimumPayloadLength: 2);

    internal PeeledOnion PeelCore(ECPrivKey nodeKey, ReadOnlySpan<byte> associatedData, ECPubKey? pathKey, int minimumPayloadLength)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        if (Version != 0)
        {
            throw new OnionException(FailureCode.InvalidOnionVersion, $"onion version {Version}", ComputeSha256());
        }
        var ephemeral = SphinxCrypto.TryParsePoint(_publicKey)
            ?? throw new OnionException(FailureCode.InvalidOnionKey, "onion public key is not a valid point", ComputeSha256());
        var key = nodeKey;
        if (pathKey is not null)
        {
            var blindingSecret = SphinxCrypto.SharedSecret(pathKey, nodeKey);
            key = SphinxCrypto.Blind(nodeKey, SphinxCrypto.GenerateKey(SphinxCrypto.BlindedNodeId, blindingSecret));
        }
        var secret = SphinxCrypto.SharedSecret(ephemeral, key);

        var length = _payloads.Length;
        var macInput = new byte[length + associatedData.Length];
        _payloads.CopyTo(macInput, 0);
        associatedData.CopyTo(macInput.AsSpan(length));
        Span<byte> mac = stackalloc byte[HmacLength];
        HMACSHA256.HashData(Key(SphinxCrypto.Mu, secret), macInput, mac);
        Span<byte> expected = stackalloc byte[HmacLength];
        Hmac.CopyTo(expected);
        if (!CryptographicOperations.FixedTimeEquals(mac, expected))
        {
            throw new OnionException(FailureCode.InvalidOnionHmac, "onion HMAC does not match", ComputeSha256());
        }

        var unwrapped = new byte[2 * length];
        _payloads.CopyTo(unwrapped, 0);
        ChaCha20.XorInPlace(Key(SphinxCrypto.Rho, secret), unwrapped);

        ulong payloadLength;
        int prefix;
        try
        {
            payloadLength = BigSize.Read(unwrapped, out prefix);
        }
        catch (WireFormatException e)
        {
            throw new OnionException(FailureCode.InvalidOnionPayload, "hop payload length is malformed", null, e);
        }
        if (payloadLength < (ulong)minimumPayloadLength)
        {
            throw new OnionException(FailureCode.InvalidOnionPayload, $"hop payload length {payloadLength} is reserved");
        }
        if (payloadLength > (ulong)(length - prefix - HmacLength))
        {
            throw new OnionException(FailureCode.InvalidOnionPayload, $"hop payload length {payloadLength} exceeds the {length}-byte onion");
        }
        var size = (int)payloadLength;
        var payload = unwrapped.AsMemory(prefix, size);
        var nextHmacSpan = unwrapped.AsSpan(prefix + size, HmacLength);
        if (!nextHmacSpan.ContainsAnyExcept((byte)0))
        {
            return new PeeledOnion(payload, secret, null);
        }
        var nextKey = SphinxCrypto.Blind(ephemeral, SphinxCrypto.BlindingFactor(ephemeral, secret));
        var next = new OnionPacket(
            0,
            SphinxCrypto.Compress(nextKey),
            unwrapped.AsSpan(prefix + size + HmacLength, length).ToArray(),
            new Bytes32(nextHmacSpan));
        return new PeeledOnion(payload, secret, next);
    }

    /// <summary>
    /// The filler: the obfuscated padding that hops 0..n-2 append when they shift the payloads, which the sender
    /// pre-computes so the HMACs of later hops match.
    /// </summary>
    internal static byte[] GenerateFiller(string keyType, IReadOnlyList<int> shifts, IReadOnlyList<Bytes32> secrets, int payloadsLength)
    {
        var fillerLength = 0;
        for (var i = 0; i < shifts.Count - 1; i++)
        {
            fillerLength += shifts[i];
        }
        var filler = new byte[fillerLength];
        var stream = new byte[payloadsLength + (shifts.Count == 0 ? 0 : shifts.Max())];
        var used = 0;
        for (var i = 0; i < shifts.Count - 1; i++)
        {
            var streamLength = payloadsLength + shifts[i];
            var span = stream.AsSpan(0, streamLength);
            ChaCha20.KeyStream(Key(keyType, secrets[i]), span);
            used += shifts[i];
            // The bytes of this hop's stream that fall beyond the payloads once every earlier shift is applied.
            SphinxCrypto.XorInto(filler.AsSpan(0, used), span[(streamLength - used)..]);
        }
        return filler;
    }

    private static byte[] Key(string keyType, Bytes32 secret) => SphinxCrypto.GenerateKey(keyType, secret).ToArray();

    private static byte[] Key(string keyType, ReadOnlySpan<byte> secret) => SphinxCrypto.GenerateKey(keyType, secret).ToArray();

    private static Bytes32 Sha256(ReadOnlySpan<byte> bytes)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        return new Bytes32(hash);
    }
}
