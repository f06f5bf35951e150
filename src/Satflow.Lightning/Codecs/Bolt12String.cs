using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Codecs;

/// <summary>
/// The BOLT 12 text form: <c>hrp</c> + <c>1</c> + bech32 data characters without a checksum, all lower or all upper
/// case; a <c>+</c> followed by optional whitespace between two bech32 characters joins parts and is removed.
/// </summary>
public static class Bolt12String
{
    /// <summary>Decodes text into its lower-case prefix and TLV bytes.</summary>
    /// <exception cref="WireFormatException">On a misplaced <c>+</c>, stray whitespace, mixed case, bad characters or padding.</exception>
    public static (string Hrp, byte[] Data) Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var joined = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '+')
            {
                joined.Append(c);
                continue;
            }
            if (i == 0 || !IsBech32Char(text[i - 1]))
            {
                throw new WireFormatException("'+' must follow a bech32 character", $"position {i}");
            }
            var next = i + 1;
            while (next < text.Length && char.IsWhiteSpace(text[next]))
            {
                next++;
            }
            if (next >= text.Length || !IsBech32Char(text[next]))
            {
                throw new WireFormatException("'+' must be followed by a bech32 character", $"position {i}");
            }
            i = next - 1;
        }
        var (hrp, words) = Bech32.Decode(joined.ToString(), checksum: null);
        return (hrp, Bech32.WordsToBytes(words, strictPadding: true));
    }

    /// <summary>Encodes TLV bytes with a prefix (lower case, no <c>+</c> splitting).</summary>
    public static string Encode(string hrp, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(hrp);
        return hrp.ToLowerInvariant() + "1" + Bech32.EncodeWords(Bech32.BytesToWords(data));
    }

    private static bool IsBech32Char(char c) => char.IsAsciiLetterOrDigit(c);
}
