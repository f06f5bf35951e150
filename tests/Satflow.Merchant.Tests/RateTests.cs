using Satflow.Merchant.Rates;

namespace Satflow.Merchant.Tests;

public sealed class RateRuleParserTests
{
    [Fact]
    public void Parses_assignments_cross_rates_spreads_and_fallbacks()
    {
        var rules = RateRules.Parse("""
            # offline table first
            spread 0.5%;
            BTC_USD = table(BTC_USD) ?? kraken(BTC_USD);
            BTC_EUR = BTC_USD * USD_EUR; // cross rate
            BTC_CHF = spread(table(BTC_CHF), 0.02);
            BTC_GBP = table(BTC_GBP) * (1 - 0.01);
            BTC_JPY = invert(table(JPY_BTC)) + -1;
            """);
        Assert.Equal(5, rules.Rules.Count);
        Assert.Equal(0.005m, rules.Spread);
        Assert.Equal("(table(BTC_USD) ?? kraken(BTC_USD))", rules.Rules[CurrencyPair.Parse("BTC_USD")].ToString());
        Assert.Equal("(BTC_USD * USD_EUR)", rules.Rules[CurrencyPair.Parse("BTC_EUR")].ToString());
        Assert.Equal("(table(BTC_GBP) * (1 - 0.01))", rules.Rules[CurrencyPair.Parse("BTC_GBP")].ToString());
        Assert.Equal("spread(table(BTC_CHF), 0.02)", rules.Rules[CurrencyPair.Parse("BTC_CHF")].ToString());
        Assert.Equal("(invert(table(JPY_BTC)) + -1)", rules.Rules[CurrencyPair.Parse("BTC_JPY")].ToString());

        // The canonical form parses to the same rules.
        var again = RateRules.Parse(rules.ToString());
        Assert.Equal(rules.ToString(), again.ToString());
    }

    [Fact]
    public void Precedence_is_multiplicative_over_additive_over_fallback()
    {
        var e = RateRules.Parse("AA_BB = 1 + 2 * 3 - 4 / 2 ?? 7;").Rules[CurrencyPair.Parse("AA_BB")];
        Assert.Equal("(((1 + (2 * 3)) - (4 / 2)) ?? 7)", e.ToString());
        Assert.Equal("(1 ?? (2 ?? 3))", RateRules.Parse("AA_BB = 1 ?? 2 ?? 3;").Rules[CurrencyPair.Parse("AA_BB")].ToString());
    }

    [Fact]
    public void Empty_and_comment_only_programs_are_valid()
    {
        Assert.Empty(RateRules.Parse("").Rules);
        Assert.Empty(RateRules.Parse("  // nothing\n# here\n").Rules);
    }

