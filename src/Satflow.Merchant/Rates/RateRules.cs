using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace Satflow.Merchant.Rates;

/// <summary>
/// A parsed rate rule program. Syntax (see docs/merchant.md): statements end with <c>;</c>;
/// <c>PAIR = expression;</c> defines a rule; <c>spread NUMBER;</c> sets a spread applied to every final rate.
/// Expressions: numbers (<c>0.99</c>, <c>1%</c>), pairs (<c>USD_EUR</c>, resolved through other rules),
/// source lookups (<c>table(BTC_USD)</c>), <c>+ - * /</c>, unary minus, parentheses, fallback <c>a ?? b</c> (lowest
/// precedence), <c>spread(expr, 0.01)</c>, <c>invert(expr)</c>. Comments run from <c>//</c> or <c>#</c> to the line end.
/// </summary>
public sealed class RateRules
{
    /// <summary>Longest accepted program text.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>Deepest accepted expression nesting.</summary>
    public const int MaxDepth = 64;

    private RateRules(string text, IReadOnlyDictionary<CurrencyPair, RateExpression> rules, decimal spread)
    {
        Text = text;
        Rules = rules;
        Spread = spread;
    }

    /// <summary>The empty program: every pair comes from the default source.</summary>
    public static RateRules Empty { get; } = new("", ReadOnlyDictionary<CurrencyPair, RateExpression>.Empty, 0m);

    /// <summary>The source text.</summary>
    public string Text { get; }

    /// <summary>The rules by pair.</summary>
    public IReadOnlyDictionary<CurrencyPair, RateExpression> Rules { get; }

    /// <summary>The global spread from a <c>spread</c> directive (0 when absent).</summary>
    public decimal Spread { get; }

