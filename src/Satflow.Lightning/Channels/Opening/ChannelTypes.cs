using Satflow.Lightning.Features;
using Satflow.Lightning.Transactions;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>The BOLT 2 channel types this node offers and accepts, and the commitment format each implies.</summary>
public static class ChannelTypes
{
    /// <summary><c>option_static_remotekey</c> alone (bit 12).</summary>
    public static FeatureBits StaticRemoteKey { get; } = FeatureBits.Of(FeatureRegistry.StaticRemoteKey.EvenBit);

    /// <summary><c>option_anchors</c> (zero-fee HTLC transactions) with <c>option_static_remotekey</c> (bits 12 and 22): the default.</summary>
    public static FeatureBits AnchorsZeroFeeHtlcTx { get; } =
        FeatureBits.Of(FeatureRegistry.StaticRemoteKey.EvenBit, FeatureRegistry.Anchors.EvenBit);

    /// <summary>
    /// True when <paramref name="channelType"/> is a defined basic type (static remote key, or anchors with static
    /// remote key) with at most the <c>option_scid_alias</c> and <c>option_zeroconf</c> variations, all as even bits.
    /// </summary>
    public static bool IsDefined(FeatureBits channelType)
    {
        ArgumentNullException.ThrowIfNull(channelType);
        var basic = channelType.Without(FeatureRegistry.ScidAlias.EvenBit).Without(FeatureRegistry.ZeroConf.EvenBit);
        return basic.Equals(StaticRemoteKey) || basic.Equals(AnchorsZeroFeeHtlcTx);
    }

    /// <summary>True when the type has the <c>option_scid_alias</c> variation.</summary>
    public static bool HasScidAlias(FeatureBits channelType)
    {
        ArgumentNullException.ThrowIfNull(channelType);
        return channelType.IsSet(FeatureRegistry.ScidAlias.EvenBit);
    }

    /// <summary>True when the type has the <c>option_zeroconf</c> variation.</summary>
    public static bool HasZeroConf(FeatureBits channelType)
    {
        ArgumentNullException.ThrowIfNull(channelType);
        return channelType.IsSet(FeatureRegistry.ZeroConf.EvenBit);
    }

    /// <summary>The commitment format of a defined channel type.</summary>
    /// <exception cref="ArgumentException">When the type is not defined (<see cref="IsDefined"/>).</exception>
    public static CommitmentFormat FormatOf(FeatureBits channelType)
    {
        if (!IsDefined(channelType))
        {
            throw new ArgumentException($"Channel type {channelType} is not a defined type.", nameof(channelType));
        }
        return channelType.IsSet(FeatureRegistry.Anchors.EvenBit) ? CommitmentFormat.AnchorOutputs : CommitmentFormat.StaticRemoteKey;
    }
}
