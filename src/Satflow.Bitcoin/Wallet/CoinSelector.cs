using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>A coin coin selection may spend.</summary>
/// <param name="OutPoint">Where it is.</param>
/// <param name="ValueSat">Its value.</param>
/// <param name="InputWeight">The weight its input adds when spent (see <see cref="TxWeights"/>).</param>
public sealed record SpendCandidate(OutPoint OutPoint, long ValueSat, int InputWeight);

/// <summary>What a transaction must pay and how its change would look.</summary>
/// <param name="PaymentSat">The sum of the payment outputs.</param>
/// <param name="PaymentOutputCount">How many payment outputs.</param>
/// <param name="PaymentOutputsWeight">Their total weight.</param>
/// <param name="FeeRate">The target fee rate; the fee is never below rate × final weight.</param>
/// <param name="LongTermFeeRate">The rate the wallet expects to pay later; it prices spending the change in the waste metric.</param>
/// <param name="ChangeOutputWeight">Weight of a change output.</param>
/// <param name="ChangeSpendWeight">Weight of the input that would later spend the change.</param>
/// <param name="ChangeDustSat">Change below this is dropped and goes to the fee.</param>
public sealed record CoinSelectionParameters(
    long PaymentSat,
    int PaymentOutputCount,
    long PaymentOutputsWeight,
    FeeRate FeeRate,
    FeeRate LongTermFeeRate,
    int ChangeOutputWeight,
    int ChangeSpendWeight,
    long ChangeDustSat);

/// <summary>Which algorithm produced a selection.</summary>
public enum CoinSelectionAlgorithm
{
    /// <summary>Branch and bound: an exact match without change.</summary>
    BranchAndBound,

    /// <summary>Single random draw (with change unless the excess is below dust).</summary>
    SingleRandomDraw,

    /// <summary>Largest first (with change unless the excess is below dust).</summary>
    LargestFirst,
}

/// <summary>A coin selection.</summary>
/// <param name="Selected">The coins to spend.</param>
/// <param name="FeeSat">The absolute fee (sum of inputs − payments − change).</param>
/// <param name="ChangeSat">The change value, 0 when there is no change output.</param>
/// <param name="Weight">The final transaction's weight (upper bound, with the change output when there is one).</param>
/// <param name="Waste">Bitcoin Core's waste metric of the selection.</param>
/// <param name="Algorithm">Which algorithm found it.</param>
public sealed record CoinSelectionResult(IReadOnlyList<SpendCandidate> Selected, long FeeSat, long ChangeSat, long Weight, long Waste, CoinSelectionAlgorithm Algorithm)
{
    /// <summary>Whether the transaction has a change output.</summary>
    public bool HasChange => ChangeSat > 0;

    /// <summary>The sum of the selected coins.</summary>
    public long InputSat => Selected.Sum(c => c.ValueSat);
}

/// <summary>
/// Coin selection as Bitcoin Core does it: coins are valued by their effective value (value minus the fee to spend them);
/// branch and bound looks for a changeless set within [target, target + cost of change] with the least waste; otherwise
/// single random draw and largest-first both build a solution with change and the one with less waste wins.
/// </summary>
public static class CoinSelector
{
    /// <summary>Branch and bound gives up after this many steps, as Bitcoin Core does.</summary>
    public const int BnbMaxTries = 100_000;

    /// <summary>Selects coins for a payment.</summary>
    /// <exception cref="InsufficientFundsException">Even all coins with positive effective value cannot pay.</exception>
    public static CoinSelectionResult Select(CoinSelectionParameters parameters, IReadOnlyList<SpendCandidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(random);
        if (parameters.PaymentSat <= 0)
        {
            throw new WalletException("payment amount must be positive");
        }

        var p = parameters;
        var pool = candidates
            .Select(c => new Group(c, c.ValueSat - TxWeights.FeeFor(p.FeeRate, c.InputWeight), TxWeights.FeeFor(p.FeeRate, c.InputWeight), TxWeights.FeeFor(p.LongTermFeeRate, c.InputWeight)))
            .Where(g => g.Effective > 0)
            .ToList();

        // Fixed part of the transaction without inputs (one-byte input count assumed; the exact check below corrects it).
        var fixedWeight = TxWeights.TransactionWeight(1, 0, p.PaymentOutputCount, p.PaymentOutputsWeight);
        var target = p.PaymentSat + TxWeights.FeeFor(p.FeeRate, fixedWeight);
        var changeFee = TxWeights.FeeFor(p.FeeRate, p.ChangeOutputWeight + (4L * (TxWeights.VarIntSize(p.PaymentOutputCount + 1) - TxWeights.VarIntSize(p.PaymentOutputCount))));
        var costOfChange = changeFee + TxWeights.FeeFor(p.LongTermFeeRate, p.ChangeSpendWeight);

        var available = pool.Sum(g => g.Effective);
        if (available < target)
        {
            throw new InsufficientFundsException(target, candidates.Sum(c => c.ValueSat));
        }

        var best = default(CoinSelectionResult);
        var bnb = BranchAndBound(pool, target, costOfChange);
        if (bnb is not null)
        {
            best = Finish(p, bnb, CoinSelectionAlgorithm.BranchAndBound, changeless: true);
        }
        if (best is null)
        {
            var changeTarget = target + changeFee + p.ChangeDustSat;
            var shuffled = pool.ToList();
            for (var i = shuffled.Count - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (shuffled[i], shuffled[j]) = (shuffled[j], shuffled[i]);
            }
            var srd = Finish(p, Accumulate(shuffled, changeTarget), CoinSelectionAlgorithm.SingleRandomDraw, changeless: false);
            var largest = Finish(p, Accumulate(pool.OrderByDescending(g => g.Effective).ToList(), changeTarget), CoinSelectionAlgorithm.LargestFirst, changeless: false);
            best = (srd, largest) switch
            {
                (null, var l) => l,
                (var s, null) => s,
                var (s, l) => s!.Waste <= l!.Waste ? s : l,
            };
        }
        return best ?? throw new InsufficientFundsException(target, candidates.Sum(c => c.ValueSat));
    }