    /// <summary>Whether a name is a valid source name (lowercase letters and digits, starting with a letter, at most 32).</summary>
    /// <param name="name">The candidate.</param>
    /// <returns>True when valid.</returns>
    public static bool IsSourceName(string? name)
        => name is { Length: >= 1 and <= 32 } && char.IsAsciiLetterLower(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c));

    /// <summary>Parses a program.</summary>
    /// <param name="text">The program.</param>
    /// <returns>The rules.</returns>
    /// <exception cref="RateRuleParseException">Any syntax error, with line and column.</exception>
    public static RateRules Parse(string? text)
    {
        text ??= "";
        if (text.Length > MaxLength)
        {
            throw new RateRuleParseException(RateRuleParseError.TooComplex, $"A rate rule program is at most {MaxLength} characters.", 1, 1);
        }

        var parser = new Parser(Lexer.Tokenize(text));
        var (rules, spread) = parser.ParseProgram();
        return new RateRules(text, new ReadOnlyDictionary<CurrencyPair, RateExpression>(rules), spread);
    }

    /// <summary>The program in canonical form.</summary>
    /// <returns>Normalised text.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Spread != 0m)
        {
            sb.Append("spread ").Append(Spread.ToString(CultureInfo.InvariantCulture)).Append(";\n");
        }

        foreach (var (pair, expr) in Rules.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
        {
            sb.Append(pair.ToString()).Append(" = ").Append(expr.ToString()).Append(";\n");
        }

        return sb.ToString();
    }

    private enum TokenKind
    {
        Pair,
        Identifier,
        Number,
        Percent,
        Assign,
        Semicolon,
        LeftParen,
        RightParen,
        Comma,
        Plus,
        Minus,
        Star,
        Slash,
        Fallback,
        End,
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Line, int Column, decimal Number = 0m);

    private static class Lexer
    {
        public static List<Token> Tokenize(string text)
        {
            var tokens = new List<Token>();
            int i = 0, line = 1, lineStart = 0;
            while (i < text.Length)
            {
                var c = text[i];
                var col = i - lineStart + 1;
                if (c == '\n')
                {
                    i++;
                    line++;
                    lineStart = i;
                    continue;
                }

                if (c is ' ' or '\t' or '\r')
                {
                    i++;
                    continue;
                }

                if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
                {
                    while (i < text.Length && text[i] != '\n')
                    {
                        i++;
                    }

                    continue;
                }

                if (char.IsAsciiLetter(c))
                {
                    var start = i;
                    while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                    {
                        i++;
                    }

                    var word = text[start..i];
                    if (word.Contains('_', StringComparison.Ordinal))
                    {
                        if (!CurrencyPair.TryParse(word, out _))
                        {
                            throw new RateRuleParseException(RateRuleParseError.InvalidPair, $"'{Clip(word)}' is not a currency pair like BTC_USD.", line, col);
                        }

                        tokens.Add(new Token(TokenKind.Pair, word, line, col));
                    }
                    else
                    {
                        tokens.Add(new Token(TokenKind.Identifier, word, line, col));
                    }

                    continue;
                }

                if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
                {
                    var start = i;
                    while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                    {
                        i++;
                    }

                    var number = text[start..i];
                    if (number.Count(ch => ch == '.') > 1 || number.Length > 40
                        || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
                    {
                        throw new RateRuleParseException(RateRuleParseError.InvalidNumber, $"'{Clip(number)}' is not a valid number.", line, col);
                    }

                    if (i < text.Length && (char.IsAsciiLetter(text[i]) || text[i] == '_'))
                    {
                        throw new RateRuleParseException(RateRuleParseError.InvalidNumber, "A number may not run into a name.", line, i - lineStart + 1);
                    }

                    tokens.Add(new Token(TokenKind.Number, number, line, col, value));
                    continue;
                }

                TokenKind kind;
                var length = 1;
                switch (c)
                {
                    case '=': kind = TokenKind.Assign; break;
                    case ';': kind = TokenKind.Semicolon; break;
                    case '(': kind = TokenKind.LeftParen; break;
                    case ')': kind = TokenKind.RightParen; break;
                    case ',': kind = TokenKind.Comma; break;
                    case '+': kind = TokenKind.Plus; break;
                    case '-': kind = TokenKind.Minus; break;
                    case '*': kind = TokenKind.Star; break;
                    case '/': kind = TokenKind.Slash; break;
                    case '%': kind = TokenKind.Percent; break;
                    case '?' when i + 1 < text.Length && text[i + 1] == '?':
                        kind = TokenKind.Fallback;
                        length = 2;
                        break;
                    default:
                        throw new RateRuleParseException(RateRuleParseError.UnexpectedCharacter, $"Unexpected character '{Printable(c)}'.", line, col);
                }

                tokens.Add(new Token(kind, text.Substring(i, length), line, col));
                i += length;
            }

            tokens.Add(new Token(TokenKind.End, "", line, text.Length - lineStart + 1));
            return tokens;
        }

        private static string Printable(char c) => char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:X4}" : c.ToString();
    }

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "…" : s;

    private sealed class Parser(List<Token> tokens)
    {
        private int _position;
        private int _depth;

        private Token Current => tokens[_position];

        public (Dictionary<CurrencyPair, RateExpression> Rules, decimal Spread) ParseProgram()
        {
            var rules = new Dictionary<CurrencyPair, RateExpression>();
            decimal spread = 0m;
            var spreadSeen = false;
            while (Current.Kind != TokenKind.End)
            {
                var start = Current;
                if (start.Kind == TokenKind.Identifier && start.Text == "spread")
                {
                    _position++;
                    if (spreadSeen)
                    {
                        throw Error(RateRuleParseError.DuplicateRule, "Only one spread directive is allowed.", start);
                    }

                    spread = ParseSpreadValue();
                    spreadSeen = true;
                    Expect(TokenKind.Semicolon, "';'");
                    continue;
                }

                if (start.Kind != TokenKind.Pair)
                {
                    throw start.Kind == TokenKind.Identifier
                        ? Error(RateRuleParseError.InvalidPair, $"'{Clip(start.Text)}' is not a currency pair like BTC_USD.", start)
                        : Unexpected("a rule 'PAIR = expression;' or 'spread N;'");
                }

                _position++;
                var pair = CurrencyPair.Parse(start.Text);
                Expect(TokenKind.Assign, "'='");
                var expression = ParseExpression();
                Expect(TokenKind.Semicolon, "';'");
                if (!rules.TryAdd(pair, expression))
                {
                    throw Error(RateRuleParseError.DuplicateRule, $"{pair} has two rules.", start);
                }
            }

            return (rules, spread);
        }

        private decimal ParseSpreadValue()
        {
            var token = Current;
            if (token.Kind != TokenKind.Number)
            {
                throw Unexpected("a spread like 0.01 or 1%");
            }

            _position++;
            var value = token.Number;
            if (Current.Kind == TokenKind.Percent)
            {
                _position++;
                value /= 100m;
            }

            if (value < 0m || value >= 1m)
            {
                throw Error(RateRuleParseError.InvalidSpread, "A spread must be at least 0 and below 1 (100%).", token);
            }

            return value;
        }

        private RateExpression ParseExpression()
        {
            if (++_depth > MaxDepth)
            {
                throw Error(RateRuleParseError.TooComplex, $"Expressions may nest at most {MaxDepth} deep.", Current);
            }

            var left = ParseAdditive();
            if (Current.Kind == TokenKind.Fallback)
            {
                var op = Current;
                _position++;
                var right = ParseExpression();
                left = new RateExpression.Fallback(left, right, op.Line, op.Column);
            }

            _depth--;
            return left;
        }

        private RateExpression ParseAdditive()
        {
            var left = ParseTerm();
            while (Current.Kind is TokenKind.Plus or TokenKind.Minus)
            {
                var op = Current;
                _position++;
                var right = ParseTerm();
                left = new RateExpression.Binary(op.Kind == TokenKind.Plus ? '+' : '-', left, right, op.Line, op.Column);
            }

            return left;
        }

        private RateExpression ParseTerm()
        {
            var left = ParseUnary();
            while (Current.Kind is TokenKind.Star or TokenKind.Slash)
            {
                var op = Current;
                _position++;
                var right = ParseUnary();
                left = new RateExpression.Binary(op.Kind == TokenKind.Star ? '*' : '/', left, right, op.Line, op.Column);
            }

            return left;
        }

        private RateExpression ParseUnary()
        {
            if (Current.Kind == TokenKind.Minus)
            {
                var op = Current;
                _position++;
                if (++_depth > MaxDepth)
                {
                    throw Error(RateRuleParseError.TooComplex, $"Expressions may nest at most {MaxDepth} deep.", op);
                }

                var operand = ParseUnary();
                _depth--;
                return new RateExpression.Negate(operand, op.Line, op.Column);
            }

            return ParsePrimary();
        }

        private RateExpression ParsePrimary()
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Number:
                    _position++;
                    if (Current.Kind == TokenKind.Percent)
                    {
                        _position++;
                        return new RateExpression.Constant(token.Number / 100m, token.Line, token.Column);
                    }

                    return new RateExpression.Constant(token.Number, token.Line, token.Column);
                case TokenKind.Pair:
                    _position++;
                    return new RateExpression.PairReference(CurrencyPair.Parse(token.Text), token.Line, token.Column);
                case TokenKind.LeftParen:
                    _position++;
                    var inner = ParseExpression();
                    Expect(TokenKind.RightParen, "')'");
                    return inner;
                case TokenKind.Identifier:
                    return ParseCall();
                default:
                    throw Unexpected("a number, a pair, a function call or '('");
            }
        }

        private RateExpression ParseCall()
        {
            var name = Current;
            _position++;
            if (Current.Kind != TokenKind.LeftParen)
            {
                throw Error(RateRuleParseError.InvalidPair, $"'{Clip(name.Text)}' is neither a currency pair like BTC_USD nor a function call.", name);
            }

            _position++;
            switch (name.Text)
            {
                case "spread":
                {
                    var operand = ParseExpression();
                    Expect(TokenKind.Comma, "',' and a spread");
                    var spread = ParseSpreadValue();
                    Expect(TokenKind.RightParen, "')'");
                    return new RateExpression.Spread(operand, spread, name.Line, name.Column);
                }

                case "invert":
                {
                    var operand = ParseExpression();
                    Expect(TokenKind.RightParen, "')'");
                    return new RateExpression.Invert(operand, name.Line, name.Column);
                }

                default:
                {
                    if (!IsSourceName(name.Text))
                    {
                        throw Error(RateRuleParseError.InvalidArguments, $"'{Clip(name.Text)}' is not a source name (lowercase letters and digits).", name);
                    }

                    var argument = Current;
                    if (argument.Kind != TokenKind.Pair)
                    {
                        throw Error(RateRuleParseError.InvalidArguments, $"{name.Text}(...) takes one currency pair like BTC_USD.", argument);
                    }

                    _position++;
                    Expect(TokenKind.RightParen, "')'");
                    return new RateExpression.SourceLookup(name.Text, CurrencyPair.Parse(argument.Text), name.Line, name.Column);
                }
            }
        }

        private void Expect(TokenKind kind, string what)
        {
            if (Current.Kind != kind)
            {
                throw Unexpected(what);
            }

            _position++;
        }

        private RateRuleParseException Unexpected(string expected)
            => Current.Kind == TokenKind.End
                ? Error(RateRuleParseError.UnexpectedEnd, $"The program ended; expected {expected}.", Current)
                : Error(RateRuleParseError.UnexpectedToken, $"Unexpected '{Clip(Current.Text)}'; expected {expected}.", Current);

        private static RateRuleParseException Error(RateRuleParseError error, string message, Token at) => new(error, message, at.Line, at.Column);
    }
}