    public static TheoryData<string, RateRuleParseError, int, int> Errors() => new()
    {
        { "BTC_USD = 1 $ 2;", RateRuleParseError.UnexpectedCharacter, 1, 13 },
        { "BTC_USD = 1 ? 2;", RateRuleParseError.UnexpectedCharacter, 1, 13 },
        { "BTC_USD 1;", RateRuleParseError.UnexpectedToken, 1, 9 },
        { "BTC_USD = 1\nBTC_EUR = 2;", RateRuleParseError.UnexpectedToken, 2, 1 },
        { "BTC_USD = (1 + 2;", RateRuleParseError.UnexpectedToken, 1, 17 },
        { "BTC_USD = ;", RateRuleParseError.UnexpectedToken, 1, 11 },
        { "BTC_USD = 1 +", RateRuleParseError.UnexpectedEnd, 1, 14 },
        { "BTC_USD =", RateRuleParseError.UnexpectedEnd, 1, 10 },
        { "\n\n  BTC_USD = 1.2.3;", RateRuleParseError.InvalidNumber, 3, 13 },
        { "BTC_USD = 12abc;", RateRuleParseError.InvalidNumber, 1, 13 },
        { "BTC_USD = 99999999999999999999999999999999;", RateRuleParseError.InvalidNumber, 1, 11 },
        { "btc_usd = 1;", RateRuleParseError.InvalidPair, 1, 1 },
        { "BTC_USD = BTC_USD_EUR;", RateRuleParseError.InvalidPair, 1, 11 },
        { "rate = 1;", RateRuleParseError.InvalidPair, 1, 1 },
        { "BTC_USD = usd;", RateRuleParseError.InvalidPair, 1, 11 },
        { "BTC_USD = 1;\nBTC_USD = 2;", RateRuleParseError.DuplicateRule, 2, 1 },
        { "spread 0.1; spread 0.2;", RateRuleParseError.DuplicateRule, 1, 13 },
        { "BTC_USD = table(1);", RateRuleParseError.InvalidArguments, 1, 17 },
        { "BTC_USD = table(BTC_USD, BTC_EUR);", RateRuleParseError.UnexpectedToken, 1, 24 },
        { "BTC_USD = Kraken(BTC_USD);", RateRuleParseError.InvalidArguments, 1, 11 },
        { "BTC_USD = spread(table(BTC_USD), 1.5);", RateRuleParseError.InvalidSpread, 1, 34 },
        { "spread 100%;", RateRuleParseError.InvalidSpread, 1, 8 },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Errors_are_typed_with_line_and_column(string program, RateRuleParseError error, int line, int column)
    {
        var e = Assert.Throws<RateRuleParseException>(() => RateRules.Parse(program));
        Assert.Equal((error, line, column), (e.Error, e.Line, e.Column));
        Assert.Contains($"line {line}, column {column}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deep_nesting_and_huge_programs_are_refused_not_crashing()
    {
        var deep = "BTC_USD = " + new string('(', 10_000) + "1" + new string(')', 10_000) + ";";
        Assert.Equal(RateRuleParseError.TooComplex, Assert.Throws<RateRuleParseException>(() => RateRules.Parse(deep)).Error);
        var minus = "BTC_USD = " + new string('-', 10_000) + "1;";
        Assert.Equal(RateRuleParseError.TooComplex, Assert.Throws<RateRuleParseException>(() => RateRules.Parse(minus)).Error);
        Assert.Equal(RateRuleParseError.TooComplex, Assert.Throws<RateRuleParseException>(() => RateRules.Parse(new string(' ', RateRules.MaxLength + 1))).Error);
    }

    [Fact]
    public void Random_strings_only_raise_typed_parse_errors()
    {
        static void Check(string s)
        {
            var e = Record.Exception(() => RateRules.Parse(s));
            Assert.True(e is null or RateRuleParseException, e?.ToString());
        }

        Gen.String.Sample(Check, iter: 3000);
        var alphabet = Gen.Char["BTCUSDEUR_=;()+-*/?%., \n0123456789tablesprdinvt#"];
        alphabet.Array[0, 80].Select(a => new string(a)).Sample(Check, iter: 3000);
        const string valid = "BTC_USD = table(BTC_USD) * (1 - 0.01) ?? kraken(BTC_USD);\nBTC_EUR = BTC_USD * USD_EUR;";
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Char, Gen.Int[0, 2]).Sample((i, c, kind) => Check(kind switch
        {
            0 => valid[..i] + c + valid[(i + 1)..],
            1 => valid[..i] + c + valid[i..],
            _ => valid[..i] + valid[(i + 1)..],
        }), iter: 3000);
    }

    [Fact]
    public void Rate_table_text_parses_with_bid_ask_and_errors_carry_positions()
    {
        var table = RateTableSource.Parse("BTC_USD = 65000\nBTC_EUR = 59900/60100; USD_EUR=0.92 # comment\n");
        Assert.Equal(3, table.Quotes.Count);
        Assert.Equal(new BidAsk(59900m, 60100m), table.Quotes.Single(q => q.Pair.ToString() == "BTC_EUR").Rate);

        var e = Assert.Throws<RateRuleParseException>(() => RateTableSource.Parse("BTC_USD = 1\nBTC_EUR = 5/4"));
        Assert.Equal((RateRuleParseError.InvalidNumber, 2), (e.Error, e.Line));
        Assert.Equal(RateRuleParseError.InvalidPair, Assert.Throws<RateRuleParseException>(() => RateTableSource.Parse("BTCUSD = 1")).Error);
        Assert.Equal(RateRuleParseError.InvalidRateTable, Assert.Throws<RateRuleParseException>(() => RateTableSource.Parse("BTC_USD 1")).Error);
        Assert.Equal(RateRuleParseError.DuplicateRule, Assert.Throws<RateRuleParseException>(() => RateTableSource.Parse("BTC_USD=1;BTC_USD=2")).Error);
        Gen.String.Sample(s =>
        {
            var ex = Record.Exception(() => RateTableSource.Parse(s));
            Assert.True(ex is null or RateRuleParseException, ex?.ToString());
        }, iter: 2000);
    }
}

public sealed class RateEvaluatorTests
{
    private static readonly RateTableSource Table = RateTableSource.Parse("BTC_USD = 50000/50100; USD_EUR = 0.9; BTC_CHF = 45000; JPY_BTC = 0.0000001");

    private sealed class FailingSource(string name) : IRateSource
    {
        public string Name => name;

        public Task<IReadOnlyList<RateQuote>> GetRatesAsync(CancellationToken cancellationToken = default) => throw new HttpRequestException("offline");
    }

    private sealed class CountingSource(string name, params RateQuote[] quotes) : IRateSource
    {
        public int Calls { get; private set; }

        public string Name => name;

        public Task<IReadOnlyList<RateQuote>> GetRatesAsync(CancellationToken cancellationToken = default)
        {
            Calls++;
            return Task.FromResult<IReadOnlyList<RateQuote>>(quotes);
        }
    }

    private static Task<RateResult> Eval(string program, string pair, params IRateSource[] extra)
        => new RateRuleEvaluator([Table, .. extra]).EvaluateAsync(RateRules.Parse(program), CurrencyPair.Parse(pair));

    [Fact]
    public async Task Table_lookups_and_default_source()
    {
        Assert.Equal(new BidAsk(50000m, 50100m), (await Eval("", "BTC_USD")).Rate);
        Assert.Equal("table(BTC_USD)", (await Eval("", "BTC_USD")).Rule);
        Assert.Equal(new BidAsk(50000m, 50100m), (await Eval("BTC_USD = table(BTC_USD);", "BTC_USD")).Rate);
        Assert.Equal(new BidAsk(1m), (await Eval("", "EUR_EUR")).Rate);
    }

    [Fact]
    public async Task Inverse_pairs_swap_bid_and_ask()
    {
        var r = await Eval("", "USD_BTC");
        Assert.Equal(1m / 50100m, r.Rate.Bid);
        Assert.Equal(1m / 50000m, r.Rate.Ask);
        var fromRule = await Eval("BTC_USD = table(BTC_USD);", "USD_BTC");
        Assert.Equal(r.Rate, fromRule.Rate);
        Assert.Equal(10_000_000m, (await Eval("", "BTC_JPY")).Rate.Bid);
    }

    [Fact]
    public async Task Cross_rates_multiply_intervals()
    {
        var r = await Eval("BTC_EUR = BTC_USD * USD_EUR;", "BTC_EUR");
        Assert.Equal(new BidAsk(45000m, 45090m), r.Rate);
        Assert.Equal("(BTC_USD * USD_EUR)", r.Rule);
    }

    [Fact]
    public async Task Spreads_widen_bid_and_ask()
    {
        Assert.Equal(new BidAsk(44100m, 45900m), (await Eval("BTC_CHF = spread(table(BTC_CHF), 0.02);", "BTC_CHF")).Rate);
        Assert.Equal(new BidAsk(44550m, 44550m), (await Eval("BTC_CHF = table(BTC_CHF) * (1 - 0.01);", "BTC_CHF")).Rate);
        var global = await Eval("spread 1%;", "BTC_CHF");
        Assert.Equal(new BidAsk(44550m, 45450m), global.Rate);
        Assert.Equal("spread(table(BTC_CHF), 0.01)", global.Rule);
    }

    [Fact]
    public async Task Arithmetic_uses_interval_rules()
    {
        Assert.Equal(new BidAsk(49900m, 50000m), (await Eval("BTC_USD = table(BTC_USD) - 100;", "BTC_USD")).Rate);
        Assert.Equal(new BidAsk(25000m, 25050m), (await Eval("BTC_USD = table(BTC_USD) / 2;", "BTC_USD")).Rate);
        Assert.Equal(new BidAsk(3m), (await Eval("BTC_USD = 1 + 2;", "BTC_USD")).Rate);
        Assert.Equal(new BidAsk(5m), (await Eval("BTC_USD = -(-5);", "BTC_USD")).Rate);
    }

    [Fact]
    public async Task Fallback_uses_the_alternative_when_the_primary_is_unavailable()
    {
        Assert.Equal(new BidAsk(45000m), (await Eval("BTC_CHF = kraken(BTC_CHF) ?? table(BTC_CHF);", "BTC_CHF", new FailingSource("kraken"))).Rate);
        Assert.Equal(new BidAsk(45000m), (await Eval("BTC_CHF = nosuch(BTC_CHF) ?? table(BTC_CHF);", "BTC_CHF")).Rate);
        Assert.Equal(new BidAsk(7m), (await Eval("BTC_CHF = table(BTC_XXX) ?? 7;", "BTC_CHF")).Rate);
    }

    public static TheoryData<string, string, RateEvaluationError> EvaluationErrors() => new()
    {
        { "", "BTC_XYZ", RateEvaluationError.PairUnavailable },
        { "BTC_CHF = kraken(BTC_CHF);", "BTC_CHF", RateEvaluationError.UnknownSource },
        { "BTC_CHF = failing(BTC_CHF);", "BTC_CHF", RateEvaluationError.SourceFailed },
        { "BTC_USD = BTC_EUR * EUR_USD; BTC_EUR = BTC_USD * USD_EUR; EUR_USD = 1.1;", "BTC_USD", RateEvaluationError.Cycle },
        { "AA_BB = AA_BB;", "AA_BB", RateEvaluationError.Cycle },
        { "AA_BB = 1 / (1 - 1);", "AA_BB", RateEvaluationError.DivisionByZero },
        { "AA_BB = invert(0);", "AA_BB", RateEvaluationError.DivisionByZero },
        { "AA_BB = 0 - 5;", "AA_BB", RateEvaluationError.InvalidResult },
        { "AA_BB = 0;", "AA_BB", RateEvaluationError.InvalidResult },
        { "AA_BB = 79228162514264337593543950335 * 10;", "AA_BB", RateEvaluationError.Overflow },
    };

    [Theory]
    [MemberData(nameof(EvaluationErrors))]
    public async Task Evaluation_errors_are_typed(string program, string pair, RateEvaluationError error)
    {
        var e = await Assert.ThrowsAsync<RateEvaluationException>(() => Eval(program, pair, new FailingSource("failing")));
        Assert.Equal(error, e.Error);
    }

    [Fact]
    public async Task Cycle_error_names_the_path()
    {
        var e = await Assert.ThrowsAsync<RateEvaluationException>(() => Eval("BTC_USD = BTC_EUR; BTC_EUR = BTC_USD;", "BTC_USD"));
        Assert.Contains("BTC_USD -> BTC_EUR -> BTC_USD", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_default_source_a_missing_rule_is_NoRule()
    {
        var evaluator = new RateRuleEvaluator([Table], defaultSource: null);
        var e = await Assert.ThrowsAsync<RateEvaluationException>(() => evaluator.EvaluateAsync(RateRules.Empty, CurrencyPair.Parse("BTC_USD")));
        Assert.Equal(RateEvaluationError.NoRule, e.Error);
    }

    [Fact]
    public async Task Each_source_is_fetched_once_per_evaluation()
    {
        var source = new CountingSource("feed", new RateQuote(CurrencyPair.Parse("BTC_USD"), new BidAsk(10m)), new RateQuote(CurrencyPair.Parse("USD_EUR"), new BidAsk(2m)));
        var r = await new RateRuleEvaluator([Table, source]).EvaluateAsync(
            RateRules.Parse("BTC_USD = feed(BTC_USD); USD_EUR = feed(USD_EUR); BTC_EUR = BTC_USD * USD_EUR + feed(BTC_USD);"), CurrencyPair.Parse("BTC_EUR"));
        Assert.Equal(new BidAsk(30m), r.Rate);
        Assert.Equal(1, source.Calls);
    }

    [Fact]
    public void Duplicate_or_invalid_source_names_are_configuration_errors()
    {
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, Assert.Throws<MerchantException>(() => new RateRuleEvaluator([Table, Table])).Reason);
        Assert.Throws<MerchantException>(() => new RateTableSource(new Dictionary<CurrencyPair, BidAsk>(), "Bad Name"));
    }

    [Fact]
    public async Task Random_valid_programs_evaluate_or_fail_typed()
    {
        var atoms = new[] { "table(BTC_USD)", "table(USD_EUR)", "BTC_USD", "USD_EUR", "2", "0.5", "0", "1%", "table(XXX_YYY)" };
        var ops = new[] { " + ", " - ", " * ", " / ", " ?? " };
        var gen = Gen.Select(Gen.Int[0, atoms.Length - 1].Array[1, 6], Gen.Int[0, ops.Length - 1].Array[5]);
        var evaluator = new RateRuleEvaluator([Table]);
        await gen.SampleAsync(async (a, o) =>
        {
            var expr = atoms[a[0]];
            for (var i = 1; i < a.Length; i++)
            {
                expr += ops[o[i - 1]] + atoms[a[i]];
            }

            var rules = RateRules.Parse($"BTC_EUR = {expr};");
            var e = await Record.ExceptionAsync(() => evaluator.EvaluateAsync(rules, CurrencyPair.Parse("BTC_EUR")));
            Assert.True(e is null or RateEvaluationException, e?.ToString());
        }, iter: 500);
    }
}
