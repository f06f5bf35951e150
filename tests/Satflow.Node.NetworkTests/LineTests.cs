using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.NetworkTests;

/// <summary>Payments along a line of six nodes on the in-process harness (0 → 1 → 2 → 3 → 4 → 5).</summary>
public sealed class LineTests
{
    private const int Count = 6;

    [Fact]
    public async Task A_payment_crosses_five_channels_and_every_forwarder_earns_exactly_its_fee()
    {
        await using var t = await Topologies.CreateLineAsync(Count, Money.Satoshis(1_000_000), TestPolicies.Harness);
        var before = Enumerable.Range(0, Count - 1).Select(i => (Funder: t.LocalBalance(i, i + 1), Fundee: t.LocalBalance(i + 1, i))).ToArray();
        var amount = new MilliSatoshi(123_456_789);

        var record = await t.Harness.PayAsync(t[0], t[Count - 1], amount);

        Assert.True(record.State == OutgoingPaymentState.Succeeded, $"{record.State}: {record.FailureReason} {record.FailureMessage}");
        var sent = TestPolicies.SentAlong(Count - 2, amount, TestPolicies.Forwarding);
        for (var i = 0; i < Count - 1; i++)
        {
            Assert.Equal(before[i].Funder - sent[i], t.LocalBalance(i, i + 1));
            Assert.Equal(before[i].Fundee + sent[i], t.LocalBalance(i + 1, i));
        }
        for (var forwarder = 1; forwarder < Count - 1; forwarder++)
        {
            // What came in minus what went out: exactly the fee its policy asks for what it forwarded.
            var earned = sent[forwarder - 1] - sent[forwarder];
            Assert.Equal(TestPolicies.Forwarding.FeeFor(sent[forwarder]), earned);
            Assert.True(earned.Value > 2_000, $"node{forwarder} earned {earned.Value} msat");
        }
        Assert.Equal(sent[0] - amount, record.Fee);
        Assert.Equal(0, t.PendingHtlcCount());
        Assert.Empty(t.Harness.Chain.Rejected);
    }

    [Fact]
    public async Task Ten_payments_in_a_row_all_settle_and_the_balances_add_up()
    {
        await using var t = await Topologies.CreateLineAsync(Count, Money.Satoshis(2_000_000), TestPolicies.Harness);
        var payerBefore = t.LocalBalance(0, 1);
        var payeeBefore = t.LocalBalance(Count - 1, Count - 2);
        var totalSent = MilliSatoshi.Zero;
        var totalReceived = MilliSatoshi.Zero;
        for (var i = 0; i < 10; i++)
        {
            var amount = new MilliSatoshi((ulong)(1_000_000 + (i * 777_777)));
            var record = await t.Harness.PayAsync(t[0], t[Count - 1], amount);
            Assert.True(record.State == OutgoingPaymentState.Succeeded, $"payment {i}: {record.State}: {record.FailureMessage}");
            totalSent += TestPolicies.SentAlong(Count - 2, amount, TestPolicies.Forwarding)[0];
            totalReceived += amount;
        }
        Assert.Equal(payerBefore - totalSent, t.LocalBalance(0, 1));
        Assert.Equal(payeeBefore + totalReceived, t.LocalBalance(Count - 1, Count - 2));
        Assert.Equal(0, t.PendingHtlcCount());
        Assert.All(t.Channels, c => Assert.Equal(ChannelState.Normal, t[c.Funder].Node.GetChannel(c.ChannelId)!.State));
    }
}
