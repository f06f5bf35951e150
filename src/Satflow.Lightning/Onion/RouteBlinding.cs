using System.Security.Cryptography;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>
/// The introduction node of a blinded route (<c>sciddir_or_pubkey</c>): either a node id, or a short channel id and a
/// direction (0: the channel's node_1 side, 1: node_2).
/// </summary>
public sealed record IntroductionNode
{
    private IntroductionNode(NodeId? nodeId, ShortChannelId? shortChannelId, byte direction)
    {
        NodeId = nodeId;
        ShortChannelId = shortChannelId;
        Direction = direction;
    }

    /// <summary>The node id, when given as a public key.</summary>
    public NodeId? NodeId { get; }

    /// <summary>The channel, when given as <c>sciddir</c>.</summary>
    public ShortChannelId? ShortChannelId { get; }

    /// <summary>The direction byte of a <c>sciddir</c> (0 or 1).</summary>
    public byte Direction { get; }

    /// <summary>An introduction node given by its id.</summary>
    public static IntroductionNode FromNodeId(NodeId nodeId) => new(nodeId, null, 0);

    /// <summary>An introduction node given by a channel end.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When the direction is not 0 or 1.</exception>
    public static IntroductionNode FromChannel(ShortChannelId shortChannelId, byte direction) =>
        direction <= 1 ? new(null, shortChannelId, direction) : throw new ArgumentOutOfRangeException(nameof(direction));

    internal void WriteTo(WireWriter writer)
    {
        if (NodeId is { } id)
        {
            writer.WriteBytes(id.Span);
        }
        else
        {
            writer.WriteByte(Direction).WriteUInt64(ShortChannelId!.Value.Value);
        }
    }

    internal static IntroductionNode Read(ref WireReader reader)
    {
        var first = reader.RemainingSpan.IsEmpty ? throw new WireFormatException("unexpected EOF", "sciddir_or_pubkey") : reader.RemainingSpan[0];
        if (first <= 1)
        {
            reader.ReadByte();
            return FromChannel(new ShortChannelId(reader.ReadUInt64()), first);
        }
        var bytes = reader.ReadSpan(33);
        return Types.NodeId.TryFromBytes(bytes, out var nodeId) ? FromNodeId(nodeId) : throw new WireFormatException("invalid first_node_id");
    }
}

/// <summary>One hop of a blinded route: its blinded node id and the data encrypted for it.</summary>
/// <param name="BlindedNodeId">The blinded node id the onion layer is encrypted to.</param>
/// <param name="EncryptedRecipientData">The <c>encrypted_recipient_data</c> (ChaCha20-Poly1305 ciphertext and tag).</param>
public sealed record BlindedHop(ECPubKey BlindedNodeId, ReadOnlyMemory<byte> EncryptedRecipientData);

/// <summary>
/// A blinded route (BOLT 4 <c>blinded_path</c>): the introduction node, the first path key and the blinded hops
/// (the introduction node's own blinded hop first).
/// </summary>
/// <param name="FirstNode">The introduction node.</param>
/// <param name="FirstPathKey">The path key for the introduction node.</param>
/// <param name="Hops">The blinded hops, at least one.</param>
public sealed record BlindedRoute(IntroductionNode FirstNode, ECPubKey FirstPathKey, IReadOnlyList<BlindedHop> Hops)
{
    /// <summary>Serializes the <c>blinded_path</c>.</summary>
    /// <exception cref="InvalidOperationException">When there are no hops, more than 255, or a payload over 65535 bytes.</exception>
    public void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (Hops.Count is 0 or > 255)
        {
            throw new InvalidOperationException("A blinded path has 1 to 255 hops.");
        }
        FirstNode.WriteTo(writer);
        writer.WriteBytes(SphinxCrypto.Compress(FirstPathKey)).WriteByte((byte)Hops.Count);
        foreach (var hop in Hops)
        {
            if (hop.EncryptedRecipientData.Length > ushort.MaxValue)
            {
                throw new InvalidOperationException("Encrypted recipient data is limited to 65535 bytes.");
            }
            writer.WriteBytes(SphinxCrypto.Compress(hop.BlindedNodeId))
                .WriteUInt16((ushort)hop.EncryptedRecipientData.Length)
                .WriteBytes(hop.EncryptedRecipientData.Span);
        }
    }

    /// <summary>Serializes the <c>blinded_path</c> into a new array.</summary>
    public byte[] ToBytes()
    {
        var writer = new WireWriter();
        WriteTo(writer);
        return writer.ToArray();
    }

    /// <summary>Reads one <c>blinded_path</c> from <paramref name="reader"/>.</summary>
    /// <exception cref="WireFormatException">When it is truncated, has no hops or holds an invalid point.</exception>
    public static BlindedRoute Read(ref WireReader reader)
    {
        var first = IntroductionNode.Read(ref reader);
        var pathKey = SphinxCrypto.ParsePoint(reader.ReadSpan(33), "first_path_key");
        var count = reader.ReadByte();
        if (count == 0)
        {
            throw new WireFormatException("blinded path without hops");
        }
        var hops = new List<BlindedHop>(count);
        for (var i = 0; i < count; i++)
        {
            var nodeId = SphinxCrypto.ParsePoint(reader.ReadSpan(33), "blinded_node_id");
            var length = reader.ReadUInt16();
            hops.Add(new BlindedHop(nodeId, reader.ReadBytes(length)));
        }
        return new BlindedRoute(first, pathKey, hops);
    }

    /// <summary>Parses exactly one <c>blinded_path</c>.</summary>
    /// <exception cref="WireFormatException">When malformed or followed by extra bytes.</exception>
    public static BlindedRoute Parse(ReadOnlySpan<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var route = Read(ref reader);
        reader.EnsureEnd("blinded_path");
        return route;
    }
}