    private static List<Group> Accumulate(List<Group> ordered, long changeTarget)
    {
        var picked = new List<Group>();
        long sum = 0;
        foreach (var g in ordered)
        {
            picked.Add(g);
            sum += g.Effective;
            if (sum >= changeTarget)
            {
                break;
            }
        }
        return picked;
    }

    /// <summary>
    /// Turns a set of coins into a result using the exact final weight: change is added when it is at least the dust
    /// limit, otherwise the excess goes to the fee. Returns null when the coins do not pay the fee at the target rate.
    /// </summary>
    private static CoinSelectionResult? Finish(CoinSelectionParameters p, List<Group> picked, CoinSelectionAlgorithm algorithm, bool changeless)
    {
        var inputSat = picked.Sum(g => g.Coin.ValueSat);
        var inputsWeight = picked.Sum(g => (long)g.Coin.InputWeight);
        var waste = picked.Sum(g => g.Fee - g.LongTermFee);
        var weightNoChange = TxWeights.TransactionWeight(picked.Count, inputsWeight, p.PaymentOutputCount, p.PaymentOutputsWeight);
        var feeNoChange = TxWeights.FeeFor(p.FeeRate, weightNoChange);
        if (!changeless)
        {
            var weightChange = TxWeights.TransactionWeight(picked.Count, inputsWeight, p.PaymentOutputCount + 1, p.PaymentOutputsWeight + p.ChangeOutputWeight);
            var feeChange = TxWeights.FeeFor(p.FeeRate, weightChange);
            var change = inputSat - p.PaymentSat - feeChange;
            if (change >= p.ChangeDustSat && change > 0)
            {
                var costOfChange = (feeChange - feeNoChange) + TxWeights.FeeFor(p.LongTermFeeRate, p.ChangeSpendWeight);
                return new CoinSelectionResult(picked.Select(g => g.Coin).ToList(), feeChange, change, weightChange, waste + costOfChange, algorithm);
            }
        }
        var fee = inputSat - p.PaymentSat;
        if (fee < feeNoChange)
        {
            return null;
        }
        return new CoinSelectionResult(picked.Select(g => g.Coin).ToList(), fee, 0, weightNoChange, waste + (fee - feeNoChange), algorithm);
    }

    /// <summary>Bitcoin Core's depth-first branch and bound over coins sorted by descending effective value.</summary>
    private static List<Group>? BranchAndBound(List<Group> groups, long target, long costOfChange)
    {
        var pool = groups.OrderByDescending(g => g.Effective).ThenBy(g => g.Fee).ToList();
        if (pool.Count == 0)
        {
            return null;
        }
        long currValue = 0, currWaste = 0, currAvailable = pool.Sum(g => g.Effective);
        var bestWaste = long.MaxValue;
        List<int>? best = null;
        var selection = new List<int>();
        var feeRateHigh = pool[0].Fee > pool[0].LongTermFee;
        var index = 0;
        for (var tries = 0; tries < BnbMaxTries; tries++, index++)
        {
            var backtrack = false;
            if (currValue + currAvailable < target || currValue > target + costOfChange || (currWaste > bestWaste && feeRateHigh))
            {
                backtrack = true;
            }
            else if (currValue >= target)
            {
                var waste = currWaste + (currValue - target);
                if (waste <= bestWaste)
                {
                    best = [.. selection];
                    bestWaste = waste;
                }
                backtrack = true;
            }

            if (backtrack)
            {
                if (selection.Count == 0)
                {
                    break;
                }
                for (index--; index > selection[^1]; index--)
                {
                    currAvailable += pool[index].Effective;
                }
                var g = pool[index];
                currValue -= g.Effective;
                currWaste -= g.Fee - g.LongTermFee;
                selection.RemoveAt(selection.Count - 1);
            }
            else
            {
                var g = pool[index];
                currAvailable -= g.Effective;
                if (selection.Count == 0 || index - 1 == selection[^1] || g.Effective != pool[index - 1].Effective || g.Fee != pool[index - 1].Fee)
                {
                    selection.Add(index);
                    currValue += g.Effective;
                    currWaste += g.Fee - g.LongTermFee;
                }
            }
        }
        return best?.Select(i => pool[i]).ToList();
    }

    private sealed record Group(SpendCandidate Coin, long Effective, long Fee, long LongTermFee);
}
