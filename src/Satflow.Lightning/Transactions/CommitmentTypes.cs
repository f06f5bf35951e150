using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>The commitment transaction format negotiated for a channel.</summary>
public enum CommitmentFormat
{
    /// <summary><c>option_static_remotekey</c>: <c>to_remote</c> is a P2WPKH, HTLC transactions pay a fee.</summary>
    StaticRemoteKey,

    /// <summary><c>option_anchors</c> (zero-fee HTLC): two 330-sat anchors, CSV-1 outputs, zero-fee HTLC transactions.</summary>
    AnchorOutputs,
}

/// <summary>The direction of an HTLC seen from the owner of the commitment transaction.</summary>
public enum HtlcDirection
{
    /// <summary>The owner offered (sends) the HTLC; it is resolved on the owner's side by an HTLC-timeout transaction.</summary>
    Offered,

    /// <summary>The owner received the HTLC; it is resolved on the owner's side by an HTLC-success transaction.</summary>
    Received,
}

/// <summary>An HTLC committed to a commitment transaction.</summary>
/// <param name="Id">The HTLC id (from <c>update_add_htlc</c>); carried through, not used in scripts.</param>
/// <param name="Direction">Offered or received, from the commitment owner's view.</param>
/// <param name="Amount">The HTLC amount.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="CltvExpiry">The absolute block height at which the HTLC times out.</param>
public sealed record CommitmentHtlc(ulong Id, HtlcDirection Direction, MilliSatoshi Amount, PaymentHash PaymentHash, uint CltvExpiry);

/// <summary>What a commitment output pays to.</summary>
public enum CommitmentOutputKind
{
    /// <summary>The owner's delayed, revocable balance.</summary>
    ToLocal,

    /// <summary>The other party's balance.</summary>
    ToRemote,

    /// <summary>The owner's anchor (locked to the owner's funding key).</summary>
    LocalAnchor,

    /// <summary>The other party's anchor (locked to their funding key).</summary>
    RemoteAnchor,

    /// <summary>An HTLC the owner offered.</summary>
    OfferedHtlc,

    /// <summary>An HTLC the owner received.</summary>
    ReceivedHtlc,
}

/// <summary>One output of a built commitment transaction.</summary>
/// <param name="Index">The output index in the transaction (after BIP 69 + CLTV ordering).</param>
/// <param name="Kind">What the output pays to.</param>
/// <param name="Amount">The output amount.</param>
/// <param name="WitnessScript">The P2WSH witness script, or <c>null</c> for the P2WPKH <c>to_remote</c> of <see cref="CommitmentFormat.StaticRemoteKey"/>.</param>
/// <param name="ScriptPubKey">The output script.</param>
/// <param name="Htlc">The HTLC for HTLC outputs, otherwise <c>null</c>.</param>
public sealed record CommitmentOutput(int Index, CommitmentOutputKind Kind, Money Amount, Script? WitnessScript, Script ScriptPubKey, CommitmentHtlc? Htlc);

/// <summary>
/// The keys of one commitment transaction, already derived for its per-commitment point ("local" is the owner of the
/// commitment transaction).
/// </summary>
/// <param name="LocalFundingPubKey">The owner's funding key.</param>
/// <param name="RemoteFundingPubKey">The other party's funding key.</param>
/// <param name="RevocationPubKey">The blinded revocation key.</param>
/// <param name="LocalDelayedPubKey">The owner's delayed payment key.</param>
/// <param name="LocalHtlcPubKey">The owner's HTLC key.</param>
/// <param name="RemoteHtlcPubKey">The other party's HTLC key.</param>
/// <param name="RemotePaymentPubKey">The other party's <c>remotepubkey</c> (its payment basepoint with static remote key).</param>
public sealed record CommitmentKeys(
    PubKey LocalFundingPubKey,
    PubKey RemoteFundingPubKey,
    PubKey RevocationPubKey,
    PubKey LocalDelayedPubKey,
    PubKey LocalHtlcPubKey,
    PubKey RemoteHtlcPubKey,
    PubKey RemotePaymentPubKey)
{
    /// <summary>Derives the keys of the owner's commitment from both sides' basepoints and the owner's per-commitment point.</summary>
    /// <param name="localFundingPubKey">The owner's funding key.</param>
    /// <param name="remoteFundingPubKey">The other party's funding key.</param>
    /// <param name="remoteRevocationBasepoint">The other party's revocation basepoint.</param>
    /// <param name="localDelayedPaymentBasepoint">The owner's delayed payment basepoint.</param>
    /// <param name="localHtlcBasepoint">The owner's HTLC basepoint.</param>
    /// <param name="remoteHtlcBasepoint">The other party's HTLC basepoint.</param>
    /// <param name="remotePaymentBasepoint">The other party's payment basepoint (used as is: static remote key).</param>
    /// <param name="perCommitmentPoint">The owner's per-commitment point of this commitment.</param>
    public static CommitmentKeys Derive(
        PubKey localFundingPubKey,
        PubKey remoteFundingPubKey,
        PubKey remoteRevocationBasepoint,
        PubKey localDelayedPaymentBasepoint,
        PubKey localHtlcBasepoint,
        PubKey remoteHtlcBasepoint,
        PubKey remotePaymentBasepoint,
        PubKey perCommitmentPoint) =>
        new(
            localFundingPubKey,
            remoteFundingPubKey,
            KeyDerivation.DeriveRevocationPubKey(remoteRevocationBasepoint, perCommitmentPoint),
            KeyDerivation.DerivePubKey(localDelayedPaymentBasepoint, perCommitmentPoint),
            KeyDerivation.DerivePubKey(localHtlcBasepoint, perCommitmentPoint),
            KeyDerivation.DerivePubKey(remoteHtlcBasepoint, perCommitmentPoint),
            remotePaymentBasepoint);
}

/// <summary>The channel-level inputs of a commitment transaction.</summary>
/// <param name="Format">The commitment format.</param>
/// <param name="FundingOutPoint">The funding output.</param>
/// <param name="FundingAmount">The funding output amount.</param>
/// <param name="CommitmentNumber">The 48-bit commitment number (counting up from 0).</param>
/// <param name="ObscuringFactor">The 48-bit obscuring factor (<see cref="CommitmentNumberObscuring.Factor"/>).</param>
/// <param name="ToSelfDelay">The owner's <c>to_self_delay</c> (set by the other party).</param>
/// <param name="DustLimit">The owner's <c>dust_limit_satoshis</c>.</param>
/// <param name="FeeratePerKw">The commitment <c>feerate_per_kw</c> in satoshis per 1000 weight units.</param>
/// <param name="LocalIsFunder">Whether the owner of the commitment transaction funded the channel (pays the fee and anchors).</param>
public sealed record CommitmentParameters(
    CommitmentFormat Format,
    OutPoint FundingOutPoint,
    Money FundingAmount,
    ulong CommitmentNumber,
    ulong ObscuringFactor,
    ushort ToSelfDelay,
    Money DustLimit,
    uint FeeratePerKw,
    bool LocalIsFunder);
