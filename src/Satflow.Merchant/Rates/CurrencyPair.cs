using System.Globalization;

namespace Satflow.Merchant.Rates;

/// <summary>A currency pair <c>BASE_QUOTE</c>: the price of one unit of <see cref="Base"/> in <see cref="Quote"/>.</summary>
public readonly record struct CurrencyPair
{
    /// <summary>Creates a pair, validating both codes.</summary>
    /// <param name="baseCurrency">E.g. <c>BTC</c>.</param>
    /// <param name="quoteCurrency">E.g. <c>USD</c>.</param>
    public CurrencyPair(string baseCurrency, string quoteCurrency)
    {
        if (!IsCurrencyCode(baseCurrency) || !IsCurrencyCode(quoteCurrency))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Currency codes are 2 to 10 uppercase ASCII letters or digits, starting with a letter.");
        }

        Base = baseCurrency;
        Quote = quoteCurrency;
    }

    /// <summary>The base currency.</summary>
    public string Base { get; }

    /// <summary>The quote currency.</summary>
    public string Quote { get; }

    /// <summary>The inverse pair <c>QUOTE_BASE</c>.</summary>
    public CurrencyPair Inverse => new(Quote, Base);

    /// <summary>Whether a string is a valid currency code (2–10 uppercase letters/digits, first a letter).</summary>
    /// <param name="code">The candidate.</param>
    /// <returns>True when valid.</returns>
    public static bool IsCurrencyCode(string? code)
        => code is { Length: >= 2 and <= 10 } && char.IsAsciiLetterUpper(code[0]) && code.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c));

    /// <summary>Parses <c>BASE_QUOTE</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="pair">The pair.</param>
    /// <returns>Whether it parsed.</returns>
    public static bool TryParse(string? text, out CurrencyPair pair)
    {
        pair = default;
        if (text is null)
        {
            return false;
        }

        var sep = text.IndexOf('_', StringComparison.Ordinal);
        if (sep < 0 || sep != text.LastIndexOf('_'))
        {
            return false;
        }

        var b = text[..sep];
        var q = text[(sep + 1)..];
        if (!IsCurrencyCode(b) || !IsCurrencyCode(q))
        {
            return false;
        }

        pair = new CurrencyPair(b, q);
        return true;
    }

    /// <summary>Parses <c>BASE_QUOTE</c> or throws.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The pair.</returns>
    /// <exception cref="MerchantException">Malformed.</exception>
    public static CurrencyPair Parse(string? text)
        => TryParse(text, out var p) ? p : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{text}' is not a currency pair like BTC_USD.");

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Base}_{Quote}");
}

/// <summary>A two-sided rate: what a market buys (<see cref="Bid"/>) and sells (<see cref="Ask"/>) one base unit for.</summary>
public readonly record struct BidAsk
{
    /// <summary>Creates a rate; bid must be positive and not above ask.</summary>
    /// <param name="bid">The bid.</param>
    /// <param name="ask">The ask.</param>
    public BidAsk(decimal bid, decimal ask)
    {
        if (bid <= 0m || ask < bid)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A rate needs 0 < bid <= ask.");
        }

        Bid = bid;
        Ask = ask;
    }

    /// <summary>A one-sided rate (bid = ask).</summary>
    /// <param name="rate">The rate.</param>
    public BidAsk(decimal rate)
        : this(rate, rate)
    {
    }

    /// <summary>The bid.</summary>
    public decimal Bid { get; }

    /// <summary>The ask.</summary>
    public decimal Ask { get; }

    /// <summary>The rate of the inverse pair.</summary>
    public BidAsk Invert() => new(1m / Ask, 1m / Bid);

    /// <inheritdoc/>
    public override string ToString()
        => Bid == Ask ? Bid.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{Bid}/{Ask}");
}

/// <summary>One quote from a rate source.</summary>
/// <param name="Pair">The pair.</param>
/// <param name="Rate">Its rate.</param>
public sealed record RateQuote(CurrencyPair Pair, BidAsk Rate);

