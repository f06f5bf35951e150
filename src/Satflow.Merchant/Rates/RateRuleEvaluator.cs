namespace Satflow.Merchant.Rates;

/// <summary>A computed rate and how it was obtained.</summary>
/// <param name="Pair">The pair.</param>
/// <param name="Rate">The rate.</param>
/// <param name="Rule">The rule expression used (canonical text), for audit.</param>
public sealed record RateResult(CurrencyPair Pair, BidAsk Rate, string Rule);

/// <summary>
/// Evaluates <see cref="RateRules"/> against registered <see cref="IRateSource"/>s. A pair resolves to its rule, else
/// the inverse of its inverse pair's rule, else (when configured) the default source's quote; identical currencies are 1.
/// Arithmetic is interval arithmetic on [bid, ask], so spreads propagate conservatively. Each source is fetched at most
/// once per evaluation, before any arithmetic.
/// </summary>
public sealed class RateRuleEvaluator
{
    private readonly Dictionary<string, IRateSource> _sources;

    /// <summary>Creates the evaluator.</summary>
    /// <param name="sources">Registered sources (unique names).</param>
    /// <param name="defaultSource">Source used for pairs without a rule, or null for none.</param>
    public RateRuleEvaluator(IEnumerable<IRateSource> sources, string? defaultSource = RateTableSource.DefaultName)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _sources = new Dictionary<string, IRateSource>(StringComparer.Ordinal);
        foreach (var s in sources)
        {
            if (!RateRules.IsSourceName(s.Name) || !_sources.TryAdd(s.Name, s))
            {
                throw new MerchantException(MerchantErrorReason.InvalidConfiguration, $"Rate source name '{s.Name}' is invalid or registered twice.");
            }
        }

