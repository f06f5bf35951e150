using CsCheck;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Gossip;

public sealed class ChannelStatusTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
    private static readonly ShortChannelId Scid = new(800_000, 1, 0);
    private static readonly ShortChannelId Other = new(800_001, 2, 1);

    [Fact]
    public void An_offline_channel_is_disabled_only_after_the_grace_period_and_enabled_when_usable_again()
    {
        var tracker = new ChannelStatusTracker(new GossipOptions { DisableAfter = TimeSpan.FromMinutes(5) });
        Assert.Equal(TimeSpan.FromMinutes(5), tracker.DisableAfter);
        tracker.PeerDisconnected(Scid, T0);
        Assert.Equal(T0, tracker.OfflineSince(Scid));
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0.AddMinutes(1)));
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0.AddMinutes(5).AddSeconds(-1)));
        Assert.Equal(ChannelStatusAction.Disable, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0.AddMinutes(5)));
        // Announced disabled: nothing more while the peer stays away.
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Offline, true, T0.AddHours(3)));
        Assert.Equal(1, tracker.OfflineCount);
        // Back: enabled at once, and the outage is over.
        Assert.Equal(ChannelStatusAction.Enable, tracker.Evaluate(Scid, ChannelAvailability.Usable, true, T0.AddHours(3)));
        Assert.Null(tracker.OfflineSince(Scid));
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Usable, false, T0.AddHours(3)));
        Assert.Equal(0, tracker.OfflineCount);
    }

    [Fact]
    public void A_peer_back_within_the_grace_period_causes_no_update_and_the_next_outage_starts_afresh()
    {
        var tracker = new ChannelStatusTracker();
        Assert.Equal(new GossipOptions().DisableAfter, tracker.DisableAfter);
        tracker.PeerDisconnected(Scid, T0);
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Usable, false, T0.AddMinutes(2)));
        tracker.PeerDisconnected(Scid, T0.AddMinutes(4));
        // Counted from the second disconnection, not the first.
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0.AddMinutes(6)));
        Assert.Equal(ChannelStatusAction.Disable, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0.AddMinutes(4) + tracker.DisableAfter));
        // A second disconnect notice of the same outage keeps its start.
        tracker.PeerDisconnected(Other, T0);
        tracker.PeerDisconnected(Other, T0.AddMinutes(3));
        Assert.Equal(T0, tracker.OfflineSince(Other));
    }

    [Fact]
    public void Without_a_disconnect_notice_the_outage_counts_from_the_first_offline_evaluation()
    {
        var tracker = new ChannelStatusTracker(new GossipOptions { DisableAfter = TimeSpan.FromSeconds(30) });
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0));
        Assert.Equal(T0, tracker.OfflineSince(Scid));
        Assert.Equal(ChannelStatusAction.Disable, tracker.Evaluate(Scid, ChannelAvailability.Offline, false, T0.AddSeconds(30)));
        tracker.Forget(Scid);
        Assert.Null(tracker.OfflineSince(Scid));
    }

    [Fact]
    public void A_closing_channel_is_disabled_at_once_and_only_once()
    {
        var tracker = new ChannelStatusTracker();
        tracker.PeerDisconnected(Scid, T0);
        Assert.Equal(ChannelStatusAction.Disable, tracker.Evaluate(Scid, ChannelAvailability.Closing, false, T0));
        Assert.Null(tracker.OfflineSince(Scid));
        Assert.Equal(ChannelStatusAction.None, tracker.Evaluate(Scid, ChannelAvailability.Closing, true, T0.AddDays(1)));
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChannelStatusTracker(new GossipOptions { DisableAfter = TimeSpan.FromSeconds(-1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChannelStatusTracker().Evaluate(Scid, (ChannelAvailability)7, false, T0));
    }

    /// <summary>
    /// Any sequence of disconnections, reconnections and timer ticks: a disable is only ever asked for after the peer was
    /// continuously offline for the grace period, an enable only when usable, each asks for a real change, and a flapping
    /// peer causes at most two updates per grace period.
    /// </summary>
    [Fact]
    public void Random_connectivity_never_flaps_faster_than_the_grace_period()
    {
        var grace = TimeSpan.FromMinutes(5);
        var step = Gen.Select(Gen.Int[0, 2], Gen.Int[1, 400]);
        step.Array[1, 200].Sample(steps =>
        {
            var tracker = new ChannelStatusTracker(new GossipOptions { DisableAfter = grace });
            var now = T0;
            var online = true;
            DateTimeOffset? offlineSince = null;
            var disabled = false;
            var updates = new List<DateTimeOffset>();
            foreach (var (kind, seconds) in steps)
            {
                now = now.AddSeconds(seconds);
                switch (kind)
                {
                    case 0 when online:
                        online = false;
                        offlineSince = now;
                        tracker.PeerDisconnected(Scid, now);
                        break;
                    case 1 when !online:
                        online = true;
                        offlineSince = null;
                        break;
                }
                var action = tracker.Evaluate(Scid, online ? ChannelAvailability.Usable : ChannelAvailability.Offline, disabled, now);
                switch (action)
                {
                    case ChannelStatusAction.Disable:
                        Assert.False(online);
                        Assert.False(disabled);
                        Assert.True(now - offlineSince!.Value >= grace);
                        disabled = true;
                        updates.Add(now);
                        break;
                    case ChannelStatusAction.Enable:
                        Assert.True(online);
                        Assert.True(disabled);
                        disabled = false;
                        updates.Add(now);
                        break;
                    default:
                        // Nothing asked: the announced state is right, or the outage is younger than the grace period.
                        Assert.True(online ? !disabled : disabled || now - offlineSince!.Value < grace);
                        break;
                }
            }
            for (var i = 2; i < updates.Count; i++)
            {
                Assert.True(updates[i] - updates[i - 2] >= grace, $"three updates within {updates[i] - updates[i - 2]}");
            }
        }, iter: 500);
    }
}