/// <summary>A rate source plugin (an exchange API, a price feed, or the offline table).</summary>
public interface IRateSource
{
    /// <summary>The name used in rule programs, e.g. <c>table</c> in <c>table(BTC_USD)</c>: lowercase letters and digits.</summary>
    string Name { get; }

    /// <summary>Fetches all pairs the source offers.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The quotes.</returns>
    Task<IReadOnlyList<RateQuote>> GetRatesAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// The offline default source: a rate table from configuration. Text format, one pair per line or separated by
/// <c>;</c>: <c>BTC_USD = 65000</c> or <c>BTC_USD = 64900/65100</c> (bid/ask); <c>#</c> starts a comment.
/// </summary>
public sealed class RateTableSource : IRateSource
{
    /// <summary>The default source name.</summary>
    public const string DefaultName = "table";

    private readonly IReadOnlyList<RateQuote> _quotes;

    /// <summary>Creates the source from rates.</summary>
    /// <param name="rates">The rates.</param>
    /// <param name="name">Source name.</param>
    public RateTableSource(IReadOnlyDictionary<CurrencyPair, BidAsk> rates, string name = DefaultName)
    {
        ArgumentNullException.ThrowIfNull(rates);
        if (!RateRules.IsSourceName(name))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A rate source name is lowercase letters and digits, starting with a letter.");
        }

        Name = name;
        _quotes = rates.Select(kv => new RateQuote(kv.Key, kv.Value)).OrderBy(q => q.Pair.ToString(), StringComparer.Ordinal).ToArray();
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The table.</summary>
    public IReadOnlyList<RateQuote> Quotes => _quotes;

    /// <inheritdoc/>
    public Task<IReadOnlyList<RateQuote>> GetRatesAsync(CancellationToken cancellationToken = default) => Task.FromResult(_quotes);

    /// <summary>Parses the configuration text.</summary>
    /// <param name="text">The table text.</param>
    /// <param name="name">Source name.</param>
    /// <returns>The source.</returns>
    /// <exception cref="RateRuleParseException">Malformed table, with line and column.</exception>
    public static RateTableSource Parse(string text, string name = DefaultName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rates = new Dictionary<CurrencyPair, BidAsk>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            var content = hash >= 0 ? line[..hash] : line;
            var column = 0;
            foreach (var segment in content.Split(';'))
            {
                var col = column + 1 + (segment.Length - segment.TrimStart().Length);
                column += segment.Length + 1;
                if (string.IsNullOrWhiteSpace(segment))
                {
                    continue;
                }

                var eq = segment.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    throw new RateRuleParseException(RateRuleParseError.InvalidRateTable, "Expected 'PAIR = rate'.", i + 1, col);
                }

                if (!CurrencyPair.TryParse(segment[..eq].Trim(), out var pair))
                {
                    throw new RateRuleParseException(RateRuleParseError.InvalidPair, $"'{segment[..eq].Trim()}' is not a currency pair.", i + 1, col);
                }

                var value = segment[(eq + 1)..].Trim();
                var slash = value.IndexOf('/', StringComparison.Ordinal);
                decimal bid, askValue;
                var ok = slash < 0
                    ? TryRate(value, out bid) & TryRate(value, out askValue)
                    : TryRate(value[..slash].Trim(), out bid) & TryRate(value[(slash + 1)..].Trim(), out askValue);
                if (!ok || bid <= 0m || askValue < bid)
                {
                    throw new RateRuleParseException(RateRuleParseError.InvalidNumber, $"'{value}' is not a positive rate or bid/ask with bid <= ask.", i + 1, col + eq + 1);
                }

                if (!rates.TryAdd(pair, new BidAsk(bid, askValue)))
                {
                    throw new RateRuleParseException(RateRuleParseError.DuplicateRule, $"{pair} is listed twice.", i + 1, col);
                }
            }
        }

        return new RateTableSource(rates, name);
    }

    private static bool TryRate(string text, out decimal value)
        => decimal.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out value);
}
