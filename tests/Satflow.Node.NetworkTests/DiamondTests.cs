using NBitcoin;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.NetworkTests;

/// <summary>
/// Payments across a diamond of seven nodes: 0 → 1 → 2 → 5 (the upper branch) and 0 → 3 → 4 → 5 (the lower one),
/// then 5 → 6 (the payee).
/// </summary>
public sealed class DiamondTests
{
    [Fact]
    public async Task A_payment_succeeds_over_the_other_branch_when_the_preferred_one_lacks_liquidity()
    {
        // The upper branch looks much bigger (the router prefers it), but its middle channel has been drained by a
        // direct payment the graph knows nothing about: the first attempt fails at node 1, the payer retries below.
        await using var t = await Topologies.CreateDiamondAsync(2, Money.Satoshis(10_000_000), Money.Satoshis(1_000_000), Money.Satoshis(2_000_000), TestPolicies.Harness);
        var drain = await t.Harness.PayAsync(t[1], t[2], new MilliSatoshi(9_500_000_000));
        Assert.Equal(OutgoingPaymentState.Succeeded, drain.State);
        var upperBefore = t.LocalBalance(0, 1);
        var lowerBefore = t.LocalBalance(0, 3);
        var payeeBefore = t.LocalBalance(6, 5);
        var amount = new MilliSatoshi(500_000_000);

        var record = await t.Harness.PayAsync(t[0], t[6], amount);

        Assert.True(record.State == OutgoingPaymentState.Succeeded, $"{record.State}: {record.FailureReason} {record.FailureMessage}");
        var sent = TestPolicies.SentAlong(3, amount, TestPolicies.Forwarding);
        Assert.Equal(upperBefore, t.LocalBalance(0, 1));
        Assert.Equal(lowerBefore - sent[0], t.LocalBalance(0, 3));
        Assert.Equal(payeeBefore + amount, t.LocalBalance(6, 5));
        Assert.Equal(sent[0] - amount, record.Fee);
        Assert.Equal(0, t.PendingHtlcCount());
    }

    [Fact]
    public async Task Both_branches_carry_payments_and_the_meeting_node_forwards_them_all()
    {
        await using var t = await Topologies.CreateDiamondAsync(2, Money.Satoshis(1_000_000), Money.Satoshis(1_000_000), Money.Satoshis(4_000_000), TestPolicies.Harness);
        var payeeBefore = t.LocalBalance(6, 5);
        var total = MilliSatoshi.Zero;
        // Each payment alone fits either branch, all of them together only both: the router must move to the other
        // branch once one runs low.
        for (var i = 0; i < 6; i++)
        {
            var amount = new MilliSatoshi(250_000_000);
            var record = await t.Harness.PayAsync(t[0], t[6], amount);
            Assert.True(record.State == OutgoingPaymentState.Succeeded, $"payment {i}: {record.State}: {record.FailureReason} {record.FailureMessage}");
            total += amount;
        }
        Assert.Equal(payeeBefore + total, t.LocalBalance(6, 5));
        Assert.True(t.LocalBalance(1, 0).Value > 0 && t.LocalBalance(3, 0).Value > 0, "both branches carried payments");
        Assert.Equal(0, t.PendingHtlcCount());
    }
}
