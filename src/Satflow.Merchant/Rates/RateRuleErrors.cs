namespace Satflow.Merchant.Rates;

/// <summary>What is wrong with a rate rule program.</summary>
public enum RateRuleParseError
{
    /// <summary>A character that starts no token.</summary>
    UnexpectedCharacter,
    /// <summary>A token where another was expected.</summary>
    UnexpectedToken,
    /// <summary>The program ended in the middle of a statement.</summary>
    UnexpectedEnd,
    /// <summary>A malformed or out-of-range number.</summary>
    InvalidNumber,
    /// <summary>A name where a currency pair like <c>BTC_USD</c> was expected.</summary>
    InvalidPair,
    /// <summary>Two rules for the same pair.</summary>
    DuplicateRule,
    /// <summary>A function called with the wrong arguments.</summary>
    InvalidArguments,
    /// <summary>A spread outside [0, 1).</summary>
    InvalidSpread,
    /// <summary>Expressions nested too deeply, or the program is too long.</summary>
    TooComplex,
    /// <summary>A malformed rate table line.</summary>
    InvalidRateTable,
}

/// <summary>A rate rule program (or rate table) failed to parse; carries the 1-based line and column.</summary>
public sealed class RateRuleParseException : MerchantException
{
    /// <summary>Creates the error.</summary>
    /// <param name="error">What is wrong.</param>
    /// <param name="message">Explanation.</param>
    /// <param name="line">1-based line.</param>
    /// <param name="column">1-based column.</param>
    public RateRuleParseException(RateRuleParseError error, string message, int line, int column)
        : base(MerchantErrorReason.InvalidArgument, $"{message} (line {line}, column {column})")
    {
        Error = error;
        Line = line;
        Column = column;
    }

    /// <summary>What is wrong.</summary>
    public RateRuleParseError Error { get; }

    /// <summary>1-based line of the offending token.</summary>
    public int Line { get; }

    /// <summary>1-based column of the offending token.</summary>
    public int Column { get; }
}

/// <summary>Why a rate could not be computed.</summary>
public enum RateEvaluationError
{
    /// <summary>No rule, inverse rule or default source gives the pair.</summary>
    NoRule,
    /// <summary>The named source does not quote the pair.</summary>
    PairUnavailable,
    /// <summary>The program names a source that is not registered.</summary>
    UnknownSource,
    /// <summary>The source failed to answer.</summary>
    SourceFailed,
    /// <summary>Rules reference each other in a cycle.</summary>
    Cycle,
    /// <summary>A division by a rate whose range includes zero.</summary>
    DivisionByZero,
    /// <summary>The result is not a positive rate with bid &lt;= ask.</summary>
    InvalidResult,
    /// <summary>The arithmetic overflowed.</summary>
    Overflow,
}

/// <summary>A rate could not be computed.</summary>
public sealed class RateEvaluationException : MerchantException
{
    /// <summary>Creates the error.</summary>
    /// <param name="error">Why.</param>
    /// <param name="pair">The pair being computed when it failed.</param>
    /// <param name="message">Explanation.</param>
    /// <param name="inner">Underlying cause.</param>
    public RateEvaluationException(RateEvaluationError error, CurrencyPair pair, string message, Exception? inner = null)
        : base(MerchantErrorReason.InvalidState, message, inner)
    {
        Error = error;
        Pair = pair;
    }

    /// <summary>Why.</summary>
    public RateEvaluationError Error { get; }

    /// <summary>The pair being computed when it failed.</summary>
    public CurrencyPair Pair { get; }
}
