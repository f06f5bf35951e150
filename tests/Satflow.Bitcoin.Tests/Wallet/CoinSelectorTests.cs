using CsCheck;
using NBitcoin;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

public sealed class CoinSelectorTests
{
    private static readonly Gen<SpendCandidate> GenCoin =
        Gen.Select(Gen.Long[500, 20_000_000], Gen.Bool, Gen.UInt, (value, taproot, id) =>
            new SpendCandidate(new OutPoint(new uint256(((ulong)id << 32) | (ulong)value), (int)(id % 7)), value, taproot ? TxWeights.P2trKeyPathInput : TxWeights.P2wpkhInput));

    private sealed record Case(SpendCandidate[] Coins, long Payment, bool TaprootPayment, bool TaprootChange, long RateSatPerKvb, long LongTermSatPerKvb, int Seed);

    private static readonly Gen<Case> GenCase =
        Gen.Select(GenCoin.Array[1, 25], Gen.Long[330, 60_000_000], Gen.Bool, Gen.Bool, Gen.Long[1_000, 200_000], Gen.Long[1_000, 30_000], Gen.Int)
            .Select(t => new Case(t.Item1.DistinctBy(c => c.OutPoint).ToArray(), t.Item2, t.Item3, t.Item4, t.Item5, t.Item6, t.Item7));

    private static CoinSelectionParameters ParametersOf(Case c)
    {
        var changeType = c.TaprootChange ? AddressType.P2tr : AddressType.P2wpkh;
        return new CoinSelectionParameters(
            c.Payment,
            1,
            c.TaprootPayment ? TxWeights.P2trOutput : TxWeights.P2wpkhOutput,
            new FeeRate(Money.Satoshis(c.RateSatPerKvb)),
            new FeeRate(Money.Satoshis(c.LongTermSatPerKvb)),
            TxWeights.ChangeOutputWeight(changeType),
            TxWeights.InputWeight(changeType),
            TxWeights.Dust(changeType));
    }

    [Fact]
    public void Selection_NeverOverspends_PaysTheRate_AndLeavesNoDustChange()
    {
        GenCase.Sample(c =>
        {
            var p = ParametersOf(c);
            CoinSelectionResult result;
            try
            {
                result = CoinSelector.Select(p, c.Coins, new Random(c.Seed));
            }
            catch (InsufficientFundsException)
            {
                // Only when even every coin worth spending cannot pay the payment and the changeless fee.
                var useful = c.Coins.Where(x => x.ValueSat > TxWeights.FeeFor(p.FeeRate, x.InputWeight)).ToList();
                var weightAll = TxWeights.TransactionWeight(useful.Count, useful.Sum(x => (long)x.InputWeight), 1, p.PaymentOutputsWeight);
                Assert.True(useful.Sum(x => x.ValueSat) - c.Payment < TxWeights.FeeFor(p.FeeRate, weightAll) + useful.Count,
                    "reported insufficient funds although the coins could pay");
                return;
            }

            // spends only offered coins, each once
            Assert.Equal(result.Selected.Count, result.Selected.Select(s => s.OutPoint).Distinct().Count());
            Assert.All(result.Selected, s => Assert.Contains(s, c.Coins));
            // inputs = payment + fee + change, nothing negative
            Assert.Equal(result.InputSat, c.Payment + result.FeeSat + result.ChangeSat);
            Assert.True(result.FeeSat > 0 && result.ChangeSat >= 0);
            // the weight is the real one and the fee pays the rate on it
            var outputs = result.HasChange ? 2 : 1;
            var outputsWeight = p.PaymentOutputsWeight + (result.HasChange ? p.ChangeOutputWeight : 0);
            var weight = TxWeights.TransactionWeight(result.Selected.Count, result.Selected.Sum(s => (long)s.InputWeight), outputs, outputsWeight);
            Assert.Equal(weight, result.Weight);
            var floor = TxWeights.FeeFor(p.FeeRate, weight);
            Assert.True(result.FeeSat >= floor, $"fee {result.FeeSat} below {floor}");
            // and not much more: at most what a change output would have cost plus the dust it would have held, plus
            // the per-input rounding to whole vbytes (as Core does, each input's fee is charged on ceil(weight/4))
            var perInputRounding = (p.FeeRate.FeePerK.Satoshi / 1000) + 1;
            var bound = TxWeights.FeeFor(p.FeeRate, p.ChangeOutputWeight) + TxWeights.FeeFor(p.LongTermFeeRate, p.ChangeSpendWeight) + p.ChangeDustSat + (result.Selected.Count * perInputRounding);
            Assert.True(result.FeeSat - floor <= bound, $"fee {result.FeeSat} exceeds {floor} by more than {bound}");
            if (result.HasChange)
            {
                Assert.Equal(floor, result.FeeSat);
                Assert.True(result.ChangeSat >= p.ChangeDustSat, $"dust change {result.ChangeSat}");
            }
            if (result.Algorithm == CoinSelectionAlgorithm.BranchAndBound)
            {
                Assert.False(result.HasChange);
            }
        }, iter: 3_000);
    }

