using Satflow.Lightning.Types;

namespace Satflow.Lightning.Gossip;

/// <summary>How usable one of this node's own channels is right now, as the host sees it.</summary>
public enum ChannelAvailability
{
    /// <summary>The channel is open and its peer connected with the reestablish done: HTLCs can go through it.</summary>
    Usable,

    /// <summary>The channel is open but its peer is disconnected (or the reestablish has not completed).</summary>
    Offline,

    /// <summary>The channel is closing (shutdown, closing negotiation, mutual or force close): it will never carry HTLCs again.</summary>
    Closing,
}

/// <summary>What the host should do with its <c>channel_update</c> of a channel.</summary>
public enum ChannelStatusAction
{
    /// <summary>Nothing: the announced status is right (or it is too early to change it).</summary>
    None,

    /// <summary>Sign and broadcast a new <c>channel_update</c> with the <c>disable</c> bit set.</summary>
    Disable,

    /// <summary>Sign and broadcast a new <c>channel_update</c> with the <c>disable</c> bit cleared.</summary>
    Enable,
}

/// <summary>
/// Decides when this node's own <c>channel_update</c> of a public channel should flip its <c>disable</c> bit (BOLT 7:
/// "MAY create and send a <c>channel_update</c> with the <c>disable</c> bit set to 1, to signal a channel's temporary
/// unavailability (e.g. due to a loss of connectivity) OR permanent unavailability (e.g. prior to an on-chain
/// settlement)", and re-enable it later). To avoid flapping, a channel whose peer went offline is only disabled after it
/// stayed offline for <see cref="GossipOptions.DisableAfter"/>: a peer that reconnects within the grace period causes no
/// update at all, and a flapping peer causes at most two updates per grace period. A closing channel is disabled at
/// once; a usable channel announced disabled is enabled at once. Pure: the host passes the time and drives it from its
/// timer (and from its connect/disconnect hooks); not thread-safe.
/// </summary>
public sealed class ChannelStatusTracker
{
    private readonly Dictionary<ShortChannelId, DateTimeOffset> _offlineSince = [];

    /// <summary>Creates a tracker.</summary>
    /// <param name="options">The grace period comes from <see cref="GossipOptions.DisableAfter"/> (defaults when null).</param>
    public ChannelStatusTracker(GossipOptions? options = null)
    {
        DisableAfter = (options ?? new GossipOptions()).DisableAfter;
        if (DisableAfter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "The disable grace period must not be negative.");
        }
    }

    /// <summary>How long a channel's peer must stay offline before the channel is announced disabled.</summary>
    public TimeSpan DisableAfter { get; }

    /// <summary>Number of channels currently counted as offline.</summary>
    public int OfflineCount => _offlineSince.Count;

    /// <summary>
    /// The peer of a channel went offline at <paramref name="now"/> (the host's disconnect hook). An earlier start of the
    /// same outage is kept.
    /// </summary>
    /// <param name="shortChannelId">The channel.</param>
    /// <param name="now">When the peer disconnected.</param>
    public void PeerDisconnected(ShortChannelId shortChannelId, DateTimeOffset now) => _offlineSince.TryAdd(shortChannelId, now);

    /// <summary>When the current outage of a channel started, if it is counted as offline.</summary>
    /// <param name="shortChannelId">The channel.</param>
    public DateTimeOffset? OfflineSince(ShortChannelId shortChannelId) => _offlineSince.TryGetValue(shortChannelId, out var since) ? since : null;

    /// <summary>
    /// What to do with the channel's announced status now. <see cref="ChannelAvailability.Offline"/> starts counting
    /// the outage (when the disconnect hook did not) and gives <see cref="ChannelStatusAction.Disable"/> once it lasted
    /// <see cref="DisableAfter"/>; <see cref="ChannelAvailability.Usable"/> ends it and gives
    /// <see cref="ChannelStatusAction.Enable"/> when the channel is announced disabled;
    /// <see cref="ChannelAvailability.Closing"/> gives <see cref="ChannelStatusAction.Disable"/> at once. Never asks for an
    /// update that would not change the announced status.
    /// </summary>
    /// <param name="shortChannelId">The channel.</param>
    /// <param name="availability">How usable the channel is now.</param>
    /// <param name="announcedDisabled">Whether our latest <c>channel_update</c> of the channel has the <c>disable</c> bit.</param>
    /// <param name="now">The current time.</param>
    public ChannelStatusAction Evaluate(ShortChannelId shortChannelId, ChannelAvailability availability, bool announcedDisabled, DateTimeOffset now)
    {
        switch (availability)
        {
            case ChannelAvailability.Usable:
                _offlineSince.Remove(shortChannelId);
                return announcedDisabled ? ChannelStatusAction.Enable : ChannelStatusAction.None;
            case ChannelAvailability.Offline:
                var since = _offlineSince.TryGetValue(shortChannelId, out var s) ? s : now;
                _offlineSince[shortChannelId] = since;
                return !announcedDisabled && now - since >= DisableAfter ? ChannelStatusAction.Disable : ChannelStatusAction.None;
            case ChannelAvailability.Closing:
                _offlineSince.Remove(shortChannelId);
                return announcedDisabled ? ChannelStatusAction.None : ChannelStatusAction.Disable;
            default:
                throw new ArgumentOutOfRangeException(nameof(availability), availability, "Unknown channel availability.");
        }
    }

    /// <summary>Forgets a channel (closed on chain, or no longer announced).</summary>
    /// <param name="shortChannelId">The channel.</param>
    public void Forget(ShortChannelId shortChannelId) => _offlineSince.Remove(shortChannelId);
}
