using System.Globalization;

namespace Satflow.Lightning.Onion;

/// <summary>
/// A BOLT 4 <c>failure_code</c>: a 16-bit value whose top bits are flags (<see cref="BadOnionFlag"/>,
/// <see cref="PermFlag"/>, <see cref="NodeFlag"/>, <see cref="UpdateFlag"/>).
/// </summary>
/// <param name="Value">The 16-bit code with its flags.</param>
public readonly record struct FailureCode(ushort Value)
{
    /// <summary>0x8000: unparsable onion encrypted by the sending peer.</summary>
    public const ushort BadOnionFlag = 0x8000;

    /// <summary>0x4000: permanent failure (otherwise transient).</summary>
    public const ushort PermFlag = 0x4000;

    /// <summary>0x2000: node failure (otherwise channel).</summary>
    public const ushort NodeFlag = 0x2000;

    /// <summary>0x1000: a channel forwarding parameter was violated (carries a <c>channel_update</c>).</summary>
    public const ushort UpdateFlag = 0x1000;

    /// <summary><c>temporary_node_failure</c> (NODE|2).</summary>
    public static FailureCode TemporaryNodeFailure => new(NodeFlag | 2);

    /// <summary><c>permanent_node_failure</c> (PERM|NODE|2).</summary>
    public static FailureCode PermanentNodeFailure => new(PermFlag | NodeFlag | 2);

    /// <summary><c>required_node_feature_missing</c> (PERM|NODE|3).</summary>
    public static FailureCode RequiredNodeFeatureMissing => new(PermFlag | NodeFlag | 3);

    /// <summary><c>invalid_onion_version</c> (BADONION|PERM|4).</summary>
    public static FailureCode InvalidOnionVersion => new(BadOnionFlag | PermFlag | 4);

    /// <summary><c>invalid_onion_hmac</c> (BADONION|PERM|5).</summary>
    public static FailureCode InvalidOnionHmac => new(BadOnionFlag | PermFlag | 5);

    /// <summary><c>invalid_onion_key</c> (BADONION|PERM|6).</summary>
    public static FailureCode InvalidOnionKey => new(BadOnionFlag | PermFlag | 6);

    /// <summary><c>temporary_channel_failure</c> (UPDATE|7).</summary>
    public static FailureCode TemporaryChannelFailure => new(UpdateFlag | 7);

    /// <summary><c>permanent_channel_failure</c> (PERM|8).</summary>
    public static FailureCode PermanentChannelFailure => new(PermFlag | 8);

    /// <summary><c>required_channel_feature_missing</c> (PERM|9).</summary>
    public static FailureCode RequiredChannelFeatureMissing => new(PermFlag | 9);

    /// <summary><c>unknown_next_peer</c> (PERM|10).</summary>
    public static FailureCode UnknownNextPeer => new(PermFlag | 10);

    /// <summary><c>amount_below_minimum</c> (UPDATE|11).</summary>
    public static FailureCode AmountBelowMinimum => new(UpdateFlag | 11);

    /// <summary><c>fee_insufficient</c> (UPDATE|12).</summary>
    public static FailureCode FeeInsufficient => new(UpdateFlag | 12);

    /// <summary><c>incorrect_cltv_expiry</c> (UPDATE|13).</summary>
    public static FailureCode IncorrectCltvExpiry => new(UpdateFlag | 13);

    /// <summary><c>expiry_too_soon</c> (UPDATE|14).</summary>
    public static FailureCode ExpiryTooSoon => new(UpdateFlag | 14);

    /// <summary><c>incorrect_or_unknown_payment_details</c> (PERM|15).</summary>
    public static FailureCode IncorrectOrUnknownPaymentDetails => new(PermFlag | 15);

    /// <summary><c>final_incorrect_cltv_expiry</c> (18).</summary>
    public static FailureCode FinalIncorrectCltvExpiry => new(18);

    /// <summary><c>final_incorrect_htlc_amount</c> (19).</summary>
    public static FailureCode FinalIncorrectHtlcAmount => new(19);

    /// <summary><c>channel_disabled</c> (UPDATE|20).</summary>
    public static FailureCode ChannelDisabled => new(UpdateFlag | 20);

    /// <summary><c>expiry_too_far</c> (21).</summary>
    public static FailureCode ExpiryTooFar => new(21);

    /// <summary><c>invalid_onion_payload</c> (PERM|22).</summary>
    public static FailureCode InvalidOnionPayload => new(PermFlag | 22);

    /// <summary><c>mpp_timeout</c> (23).</summary>
    public static FailureCode MppTimeout => new(23);

    /// <summary><c>invalid_onion_blinding</c> (BADONION|PERM|24).</summary>
    public static FailureCode InvalidOnionBlinding => new(BadOnionFlag | PermFlag | 24);

    /// <summary>Every failure code the specification defines.</summary>
    public static IReadOnlyList<FailureCode> All { get; } =
    [
        TemporaryNodeFailure, PermanentNodeFailure, RequiredNodeFeatureMissing, InvalidOnionVersion, InvalidOnionHmac,
        InvalidOnionKey, TemporaryChannelFailure, PermanentChannelFailure, RequiredChannelFeatureMissing, UnknownNextPeer,
        AmountBelowMinimum, FeeInsufficient, IncorrectCltvExpiry, ExpiryTooSoon, IncorrectOrUnknownPaymentDetails,
        FinalIncorrectCltvExpiry, FinalIncorrectHtlcAmount, ChannelDisabled, ExpiryTooFar, InvalidOnionPayload, MppTimeout,
        InvalidOnionBlinding,
    ];

    /// <summary>True for BADONION codes (sent in <c>update_fail_malformed_htlc</c>).</summary>
    public bool IsBadOnion => (Value & BadOnionFlag) != 0;

    /// <summary>True for permanent failures.</summary>
    public bool IsPermanent => (Value & PermFlag) != 0;

    /// <summary>True for node failures (otherwise channel failures).</summary>
    public bool IsNode => (Value & NodeFlag) != 0;

    /// <summary>True when the failure carries a channel update.</summary>
    public bool IsUpdate => (Value & UpdateFlag) != 0;

    /// <summary>True when the specification defines this code.</summary>
    public bool IsKnown => All.Contains(this);

    /// <summary>The specification's name of the code, or <c>unknown_failure_0xNNNN</c>.</summary>
    public string Name => Value switch
    {
        NodeFlag | 2 => "temporary_node_failure",
        PermFlag | NodeFlag | 2 => "permanent_node_failure",
        PermFlag | NodeFlag | 3 => "required_node_feature_missing",
        BadOnionFlag | PermFlag | 4 => "invalid_onion_version",
        BadOnionFlag | PermFlag | 5 => "invalid_onion_hmac",
        BadOnionFlag | PermFlag | 6 => "invalid_onion_key",
        UpdateFlag | 7 => "temporary_channel_failure",
        PermFlag | 8 => "permanent_channel_failure",
        PermFlag | 9 => "required_channel_feature_missing",
        PermFlag | 10 => "unknown_next_peer",
        UpdateFlag | 11 => "amount_below_minimum",
        UpdateFlag | 12 => "fee_insufficient",
        UpdateFlag | 13 => "incorrect_cltv_expiry",
        UpdateFlag | 14 => "expiry_too_soon",
        PermFlag | 15 => "incorrect_or_unknown_payment_details",
        18 => "final_incorrect_cltv_expiry",
        19 => "final_incorrect_htlc_amount",
        UpdateFlag | 20 => "channel_disabled",
        21 => "expiry_too_far",
        PermFlag | 22 => "invalid_onion_payload",
        23 => "mpp_timeout",
        BadOnionFlag | PermFlag | 24 => "invalid_onion_blinding",
        _ => "unknown_failure_0x" + Value.ToString("x4", CultureInfo.InvariantCulture),
    };

    /// <inheritdoc />
    public override string ToString() => Name;
}