        DefaultSource = defaultSource;
    }

    /// <summary>The source for pairs without a rule, or null.</summary>
    public string? DefaultSource { get; }

    /// <summary>Computes a pair's rate.</summary>
    /// <param name="rules">The program.</param>
    /// <param name="pair">The pair.</param>
    /// <param name="cancellationToken">Cancels source fetches.</param>
    /// <returns>The rate.</returns>
    /// <exception cref="RateEvaluationException">Missing rule or quote, cycle, division by zero, invalid result.</exception>
    public async Task<RateResult> EvaluateAsync(RateRules rules, CurrencyPair pair, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var needed = new HashSet<string>(StringComparer.Ordinal);
        if (DefaultSource is not null)
        {
            needed.Add(DefaultSource);
        }

        foreach (var expression in rules.Rules.Values)
        {
            CollectSources(expression, needed);
        }

        var snapshot = new Dictionary<string, SourceSnapshot>(StringComparer.Ordinal);
        foreach (var name in needed)
        {
            if (!_sources.TryGetValue(name, out var source))
            {
                continue;
            }

            try
            {
                var quotes = await source.GetRatesAsync(cancellationToken).ConfigureAwait(false);
                var map = new Dictionary<CurrencyPair, BidAsk>();
                foreach (var q in quotes)
                {
                    map[q.Pair] = q.Rate;
                }

                snapshot[name] = new SourceSnapshot(map, null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                snapshot[name] = new SourceSnapshot(null, e);
            }
        }

        return Evaluate(rules, pair, snapshot);
    }

    internal RateResult Evaluate(RateRules rules, CurrencyPair pair, IReadOnlyDictionary<string, SourceSnapshot> snapshot)
    {
        var context = new Context(rules, snapshot, DefaultSource);
        var interval = context.Resolve(pair);
        if (rules.Spread != 0m)
        {
            interval = context.Guard(pair, () => new Interval(interval.Low * (1m - rules.Spread), interval.High * (1m + rules.Spread)));
        }

        if (interval.Low <= 0m || interval.High < interval.Low)
        {
            throw new RateEvaluationException(RateEvaluationError.InvalidResult, pair, $"The rule for {pair} gives [{interval.Low}, {interval.High}], not a positive bid <= ask.");
        }

        var rule = rules.Rules.TryGetValue(pair, out var e) ? e.ToString()
            : rules.Rules.TryGetValue(pair.Inverse, out var inv) ? $"invert({inv})"
            : pair.Base == pair.Quote ? "1" : $"{DefaultSource}({pair})";
        if (rules.Spread != 0m)
        {
            rule = $"spread({rule}, {rules.Spread.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
        }

        return new RateResult(pair, new BidAsk(interval.Low, interval.High), rule);
    }

    private static void CollectSources(RateExpression expression, HashSet<string> into)
    {
        switch (expression)
        {
            case RateExpression.SourceLookup s:
                into.Add(s.Source);
                break;
            case RateExpression.Binary b:
                CollectSources(b.Left, into);
                CollectSources(b.Right, into);
                break;
            case RateExpression.Negate n:
                CollectSources(n.Operand, into);
                break;
            case RateExpression.Fallback f:
                CollectSources(f.Primary, into);
                CollectSources(f.Alternative, into);
                break;
            case RateExpression.Spread sp:
                CollectSources(sp.Operand, into);
                break;
            case RateExpression.Invert i:
                CollectSources(i.Operand, into);
                break;
        }
    }

    internal sealed record SourceSnapshot(IReadOnlyDictionary<CurrencyPair, BidAsk>? Quotes, Exception? Failure);

    private readonly record struct Interval(decimal Low, decimal High);

    private sealed class Context(RateRules rules, IReadOnlyDictionary<string, SourceSnapshot> sources, string? defaultSource)
    {
        private readonly List<CurrencyPair> _stack = [];
        private readonly Dictionary<CurrencyPair, Interval> _memo = [];

        public Interval Resolve(CurrencyPair pair)
        {
            if (_memo.TryGetValue(pair, out var known))
            {
                return known;
            }

            if (_stack.Contains(pair))
            {
                var path = string.Join(" -> ", _stack.SkipWhile(p => p != pair).Append(pair));
                throw new RateEvaluationException(RateEvaluationError.Cycle, pair, $"Rate rules form a cycle: {path}.");
            }

            Interval result;
            _stack.Add(pair);
            try
            {
                if (pair.Base == pair.Quote)
                {
                    result = new Interval(1m, 1m);
                }
                else if (rules.Rules.TryGetValue(pair, out var expression))
                {
                    result = Eval(expression, pair);
                }
                else if (rules.Rules.TryGetValue(pair.Inverse, out _))
                {
                    result = Inverse(Resolve(pair.Inverse), pair);
                }
                else if (defaultSource is not null)
                {
                    result = Lookup(defaultSource, pair);
                }
                else
                {
                    throw new RateEvaluationException(RateEvaluationError.NoRule, pair, $"No rule gives {pair}.");
                }
            }
            finally
            {
                _stack.RemoveAt(_stack.Count - 1);
            }

            _memo[pair] = result;
            return result;
        }

        public Interval Guard(CurrencyPair pair, Func<Interval> compute)
        {
            try
            {
                return compute();
            }
            catch (OverflowException e)
            {
                throw new RateEvaluationException(RateEvaluationError.Overflow, pair, $"Computing {pair} overflowed.", e);
            }
            catch (DivideByZeroException e)
            {
                throw new RateEvaluationException(RateEvaluationError.DivisionByZero, pair, $"Computing {pair} divided by zero.", e);
            }
        }

        private Interval Lookup(string source, CurrencyPair pair)
        {
            if (!sources.TryGetValue(source, out var snapshot))
            {
                throw new RateEvaluationException(RateEvaluationError.UnknownSource, pair, $"No rate source named '{source}' is registered.");
            }

            if (snapshot.Quotes is null)
            {
                throw new RateEvaluationException(RateEvaluationError.SourceFailed, pair, $"Rate source '{source}' failed: {snapshot.Failure?.Message}", snapshot.Failure);
            }

            if (snapshot.Quotes.TryGetValue(pair, out var rate))
            {
                return new Interval(rate.Bid, rate.Ask);
            }

            if (snapshot.Quotes.TryGetValue(pair.Inverse, out var inverse))
            {
                var inverted = inverse.Invert();
                return new Interval(inverted.Bid, inverted.Ask);
            }

            throw new RateEvaluationException(RateEvaluationError.PairUnavailable, pair, $"Rate source '{source}' does not quote {pair}.");
        }

        private Interval Inverse(Interval value, CurrencyPair pair)
        {
            if (value.Low <= 0m && value.High >= 0m)
            {
                throw new RateEvaluationException(RateEvaluationError.DivisionByZero, pair, $"Cannot invert a rate range that includes zero for {pair}.");
            }

            return Guard(pair, () => new Interval(1m / value.High, 1m / value.Low));
        }

        private Interval Eval(RateExpression expression, CurrencyPair pair)
        {
            switch (expression)
            {
                case RateExpression.Constant c:
                    return new Interval(c.Value, c.Value);
                case RateExpression.PairReference p:
                    return Resolve(p.Pair);
                case RateExpression.SourceLookup s:
                    return Lookup(s.Source, s.Pair);
                case RateExpression.Negate n:
                {
                    var v = Eval(n.Operand, pair);
                    return new Interval(-v.High, -v.Low);
                }

                case RateExpression.Invert i:
                    return Inverse(Eval(i.Operand, pair), pair);
                case RateExpression.Spread sp:
                {
                    var v = Eval(sp.Operand, pair);
                    return Guard(pair, () => new Interval(v.Low * (1m - sp.Amount), v.High * (1m + sp.Amount)));
                }

                case RateExpression.Fallback f:
                    try
                    {
                        return Eval(f.Primary, pair);
                    }
                    catch (RateEvaluationException e) when (e.Error is RateEvaluationError.NoRule or RateEvaluationError.PairUnavailable
                        or RateEvaluationError.SourceFailed or RateEvaluationError.UnknownSource)
                    {
                        return Eval(f.Alternative, pair);
                    }

                case RateExpression.Binary b:
                {
                    var l = Eval(b.Left, pair);
                    var r = Eval(b.Right, pair);
                    return b.Operator switch
                    {
                        '+' => Guard(pair, () => new Interval(l.Low + r.Low, l.High + r.High)),
                        '-' => Guard(pair, () => new Interval(l.Low - r.High, l.High - r.Low)),
                        '*' => Guard(pair, () => Multiply(l, r)),
                        _ => Multiply(l, Inverse(r, pair), pair),
                    };
                }

                default:
                    throw new RateEvaluationException(RateEvaluationError.InvalidResult, pair, "Unknown expression node.");
            }
        }

        private Interval Multiply(Interval l, Interval r, CurrencyPair pair) => Guard(pair, () => Multiply(l, r));

        private static Interval Multiply(Interval l, Interval r)
        {
            var a = l.Low * r.Low;
            var b = l.Low * r.High;
            var c = l.High * r.Low;
            var d = l.High * r.High;
            return new Interval(Math.Min(Math.Min(a, b), Math.Min(c, d)), Math.Max(Math.Max(a, b), Math.Max(c, d)));
        }
    }
}
