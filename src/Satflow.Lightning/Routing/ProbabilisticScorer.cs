using Satflow.Lightning.Types;

namespace Satflow.Lightning.Routing;

/// <summary>Tuning of <see cref="ProbabilisticScorer"/>. Penalties are in millisatoshis so they add up with fees.</summary>
/// <param name="BasePenaltyMsat">Fixed penalty per hop (prefers shorter routes at equal fees).</param>
/// <param name="LiquidityPenaltyMultiplierMsat">Penalty per unit of <c>-log10(success probability)</c>: 30,000 msat means a 10 % chance costs 30 sat.</param>
/// <param name="CltvPenaltyMsatPerBlock">Penalty per block of <c>cltv_expiry_delta</c> a hop adds (funds locked longer on failure).</param>
/// <param name="HalfLife">Learned bounds move halfway back to the prior (no knowledge) after this long.</param>
public sealed record ScorerParameters(
    ulong BasePenaltyMsat = 500,
    ulong LiquidityPenaltyMultiplierMsat = 30_000,
    ulong CltvPenaltyMsatPerBlock = 10,
    TimeSpan HalfLife = default)
{
    /// <summary>The defaults (half-life six hours, as LDK).</summary>
    public static ScorerParameters Default { get; } = new();

    /// <summary>The effective half-life (six hours when left at zero).</summary>
    public TimeSpan EffectiveHalfLife => HalfLife > TimeSpan.Zero ? HalfLife : TimeSpan.FromHours(6);
}

/// <summary>
/// Learns, per channel direction, bounds [min, max] on the liquidity available for forwarding from the results of
/// earlier payment attempts, in the spirit of LDK's <c>ProbabilisticScorer</c> and LND's mission control. Without
/// knowledge the liquidity is uniformly distributed over [0, capacity]; with bounds it is uniform over [min, max], so
/// the chance that <c>a</c> fits is <c>(max + 1 - a) / (max + 1 - min)</c> (1 below min, 0 above max). Learned bounds
/// decay exponentially toward [0, capacity] with <see cref="ScorerParameters.HalfLife"/>. Time is always passed in.
/// Not thread-safe.
/// </summary>
public sealed class ProbabilisticScorer
{
    private readonly Dictionary<(ShortChannelId Scid, int Direction), Bounds> _bounds = [];
    private readonly double _halfLifeSeconds;

    /// <summary>Creates a scorer.</summary>
    public ProbabilisticScorer(ScorerParameters? parameters = null)
    {
        Parameters = parameters ?? ScorerParameters.Default;
        _halfLifeSeconds = Parameters.EffectiveHalfLife.TotalSeconds;
    }

    /// <summary>The tuning in use.</summary>
    public ScorerParameters Parameters { get; }

    /// <summary>Number of channel directions with learned bounds.</summary>
    public int LearnedChannelDirections => _bounds.Count;

    /// <summary>The current (decayed) liquidity bounds of a channel direction of the given capacity.</summary>
    public (MilliSatoshi Min, MilliSatoshi Max) EstimatedLiquidity(ShortChannelId scid, int direction, MilliSatoshi capacity, DateTimeOffset now)
    {
        var (min, max) = Current(scid, direction, capacity.Value, now);
        return (new MilliSatoshi(min), new MilliSatoshi(max));
    }

    /// <summary>The estimated chance that <paramref name="amount"/> can be forwarded through the channel direction.</summary>
    public double SuccessProbability(ShortChannelId scid, int direction, MilliSatoshi amount, MilliSatoshi capacity, DateTimeOffset now) =>
        Probability(scid, direction, amount.Value, capacity.Value, now);

    /// <summary>
    /// The penalty in millisatoshis of sending <paramref name="amount"/> through the channel direction:
    /// base + CLTV penalty + <c>-log10(probability)</c> × multiplier; positive infinity when the learned bounds say it cannot fit.
    /// </summary>
    public double Penalty(ShortChannelId scid, int direction, MilliSatoshi amount, MilliSatoshi capacity, int cltvExpiryDelta, DateTimeOffset now) =>
        PenaltyMsat(scid, direction, amount.Value, capacity.Value, cltvExpiryDelta, now);

