using NBitcoin;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>
/// BOLT 3 per-commitment key derivation: <c>localpubkey</c>, <c>local_htlcpubkey</c>, <c>remote_htlcpubkey</c>,
/// <c>local_delayedpubkey</c>, <c>remote_delayedpubkey</c>, their private keys, and the blinded revocation key pair.
/// </summary>
public static class KeyDerivation
{
    /// <summary>The per-commitment point of a per-commitment secret: <c>secret·G</c>.</summary>
    /// <exception cref="ArgumentException">When the secret is zero or not below the curve order.</exception>
    public static PubKey PerCommitmentPoint(Bytes32 perCommitmentSecret)
    {
        if (!ECPrivKey.TryCreate(perCommitmentSecret.ToArray(), out var key) || key is null)
        {
            throw new ArgumentException("The per-commitment secret is not a valid secp256k1 scalar.", nameof(perCommitmentSecret));
        }
        using (key)
        {
            return Secp256k1Helpers.ToPubKey(key.CreatePubKey());
        }
    }

    /// <summary><c>basepoint + SHA256(per_commitment_point || basepoint)·G</c>.</summary>
    public static PubKey DerivePubKey(PubKey basepoint, PubKey perCommitmentPoint)
    {
        ArgumentNullException.ThrowIfNull(basepoint);
        ArgumentNullException.ThrowIfNull(perCommitmentPoint);
        var tweak = Secp256k1Helpers.Sha256(perCommitmentPoint.Compress().ToBytes(), basepoint.Compress().ToBytes());
        return Secp256k1Helpers.ToPubKey(Secp256k1Helpers.ToECPubKey(basepoint).AddTweak(tweak));
    }

    /// <summary><c>basepoint_secret + SHA256(per_commitment_point || basepoint)</c>.</summary>
    public static Key DerivePrivateKey(Key basepointSecret, PubKey perCommitmentPoint)
    {
        ArgumentNullException.ThrowIfNull(basepointSecret);
        ArgumentNullException.ThrowIfNull(perCommitmentPoint);
        var tweak = Secp256k1Helpers.Sha256(perCommitmentPoint.Compress().ToBytes(), basepointSecret.PubKey.Compress().ToBytes());
        using var secret = Secp256k1Helpers.ToECPrivKey(basepointSecret);
        using var derived = secret.TweakAdd(tweak);
        return Secp256k1Helpers.ToKey(derived);
    }

    /// <summary>
    /// <c>revocation_basepoint·SHA256(revocation_basepoint || per_commitment_point) +
    /// per_commitment_point·SHA256(per_commitment_point || revocation_basepoint)</c>.
    /// </summary>
    public static PubKey DeriveRevocationPubKey(PubKey revocationBasepoint, PubKey perCommitmentPoint)
    {
        ArgumentNullException.ThrowIfNull(revocationBasepoint);
        ArgumentNullException.ThrowIfNull(perCommitmentPoint);
        var basepointBytes = revocationBasepoint.Compress().ToBytes();
        var pointBytes = perCommitmentPoint.Compress().ToBytes();
        var basepointFactor = Secp256k1Helpers.Sha256(basepointBytes, pointBytes);
        var pointFactor = Secp256k1Helpers.Sha256(pointBytes, basepointBytes);
        var first = Secp256k1Helpers.ToECPubKey(revocationBasepoint).TweakMul(basepointFactor);
        var second = Secp256k1Helpers.ToECPubKey(perCommitmentPoint).TweakMul(pointFactor);
        if (!ECPubKey.TryCombine(Context.Instance, [first, second], out var combined) || combined is null)
        {
            throw new ArgumentException("The revocation key derivation produced the point at infinity.", nameof(perCommitmentPoint));
        }
        return Secp256k1Helpers.ToPubKey(combined);
    }

    /// <summary>
    /// <c>revocation_basepoint_secret·SHA256(revocation_basepoint || per_commitment_point) +
    /// per_commitment_secret·SHA256(per_commitment_point || revocation_basepoint)</c>.
    /// </summary>
    public static Key DeriveRevocationPrivateKey(Key revocationBasepointSecret, Bytes32 perCommitmentSecret)
    {
        ArgumentNullException.ThrowIfNull(revocationBasepointSecret);
        var perCommitmentPoint = PerCommitmentPoint(perCommitmentSecret);
        var basepointBytes = revocationBasepointSecret.PubKey.Compress().ToBytes();
        var pointBytes = perCommitmentPoint.Compress().ToBytes();
        var basepointFactor = Secp256k1Helpers.Sha256(basepointBytes, pointBytes);
        var pointFactor = Secp256k1Helpers.Sha256(pointBytes, basepointBytes);
        using var basepointSecret = Secp256k1Helpers.ToECPrivKey(revocationBasepointSecret);
        using var first = basepointSecret.TweakMul(basepointFactor);
        using var commitmentSecret = ECPrivKey.Create(perCommitmentSecret.ToArray());
        using var second = commitmentSecret.TweakMul(pointFactor);
        var secondBytes = new byte[32];
        second.WriteToSpan(secondBytes);
        using var sum = first.TweakAdd(secondBytes);
        return Secp256k1Helpers.ToKey(sum);
    }
}
