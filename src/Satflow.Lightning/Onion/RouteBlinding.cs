using NBitcoin.Secp256k1;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>The secrets of one hop while a blinded route is created (for the creator's records and for tests).</summary>
/// <param name="PathKey">E(i), the path key this hop receives.</param>
/// <param name="SharedSecret">ss(i) = SHA256(e(i) · N(i)).</param>
/// <param name="Rho">The ChaCha20-Poly1305 key of this hop's encrypted data.</param>
public sealed record BlindedHopSecrets(ECPubKey PathKey, Bytes32 SharedSecret, Bytes32 Rho);

/// <summary>A created blinded route, the path key the last hop receives, and each hop's secrets.</summary>
/// <param name="Route">The <c>blinded_path</c> to hand to senders.</param>
/// <param name="LastPathKey">E(r), the path key of the last hop.</param>
/// <param name="Secrets">Per hop secrets, in route order.</param>
public sealed record BlindedRouteCreation(BlindedPath Route, ECPubKey LastPathKey, IReadOnlyList<BlindedHopSecrets> Secrets);

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
            hops.Add(new BlindedHop(NodeId.FromECPubKey(blinded), Encrypt(rho, payloads[i].Span)));
            secrets.Add(new BlindedHopSecrets(pathKey, ss, rho));
            if (i + 1 < nodeIds.Count)
            {
                e = SphinxCrypto.Blind(e, SphinxCrypto.BlindingFactor(pathKey, ss));
            }
        }
        var route = new BlindedPath(SciddirOrPubkey.FromNodeId(NodeId.FromECPubKey(nodeIds[0])), NodeId.FromECPubKey(secrets[0].PathKey), hops);
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
        if (encryptedRecipientData.Length < ChaChaPoly.TagLength)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "encrypted_recipient_data shorter than its tag");
        }
        if (!ChaChaPoly.TryDecrypt(rho.ToArray(), 0, ReadOnlySpan<byte>.Empty, encryptedRecipientData, out var plaintext))
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "encrypted_recipient_data does not decrypt");
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
    public static byte[] Encrypt(Bytes32 rho, ReadOnlySpan<byte> plaintext) =>
        ChaChaPoly.Encrypt(rho.ToArray(), 0, ReadOnlySpan<byte>.Empty, plaintext);
}
