using CsCheck;
using Microsoft.Extensions.Time.Testing;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Tests;

/// <summary>
/// The "never paid twice" property: random payouts, random crash points (before/after every commit — the attempt
/// record, the batch record, completion — and before/after every sender call), restarts until everything is final;
/// the fake node and wallet count real payments.
/// </summary>
public sealed class DoublePayPropertyTests
{
    public sealed record Scenario(int Lightning, int OnChain, int Failing, int Pending, int BatchSize, int[] CrashAt);

    public static readonly Gen<Scenario> Scenarios =
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 4], Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[1, 3], Gen.Int[0, 80].Array[0, 8])
            .Select((ln, oc, failing, pending, batch, crashes) => new Scenario(ln, oc, failing, pending, batch, crashes));

    [Fact]
    public async Task Every_payout_is_paid_exactly_once_across_random_crashes_and_restarts_in_memory() =>
        await Scenarios.SampleAsync(s => RunAsync(s, () => Task.FromResult<IPayoutStore>(PayoutStore.CreateInMemory()), reopenAfterCrash: false), iter: 400, threads: 2);

    [Fact]
    public async Task Every_payout_is_paid_exactly_once_across_random_crashes_and_restarts_on_sqlite()
    {
        using var dir = new TempDirectory();
        var n = 0;
        await Scenarios.SampleAsync(s =>
        {
            var file = dir.File($"payouts-{Interlocked.Increment(ref n)}.db");
            return RunAsync(s, async () => await PayoutStore.OpenSqliteAsync(file), reopenAfterCrash: true);
        }, iter: 25, threads: 1);
    }

    /// <summary>Runs one scenario; <paramref name="open"/> opens the same database each time it is called.</summary>
    internal static async Task RunAsync(Scenario scenario, Func<Task<IPayoutStore>> open, bool reopenAfterCrash)
    {
        var time = new FakeTimeProvider(Kit.Start);
        var store = await open();
        var node = new FakeLightningNode();
        var wallet = new FakeWallet();
        var service = new PayoutService(store, time, new PayoutServiceOptions { Network = Kit.Network });
        var pull = await service.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = "s", Name = "p", Amount = 10m, Currency = "BTC", AutoApproveClaims = true });
        var lightning = new List<Payout>();
        for (var i = 0; i < scenario.Lightning; i++)
        {
            var p = await service.ClaimAsync(pull.Id, Kit.Invoice(new MilliSatoshi((ulong)(i + 1) * 1_000_000), Kit.Start), null);
            lightning.Add(p);
            if (i < scenario.Failing)
            {
                node.FailingHashes.Add(p.Destination.PaymentHash!.Value);
            }
            else if (i < scenario.Failing + scenario.Pending)
            {
                node.PendingHashes.Add(p.Destination.PaymentHash!.Value);
            }
        }

        var onChain = new List<Payout>();
        for (var i = 0; i < scenario.OnChain; i++)
        {
            onChain.Add(await service.ClaimAsync(pull.Id, Kit.Address(), 0.001m * (i + 1)));
        }

        var plan = new CrashPlan(scenario.CrashAt);
        var options = new PayoutProcessorOptions { Network = Kit.Network, OnChainBatchDelay = TimeSpan.Zero, MaxOnChainBatchSize = scenario.BatchSize, InstanceId = "node" };
        var all = lightning.Concat(onChain).ToArray();
        for (var run = 0; run < 60; run++)
        {
            var processor = new PayoutProcessor("s", new CrashingStore(store, plan), options, new CrashingLightning(node, plan), new CrashingWallet(wallet, plan));
            try
            {
                await processor.RunOnceAsync(time.GetUtcNow());
            }
            catch (SimulatedCrashException)
            {
                // The process died at a random point.
            }

            if (reopenAfterCrash && plan.Dead)
            {
                // A real restart: the database is closed and opened again.
                await store.DisposeAsync();
                store = await open();
            }

            plan.Restart();
            node.SettleAllPending();
            if ((await Task.WhenAll(all.Select(p => store.GetPayoutAsync(p.Id)))).All(p => p!.IsFinal))
            {
                break;
            }
        }

        foreach (var p in lightning)
        {
            var final = (await store.GetPayoutAsync(p.Id))!;
            var hash = p.Destination.PaymentHash!.Value;
            var paid = node.TimesPaid.GetValueOrDefault(hash);
            if (node.FailingHashes.Contains(hash))
            {
                Assert.Equal(PayoutState.Failed, final.State);
                Assert.Equal(0, paid);
            }
            else
            {
                Assert.Equal(PayoutState.Completed, final.State);
                Assert.Equal(1, paid);
                Assert.Equal(Kit.Preimages[hash].Value.ToHex(), final.Proof);
            }
        }

        foreach (var p in onChain)
        {
            var final = (await store.GetPayoutAsync(p.Id))!;
            Assert.Equal(PayoutState.Completed, final.State);
            Assert.Equal(1, wallet.TimesPaid(p.Destination.Value));
        }

        var expectedClaimed = lightning.Where(p => !node.FailingHashes.Contains(p.Destination.PaymentHash!.Value)).Sum(p => p.Amount) + onChain.Sum(p => p.Amount);
        Assert.Equal(expectedClaimed, (await store.GetPullPaymentAsync(pull.Id))!.Claimed);
        await store.DisposeAsync();
    }
}