/// <summary>The secrets of one hop while a blinded route is created (for the creator's records and for tests).</summary>
/// <param name="PathKey">E(i), the path key this hop receives.</param>
/// <param name="SharedSecret">ss(i) = SHA256(e(i) · N(i)).</param>
/// <param name="Rho">The ChaCha20-Poly1305 key of this hop's encrypted data.</param>
public sealed record BlindedHopSecrets(ECPubKey PathKey, Bytes32 SharedSecret, Bytes32 Rho);

/// <summary>A created blinded route, the path key the last hop receives, and each hop's secrets.</summary>
/// <param name="Route">The route to hand to senders.</param>
/// <param name="LastPathKey">E(r), the path key of the last hop.</param>
/// <param name="Secrets">Per hop secrets, in route order.</param>
public sealed record BlindedRouteCreation(BlindedRoute Route, ECPubKey LastPathKey, IReadOnlyList<BlindedHopSecrets> Secrets);

/// <summary>A decrypted <c>encrypted_recipient_data</c>.</summary>
/// <param name="Plaintext">The decrypted <c>encrypted_data_tlv</c> bytes.</param>
/// <param name="Data">The parsed TLV stream.</param>
/// <param name="NextPathKey">
/// The path key to send to the next node: <c>next_path_key_override</c> when present, otherwise
/// E(i+1) = SHA256(E(i) || ss(i)) · E(i).
/// </param>
/// <param name="ComputedNextPathKey">E(i+1) as computed, ignoring any override.</param>
public sealed record DecryptedRecipientData(ReadOnlyMemory<byte> Plaintext, EncryptedDataTlv Data, ECPubKey NextPathKey, ECPubKey ComputedNextPathKey);

/// <summary>BOLT 4 route blinding: creating blinded routes and unblinding them hop by hop.</summary>
public static class RouteBlinding
{
    private const int TagLength = 16;

