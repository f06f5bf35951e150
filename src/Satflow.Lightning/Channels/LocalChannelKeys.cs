using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels;

/// <summary>The public basepoints one side of a channel sends in <c>open_channel</c>/<c>accept_channel</c>.</summary>
/// <param name="FundingPubKey">The 2-of-2 funding key.</param>
/// <param name="RevocationBasepoint">The revocation basepoint.</param>
/// <param name="PaymentBasepoint">The payment basepoint (used as is: <c>option_static_remotekey</c>).</param>
/// <param name="DelayedPaymentBasepoint">The delayed payment basepoint.</param>
/// <param name="HtlcBasepoint">The HTLC basepoint.</param>
public sealed record ChannelBasepoints(
    PubKey FundingPubKey,
    PubKey RevocationBasepoint,
    PubKey PaymentBasepoint,
    PubKey DelayedPaymentBasepoint,
    PubKey HtlcBasepoint);

/// <summary>
/// The secrets of our side of one channel: the funding key, the four basepoint secrets and the per-commitment seed.
/// Derived deterministically from the node seed and a channel key index, so a static channel backup that stores only
/// the index can re-derive them.
/// </summary>
public sealed class LocalChannelKeys
{
    /// <summary>The BIP 32 purpose used for channel keys (as LND's key families).</summary>
    public const int KeyPurpose = 1017;

    private LocalChannelKeys(Key funding, Key revocation, Key payment, Key delayed, Key htlc, Bytes32 perCommitmentSeed)
    {
        FundingKey = funding;
        RevocationBasepointSecret = revocation;
        PaymentBasepointSecret = payment;
        DelayedPaymentBasepointSecret = delayed;
        HtlcBasepointSecret = htlc;
        PerCommitmentSeed = perCommitmentSeed;
        Basepoints = new ChannelBasepoints(funding.PubKey, revocation.PubKey, payment.PubKey, delayed.PubKey, htlc.PubKey);
    }

    /// <summary>The funding key.</summary>
    public Key FundingKey { get; }

    /// <summary>The revocation basepoint secret.</summary>
    public Key RevocationBasepointSecret { get; }

    /// <summary>The payment basepoint secret (with static remote key, it signs our <c>to_remote</c> outputs directly).</summary>
    public Key PaymentBasepointSecret { get; }

    /// <summary>The delayed payment basepoint secret.</summary>
    public Key DelayedPaymentBasepointSecret { get; }

    /// <summary>The HTLC basepoint secret.</summary>
    public Key HtlcBasepointSecret { get; }

    /// <summary>The seed of our per-commitment secrets (BOLT 3 <c>generate_from_seed</c>).</summary>
    public Bytes32 PerCommitmentSeed { get; }

    /// <summary>Our public basepoints.</summary>
    public ChannelBasepoints Basepoints { get; }

    /// <summary>
    /// Derives the keys of channel number <paramref name="channelKeyIndex"/> from a 32..64-byte node seed, along
    /// <c>m/1017'/0'/family'/index'</c> (families: 0 funding, 1 revocation, 2 htlc, 3 payment, 4 delayed, 5 commitment seed).
    /// </summary>
    /// <param name="nodeSeed">The node seed (16..64 bytes).</param>
    /// <param name="channelKeyIndex">The channel key index (below 2^31).</param>
    public static LocalChannelKeys Derive(ReadOnlySpan<byte> nodeSeed, uint channelKeyIndex)
    {
        if (nodeSeed.Length is < 16 or > 64)
        {
            throw new ArgumentException("The node seed must be 16..64 bytes.", nameof(nodeSeed));
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channelKeyIndex, 0x8000_0000u);
        var master = ExtKey.CreateFromSeed(nodeSeed.ToArray());
        Key Family(uint family) => master.Derive(new KeyPath($"{KeyPurpose}'/0'/{family}'/{channelKeyIndex}'")).PrivateKey;
        var seed = Family(5).ToBytes();
        return new LocalChannelKeys(Family(0), Family(1), Family(3), Family(4), Family(2), new Bytes32(seed));
    }

    /// <summary>Builds keys from explicit secrets (tests and the BOLT 3 vectors).</summary>
    public static LocalChannelKeys FromSecrets(Key funding, Key revocationBasepointSecret, Key paymentBasepointSecret, Key delayedPaymentBasepointSecret, Key htlcBasepointSecret, Bytes32 perCommitmentSeed)
    {
        ArgumentNullException.ThrowIfNull(funding);
        ArgumentNullException.ThrowIfNull(revocationBasepointSecret);
        ArgumentNullException.ThrowIfNull(paymentBasepointSecret);
        ArgumentNullException.ThrowIfNull(delayedPaymentBasepointSecret);
        ArgumentNullException.ThrowIfNull(htlcBasepointSecret);
        return new LocalChannelKeys(funding, revocationBasepointSecret, paymentBasepointSecret, delayedPaymentBasepointSecret, htlcBasepointSecret, perCommitmentSeed);
    }

    /// <summary>Our per-commitment secret of commitment number <paramref name="commitmentNumber"/> (counting up from 0).</summary>
    public Bytes32 PerCommitmentSecret(ulong commitmentNumber) =>
        PerCommitmentSecrets.Generate(PerCommitmentSeed, PerCommitmentSecrets.IndexOfCommitment(commitmentNumber));

    /// <summary>Our per-commitment point of commitment number <paramref name="commitmentNumber"/> (counting up from 0).</summary>
    public PubKey PerCommitmentPoint(ulong commitmentNumber) => KeyDerivation.PerCommitmentPoint(PerCommitmentSecret(commitmentNumber));
}