/// <summary>A node of a parsed rate rule expression.</summary>
public abstract record RateExpression(int Line, int Column)
{
    /// <summary>A number.</summary>
    /// <param name="Value">The value.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record Constant(decimal Value, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Another pair, resolved through the rules.</summary>
    /// <param name="Pair">The pair.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record PairReference(CurrencyPair Pair, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => Pair.ToString();
    }

    /// <summary>A lookup in a named source.</summary>
    /// <param name="Source">The source name.</param>
    /// <param name="Pair">The pair.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record SourceLookup(string Source, CurrencyPair Pair, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Source}({Pair})";
    }

    /// <summary>An arithmetic operation.</summary>
    /// <param name="Operator">One of <c>+ - * /</c>.</param>
    /// <param name="Left">Left operand.</param>
    /// <param name="Right">Right operand.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record Binary(char Operator, RateExpression Left, RateExpression Right, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => $"({Left} {Operator} {Right})";
    }

    /// <summary>Unary minus.</summary>
    /// <param name="Operand">Operand.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record Negate(RateExpression Operand, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => $"-{Operand}";
    }

    /// <summary><c>Primary ?? Alternative</c>: the alternative when the primary is unavailable.</summary>
    /// <param name="Primary">Tried first.</param>
    /// <param name="Alternative">Used when the primary has no rule, no quote or a failed source.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record Fallback(RateExpression Primary, RateExpression Alternative, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => $"({Primary} ?? {Alternative})";
    }

    /// <summary><c>spread(expr, s)</c>: bid × (1 − s), ask × (1 + s).</summary>
    /// <param name="Operand">The rate.</param>
    /// <param name="Amount">The spread in [0, 1).</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record Spread(RateExpression Operand, decimal Amount, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => $"spread({Operand}, {Amount.ToString(CultureInfo.InvariantCulture)})";
    }

    /// <summary><c>invert(expr)</c>: 1 / rate, swapping bid and ask.</summary>
    /// <param name="Operand">The rate.</param>
    /// <param name="Line">Line.</param>
    /// <param name="Column">Column.</param>
    public sealed record Invert(RateExpression Operand, int Line, int Column) : RateExpression(Line, Column)
    {
        /// <inheritdoc/>
        public override string ToString() => $"invert({Operand})";
    }
}