    [Fact]
    public void WhenAChangelessSubsetExists_BranchAndBoundFindsOne()
    {
        Gen.Select(GenCase.Where(c => c.Coins.Length <= 16), Gen.UInt, Gen.Long[0, 40]).Sample(t =>
        {
            var (c, mask, slack) = t;
            var p = ParametersOf(c) with { PaymentSat = 1 };
            var effective = c.Coins.Select(x => x.ValueSat - TxWeights.FeeFor(p.FeeRate, x.InputWeight)).ToArray();
            var subset = Enumerable.Range(0, c.Coins.Length).Where(i => (mask & (1u << (i % 32))) != 0 && effective[i] > 0).ToList();
            var fixedFee = TxWeights.FeeFor(p.FeeRate, TxWeights.TransactionWeight(1, 0, 1, p.PaymentOutputsWeight));
            var payment = subset.Sum(i => effective[i]) - fixedFee - slack;
            if (subset.Count == 0 || payment < 1_000)
            {
                return;
            }
            var result = CoinSelector.Select(p with { PaymentSat = payment }, c.Coins, new Random(c.Seed));
            Assert.Equal(CoinSelectionAlgorithm.BranchAndBound, result.Algorithm);
            Assert.False(result.HasChange);
            Assert.Equal(result.InputSat, payment + result.FeeSat);
            Assert.True(result.FeeSat >= TxWeights.FeeFor(p.FeeRate, result.Weight));
        }, iter: 1_000);
    }

    [Fact]
    public void BranchAndBound_FindsTheExactChangelessMatch()
    {
        var rate = new FeeRate(Money.Satoshis(5_000));
        var parameters = new CoinSelectionParameters(1_000_000, 1, TxWeights.P2wpkhOutput, rate, new FeeRate(Money.Satoshis(10_000)),
            TxWeights.P2wpkhOutput, TxWeights.P2wpkhInput, TxWeights.P2wpkhDust);
        var inputFee = TxWeights.FeeFor(rate, TxWeights.P2wpkhInput);
        var fixedFee = TxWeights.FeeFor(rate, TxWeights.TransactionWeight(1, 0, 1, TxWeights.P2wpkhOutput));
        // two coins whose effective values add to exactly payment + fixed fee, among distractors
        var a = new SpendCandidate(new OutPoint(uint256.One, 0), 600_000 + inputFee, TxWeights.P2wpkhInput);
        var b = new SpendCandidate(new OutPoint(uint256.One, 1), 400_000 + fixedFee + inputFee, TxWeights.P2wpkhInput);
        var coins = new[]
        {
            new SpendCandidate(new OutPoint(uint256.One, 2), 5_000_000, TxWeights.P2wpkhInput),
            a,
            new SpendCandidate(new OutPoint(uint256.One, 3), 730_000, TxWeights.P2wpkhInput),
            b,
        };
        var result = CoinSelector.Select(parameters, coins, new Random(1));
        Assert.Equal(CoinSelectionAlgorithm.BranchAndBound, result.Algorithm);
        Assert.Equal([a, b], result.Selected.OrderByDescending(s => s.ValueSat));
        Assert.Equal(0, result.ChangeSat);
        Assert.True(result.FeeSat >= TxWeights.FeeFor(rate, result.Weight));
    }

    [Fact]
    public void WithoutAnExactMatch_TheFallbackAddsChange()
    {
        var rate = new FeeRate(Money.Satoshis(2_000));
        var parameters = new CoinSelectionParameters(1_000_000, 1, TxWeights.P2trOutput, rate, new FeeRate(Money.Satoshis(10_000)),
            TxWeights.P2trOutput, TxWeights.P2trKeyPathInput, TxWeights.P2trDust);
        var coins = new[] { new SpendCandidate(new OutPoint(uint256.One, 0), 3_000_000, TxWeights.P2trKeyPathInput) };
        var result = CoinSelector.Select(parameters, coins, new Random(1));
        Assert.NotEqual(CoinSelectionAlgorithm.BranchAndBound, result.Algorithm);
        Assert.True(result.HasChange);
        var weight = TxWeights.TransactionWeight(1, TxWeights.P2trKeyPathInput, 2, 2 * TxWeights.P2trOutput);
        Assert.Equal(weight, result.Weight);
        Assert.Equal(TxWeights.FeeFor(rate, weight), result.FeeSat);
        Assert.Equal(3_000_000 - 1_000_000 - result.FeeSat, result.ChangeSat);
    }

    [Fact]
    public void Weights_MatchTheSpecifiedVirtualSizes()
    {
        Assert.Equal(272, TxWeights.P2wpkhInput); // 68 vB
        Assert.Equal(230, TxWeights.P2trKeyPathInput); // 57.5 vB
        Assert.Equal(124, TxWeights.P2wpkhOutput);
        Assert.Equal(172, TxWeights.P2trOutput);
        Assert.Equal(294, TxWeights.DustThreshold(new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Segwit)));
        Assert.Equal(330, TxWeights.DustThreshold(new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.TaprootBIP86)));
        Assert.Equal(546, TxWeights.DustThreshold(new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Legacy)));
        Assert.Equal(1, TxWeights.FeeFor(new FeeRate(Money.Satoshis(1_000)), 1)); // rounds up
        Assert.Equal(58, TxWeights.FeeFor(new FeeRate(Money.Satoshis(1_000)), TxWeights.P2trKeyPathInput));
    }
}