    /// <summary>
    /// Blinds a route: derives each hop's path key and shared secret from <paramref name="sessionKey"/>, blinds the
    /// node ids and encrypts each payload with ChaCha20-Poly1305 under that hop's <c>rho</c> and a zero nonce.
    /// </summary>
    /// <param name="sessionKey">e(0), a fresh random key.</param>
    /// <param name="nodeIds">The real node ids, introduction node first.</param>
    /// <param name="payloads">The <c>encrypted_data_tlv</c> bytes for each node.</param>
    /// <exception cref="ArgumentException">When the lists are empty or of different lengths.</exception>
    public static BlindedRouteCreation Create(ECPrivKey sessionKey, IReadOnlyList<ECPubKey> nodeIds, IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        ArgumentNullException.ThrowIfNull(sessionKey);
        ArgumentNullException.ThrowIfNull(nodeIds);
        ArgumentNullException.ThrowIfNull(payloads);
        if (nodeIds.Count == 0 || nodeIds.Count != payloads.Count)
        {
            throw new ArgumentException("Give one payload per node, at least one node.", nameof(payloads));
        }
        var e = sessionKey;
        var hops = new List<BlindedHop>(nodeIds.Count);
        var secrets = new List<BlindedHopSecrets>(nodeIds.Count);
        ECPubKey? pathKey = null;
        for (var i = 0; i < nodeIds.Count; i++)
        {
            pathKey = e.CreatePubKey();
            var ss = SphinxCrypto.SharedSecret(nodeIds[i], e);
            var blinded = SphinxCrypto.Blind(nodeIds[i], SphinxCrypto.GenerateKey(SphinxCrypto.BlindedNodeId, ss));
            var rho = SphinxCrypto.GenerateKey(SphinxCrypto.Rho, ss);
            hops.Add(new BlindedHop(blinded, Encrypt(rho, payloads[i].Span)));
            secrets.Add(new BlindedHopSecrets(pathKey, ss, rho));
            if (i + 1 < nodeIds.Count)
            {
                e = SphinxCrypto.Blind(e, SphinxCrypto.BlindingFactor(pathKey, ss));
            }
        }
        var route = new BlindedRoute(IntroductionNode.FromNodeId(NodeId.FromBytes(SphinxCrypto.Compress(nodeIds[0]))), secrets[0].PathKey, hops);
        return new BlindedRouteCreation(route, pathKey!, secrets);
    }

    /// <summary>The private key a blinded hop decrypts its onion layer with: <c>HMAC256("blinded_node_id", ss) · k</c>.</summary>
    public static ECPrivKey DeriveBlindedPrivateKey(ECPrivKey nodeKey, ECPubKey pathKey)
    {
        var ss = SphinxCrypto.SharedSecret(pathKey, nodeKey);
        return SphinxCrypto.Blind(nodeKey, SphinxCrypto.GenerateKey(SphinxCrypto.BlindedNodeId, ss));
    }

    /// <summary>The next path key E(i+1) = SHA256(E(i) || ss(i)) · E(i).</summary>
    public static ECPubKey NextPathKey(ECPubKey pathKey, Bytes32 sharedSecret) =>
        SphinxCrypto.Blind(pathKey, SphinxCrypto.BlindingFactor(pathKey, sharedSecret));

    /// <summary>
    /// Decrypts and parses the <c>encrypted_recipient_data</c> of this hop and derives the next path key.
    /// </summary>
    /// <exception cref="OnionException"><c>invalid_onion_blinding</c> when the data does not authenticate or does not parse.</exception>
    public static DecryptedRecipientData Decrypt(ECPrivKey nodeKey, ECPubKey pathKey, ReadOnlySpan<byte> encryptedRecipientData)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        ArgumentNullException.ThrowIfNull(pathKey);
        var ss = SphinxCrypto.SharedSecret(pathKey, nodeKey);
        var rho = SphinxCrypto.GenerateKey(SphinxCrypto.Rho, ss);
        if (encryptedRecipientData.Length < TagLength)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "encrypted_recipient_data shorter than its tag");
        }
        var plaintext = new byte[encryptedRecipientData.Length - TagLength];
        try
        {
            using var aead = new ChaCha20Poly1305(rho.ToArray());
            aead.Decrypt(new byte[12], encryptedRecipientData[..^TagLength], encryptedRecipientData[^TagLength..], plaintext);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "encrypted_recipient_data does not decrypt", null, e);
        }
        EncryptedDataTlv data;
        try
        {
            data = EncryptedDataTlv.Decode(plaintext);
        }
        catch (WireFormatException e)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "encrypted_data_tlv is malformed: " + e.Message, null, e);
        }
        var computed = NextPathKey(pathKey, ss);
        return new DecryptedRecipientData(plaintext, data, data.NextPathKeyOverride ?? computed, computed);
    }

    /// <summary>Encrypts an <c>encrypted_data_tlv</c> under <paramref name="rho"/> (ChaCha20-Poly1305, zero nonce, no associated data).</summary>
    public static byte[] Encrypt(Bytes32 rho, ReadOnlySpan<byte> plaintext)
    {
        var result = new byte[plaintext.Length + TagLength];
        using var aead = new ChaCha20Poly1305(rho.ToArray());
        aead.Encrypt(new byte[12], plaintext, result.AsSpan(0, plaintext.Length), result.AsSpan(plaintext.Length));
        return result;
    }
}
