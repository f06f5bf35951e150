using Satflow.Lightning.Onion;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Payments;

/// <summary>
/// A simulated network behind a payment session: every channel direction has a hidden real balance; a part travels hop
/// by hop and fails with <c>temporary_channel_failure</c> from the node that lacks the balance; the recipient holds
/// parts until they sum to the total and then settles them all (or fails them with <c>mpp_timeout</c> when the payer
/// sends nothing more). Settled parts move the balances.
/// </summary>
internal sealed class FakeNetwork(NodeId recipient)
{
    private readonly Dictionary<(ShortChannelId, NodeId From), ulong> _balance = [];
    private readonly List<PaymentPart> _held = [];

    public NodeId Recipient { get; } = recipient;

    public Func<PaymentPart, FailureMessage?> RecipientCheck { get; set; } = _ => null;

    public HashSet<ShortChannelId> Disabled { get; } = [];

    public int PartsSeen { get; private set; }

    public void Balance(ulong scid, NodeId from, ulong msat) => _balance[(new ShortChannelId(scid), from)] = msat;

    /// <summary>Runs a session to completion (one "round" per second of fake time), returning the number of rounds.</summary>
    public int Run(PaymentSession session, PaymentPreimage preimage, ref DateTimeOffset now, int maxRounds = 200, Func<IReadOnlyList<FirstHop>?>? firstHops = null)
    {
        var rounds = 0;
        while (!session.IsComplete && rounds++ < maxRounds)
        {
            var parts = session.NextParts(firstHops?.Invoke(), now);
            foreach (var part in parts)
            {
                PartsSeen++;
                if (Forward(part) is { } failure)
                {
                    Assert.True(session.PartFailed(part.PartId, failure, now));
                }
            }

            var total = _held.Aggregate(0UL, (sum, p) => sum + p.Route.RecipientAmount.Value);
            if (total >= session.Parameters.Amount.Value)
            {
                foreach (var part in _held)
                {
                    Settle(part.Route);
                    session.PartSucceeded(part.PartId, preimage, now);
                }

                _held.Clear();
            }
            else if (parts.Count == 0 && _held.Count > 0)
            {
                foreach (var part in _held)
                {
                    Release(part.Route, part.Route.Hops.Count);
                    session.PartFailed(part.PartId, new PaymentPartFailure(part.Route.Hops.Count - 1, FailureMessage.Simple(FailureCode.MppTimeout), "mpp timeout"), now);
                }

                _held.Clear();
            }

            now += TimeSpan.FromSeconds(1);
        }

        return rounds;
    }

    private PaymentPartFailure? Forward(PaymentPart part)
    {
        var route = part.Route;
        for (var i = 0; i < route.Hops.Count; i++)
        {
            var hop = route.Hops[i];
            var from = i == 0 ? route.Source : route.Hops[i - 1].Node;
            var key = (hop.ShortChannelId, from);
            if (Disabled.Contains(hop.ShortChannelId) || !_balance.TryGetValue(key, out var balance) || balance < hop.Amount.Value)
            {
                Release(route, i);
                return i == 0
                    ? PaymentPartFailure.Local("our channel cannot send it")
                    : new PaymentPartFailure(i - 1, FailureMessage.TemporaryChannelFailure(ReadOnlyMemory<byte>.Empty), "temporary_channel_failure");
            }

            _balance[key] = balance - hop.Amount.Value;
        }

        if (RecipientCheck(part) is { } rejection)
        {
            Release(route, route.Hops.Count);
            return new PaymentPartFailure(route.Hops.Count - 1, rejection, rejection.Code.Name);
        }

        _held.Add(part);
        return null;
    }

    /// <summary>Gives back the balances locked by the first <paramref name="count"/> hops.</summary>
    private void Release(Route route, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var hop = route.Hops[i];
            var from = i == 0 ? route.Source : route.Hops[i - 1].Node;
            _balance[(hop.ShortChannelId, from)] += hop.Amount.Value;
        }
    }

    private void Settle(Route route)
    {
        for (var i = 0; i < route.Hops.Count; i++)
        {
            var hop = route.Hops[i];
            var to = hop.Node;
            _balance[(hop.ShortChannelId, to)] = _balance.GetValueOrDefault((hop.ShortChannelId, to)) + hop.Amount.Value;
        }
    }
}