    /// <summary>
    /// Records that a payment part failed at hop <paramref name="failedHopIndex"/> of <paramref name="route"/> because of
    /// liquidity (for example <c>temporary_channel_failure</c>): the failing channel could not forward the hop's amount
    /// (its max drops below it) and every earlier channel could (its min rises to the amount it carried).
    /// Hops not in the graph (private route hints) are skipped.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">When the index is not a hop of the route.</exception>
    public void PaymentPathFailed(NetworkGraph graph, Route route, int failedHopIndex, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(route);
        ArgumentOutOfRangeException.ThrowIfNegative(failedHopIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(failedHopIndex, route.Hops.Count);
        for (var i = 0; i <= failedHopIndex; i++)
        {
            if (!TryLocate(graph, route, i, out var direction, out var capacity))
            {
                continue;
            }

            var hop = route.Hops[i];
            var (min, max) = Current(hop.ShortChannelId, direction, capacity, now);
            var amount = hop.Amount.Value;
            if (i < failedHopIndex)
            {
                min = Math.Max(min, Math.Min(amount, capacity));
                max = Math.Max(max, min);
            }
            else
            {
                max = Math.Min(max, amount == 0 ? 0 : amount - 1);
                min = Math.Min(min, max);
            }

            Store(hop.ShortChannelId, direction, capacity, min, max, now);
        }
    }

    /// <summary>
    /// Records that a payment part succeeded: each channel held at least the amount it carried, and that amount has now
    /// moved to the other side, so the bounds become [max(min, a) − a, max − a].
    /// </summary>
    public void PaymentPathSucceeded(NetworkGraph graph, Route route, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(route);
        for (var i = 0; i < route.Hops.Count; i++)
        {
            if (!TryLocate(graph, route, i, out var direction, out var capacity))
            {
                continue;
            }

            var hop = route.Hops[i];
            var (min, max) = Current(hop.ShortChannelId, direction, capacity, now);
            var amount = Math.Min(hop.Amount.Value, capacity);
            max = Math.Max(max, amount) - amount;
            min = Math.Max(min, amount) - amount;
            Store(hop.ShortChannelId, direction, capacity, Math.Min(min, max), max, now);
        }
    }

    /// <summary>Forgets everything learned.</summary>
    public void Clear() => _bounds.Clear();

    internal double PenaltyMsat(ShortChannelId scid, int direction, ulong amountMsat, ulong capacityMsat, int cltvExpiryDelta, DateTimeOffset now)
    {
        var p = Probability(scid, direction, amountMsat, capacityMsat, now);
        if (p <= 0)
        {
            return double.PositiveInfinity;
        }

        return Parameters.BasePenaltyMsat + ((double)Parameters.CltvPenaltyMsatPerBlock * cltvExpiryDelta)
            - (Math.Log10(p) * Parameters.LiquidityPenaltyMultiplierMsat);
    }

    internal double Probability(ShortChannelId scid, int direction, ulong amountMsat, ulong capacityMsat, DateTimeOffset now)
    {
        var (min, max) = Current(scid, direction, capacityMsat, now);
        if (amountMsat <= min)
        {
            return 1;
        }

        if (amountMsat > max)
        {
            return 0;
        }

        return ((double)(max - amountMsat) + 1) / ((double)(max - min) + 1);
    }

    private (ulong Min, ulong Max) Current(ShortChannelId scid, int direction, ulong capacityMsat, DateTimeOffset now)
    {
        if (_bounds.Count == 0 || !_bounds.TryGetValue((scid, direction), out var b))
        {
            return (0, capacityMsat);
        }

        var elapsed = (now - b.LastUpdated).TotalSeconds;
        var factor = elapsed <= 0 ? 1.0 : Math.Pow(0.5, elapsed / _halfLifeSeconds);
        var min = Math.Min((ulong)(b.MinMsat * factor), capacityMsat);
        var offset = Math.Min((ulong)(b.MaxOffsetMsat * factor), capacityMsat);
        var max = capacityMsat - offset;
        return (Math.Min(min, max), max);
    }

    private void Store(ShortChannelId scid, int direction, ulong capacityMsat, ulong min, ulong max, DateTimeOffset now)
    {
        max = Math.Min(max, capacityMsat);
        _bounds[(scid, direction)] = new Bounds(Math.Min(min, max), capacityMsat - max, now);
    }

    private static bool TryLocate(NetworkGraph graph, Route route, int hopIndex, out int direction, out ulong capacityMsat)
    {
        var hop = route.Hops[hopIndex];
        var from = hopIndex == 0 ? route.Source : route.Hops[hopIndex - 1].Node;
        direction = 0;
        capacityMsat = 0;
        if (!graph.TryGetChannelIndex(hop.ShortChannelId, out var c))
        {
            return false;
        }

        var n1 = graph.NodeAt(graph.Node1(c));
        var n2 = graph.NodeAt(graph.Node2(c));
        if (from == n1 && hop.Node == n2)
        {
            direction = 0;
        }
        else if (from == n2 && hop.Node == n1)
        {
            direction = 1;
        }
        else
        {
            return false;
        }

        capacityMsat = graph.CapacityMsat(c);
        return true;
    }

    private readonly record struct Bounds(ulong MinMsat, ulong MaxOffsetMsat, DateTimeOffset LastUpdated);
}
