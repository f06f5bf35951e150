using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Codecs;

/// <summary>Which checksum constant a bech32 string uses (BIP 173 or BIP 350).</summary>
public enum Bech32Variant
{
    /// <summary>BIP 173 bech32 (constant 1): BOLT 11 invoices and segwit v0 addresses.</summary>
    Bech32,

    /// <summary>BIP 350 bech32m (constant 0x2bc830a3): segwit v1+ addresses.</summary>
    Bech32M,
}

/// <summary>
/// Bech32 helpers shared by BOLT 11 and BOLT 12: the 5-bit alphabet, the BIP 173/350 checksum (without the 90-character
/// limit) and regrouping between 8-bit bytes and 5-bit words. Malformed text throws <see cref="WireFormatException"/>.
/// </summary>
public static class Bech32
{
    /// <summary>The 32-character data alphabet.</summary>
    public const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    private static readonly sbyte[] CharsetRev = BuildReverse();

    private static sbyte[] BuildReverse()
    {
        var rev = new sbyte[128];
        Array.Fill(rev, (sbyte)-1);
        for (var i = 0; i < Charset.Length; i++)
        {
            rev[Charset[i]] = (sbyte)i;
            rev[char.ToUpperInvariant(Charset[i])] = (sbyte)i;
        }
        return rev;
    }

    /// <summary>The 5-bit value of a data character, or -1 when it is not in the alphabet (either case).</summary>
    public static int CharValue(char c) => c < 128 ? CharsetRev[c] : -1;

    /// <summary>True when <paramref name="c"/> is a data character (either case).</summary>
    public static bool IsDataChar(char c) => CharValue(c) >= 0;

    private static uint PolyMod(ReadOnlySpan<byte> hrpExpanded, ReadOnlySpan<byte> values)
    {
        uint chk = 1;
        Step(ref chk, hrpExpanded);
        Step(ref chk, values);
        return chk;

        static void Step(ref uint chk, ReadOnlySpan<byte> values)
        {
            foreach (var v in values)
            {
                var top = chk >> 25;
                chk = ((chk & 0x1ffffff) << 5) ^ v;
                if ((top & 1) != 0) { chk ^= 0x3b6a57b2; }
                if ((top & 2) != 0) { chk ^= 0x26508e6d; }
                if ((top & 4) != 0) { chk ^= 0x1ea119fa; }
                if ((top & 8) != 0) { chk ^= 0x3d4233dd; }
                if ((top & 16) != 0) { chk ^= 0x2a1462b3; }
            }
        }
    }

    private static byte[] ExpandHrp(string hrp)
    {
        var result = new byte[(hrp.Length * 2) + 1];
        for (var i = 0; i < hrp.Length; i++)
        {
            result[i] = (byte)(hrp[i] >> 5);
            result[i + hrp.Length + 1] = (byte)(hrp[i] & 31);
        }
        return result;
    }

    private static uint Constant(Bech32Variant variant) => variant == Bech32Variant.Bech32 ? 1u : 0x2bc830a3u;

    /// <summary>Encodes a lower-case bech32 string: <paramref name="hrp"/>, <c>1</c>, the words and a checksum.</summary>
    /// <param name="hrp">The human-readable part (lower case ASCII 33..126).</param>
    /// <param name="words">5-bit values (each below 32).</param>
    /// <param name="variant">The checksum constant.</param>
    public static string Encode(string hrp, ReadOnlySpan<byte> words, Bech32Variant variant = Bech32Variant.Bech32)
    {
        ArgumentNullException.ThrowIfNull(hrp);
        var lowerHrp = hrp.ToLowerInvariant();
        var withChecksum = new byte[words.Length + 6];
        words.CopyTo(withChecksum);
        var mod = PolyMod(ExpandHrp(lowerHrp), withChecksum) ^ Constant(variant);
        for (var i = 0; i < 6; i++)
        {
            withChecksum[words.Length + i] = (byte)((mod >> (5 * (5 - i))) & 31);
        }
        return lowerHrp + "1" + EncodeWords(withChecksum);
    }

    /// <summary>Maps 5-bit values to alphabet characters (no separator, no checksum).</summary>
    /// <exception cref="ArgumentOutOfRangeException">When a value is 32 or more.</exception>
    public static string EncodeWords(ReadOnlySpan<byte> words)
    {
        var chars = new char[words.Length];
        for (var i = 0; i < words.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(words[i], (byte)32);
            chars[i] = Charset[words[i]];
        }
        return new string(chars);
    }

    /// <summary>
    /// Splits a bech32 string at its last <c>1</c>, checks letter case (all lower or all upper), the character set
    /// and, when <paramref name="checksum"/> is set, the checksum (which is then removed from the returned words).
    /// There is no length limit. The returned hrp is lower case.
    /// </summary>
    /// <exception cref="WireFormatException">On any violation.</exception>
    public static (string Hrp, byte[] Words) Decode(string text, Bech32Variant? checksum)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool hasLower = false, hasUpper = false;
        foreach (var c in text)
        {
            if (c < 33 || c > 126)
            {
                throw new WireFormatException("invalid bech32 character", $"character code {(int)c}");
            }
            hasLower |= c is >= 'a' and <= 'z';
            hasUpper |= c is >= 'A' and <= 'Z';
        }
        if (hasLower && hasUpper)
        {
            throw new WireFormatException("mixed case bech32 string");
        }
        var separator = text.LastIndexOf('1');
        if (separator < 0)
        {
            throw new WireFormatException("missing bech32 separator '1'");
        }
        if (separator == 0)
        {
            throw new WireFormatException("empty bech32 human-readable part");
        }
        var hrp = text[..separator].ToLowerInvariant();
        var dataPart = text.AsSpan(separator + 1);
        var words = new byte[dataPart.Length];
        for (var i = 0; i < dataPart.Length; i++)
        {
            var v = CharValue(dataPart[i]);
            if (v < 0)
            {
                throw new WireFormatException("invalid bech32 character", $"'{dataPart[i]}' at data position {i}");
            }
            words[i] = (byte)v;
        }
        if (checksum is { } variant)
        {
            if (words.Length < 6)
            {
                throw new WireFormatException("bech32 string too short for a checksum");
            }
            if (PolyMod(ExpandHrp(hrp), words) != Constant(variant))
            {
                throw new WireFormatException("invalid bech32 checksum");
            }
            words = words[..^6];
        }
        return (hrp, words);
    }

    /// <summary>Regroups 8-bit bytes into 5-bit words, zero-padding the last word.</summary>
    public static byte[] BytesToWords(ReadOnlySpan<byte> bytes) => Regroup(bytes, 8, 5, padLast: true, out _, out _);

    /// <summary>
    /// Regroups 5-bit words into bytes. With <paramref name="strictPadding"/>, leftover bits must be fewer than 5 and
    /// all zero (BIP 173); otherwise leftover bits are dropped (BOLT 11 signing data pads instead; see
    /// <see cref="WordsToBytesPadded"/>).
    /// </summary>
    /// <exception cref="WireFormatException">When strict padding is violated.</exception>
    public static byte[] WordsToBytes(ReadOnlySpan<byte> words, bool strictPadding = true)
    {
        var result = Regroup(words, 5, 8, padLast: false, out var acc, out var bits);
        if (strictPadding)
        {
            if (bits >= 5)
            {
                throw new WireFormatException("bech32 padding exceeds 4 bits");
            }
            if ((acc & ((1 << bits) - 1)) != 0)
            {
                throw new WireFormatException("non-zero bech32 padding");
            }
        }
        return result;
    }

    /// <summary>Regroups 5-bit words into bytes, appending zero bits to complete the last byte.</summary>
    public static byte[] WordsToBytesPadded(ReadOnlySpan<byte> words) => Regroup(words, 5, 8, padLast: true, out _, out _);

    /// <summary>
    /// The BIP 173 <c>convertbits</c> loop: regroups <paramref name="fromBits"/>-wide values into
    /// <paramref name="toBits"/>-wide ones, optionally zero-padding a last partial value; hands back the accumulator
    /// and the count of bits left over so callers can check the padding.
    /// </summary>
    private static byte[] Regroup(ReadOnlySpan<byte> input, int fromBits, int toBits, bool padLast, out int acc, out int bits)
    {
        var totalBits = input.Length * fromBits;
        var result = new byte[padLast ? (totalBits + toBits - 1) / toBits : totalBits / toBits];
        var outMask = (1 << toBits) - 1;
        var accMask = (1 << (fromBits + toBits - 1)) - 1;
        acc = 0;
        bits = 0;
        var index = 0;
        foreach (var value in input)
        {
            acc = ((acc << fromBits) | value) & accMask;
            bits += fromBits;
            while (bits >= toBits)
            {
                bits -= toBits;
                result[index++] = (byte)((acc >> bits) & outMask);
            }
        }
        if (padLast && bits > 0)
        {
            result[index] = (byte)((acc << (toBits - bits)) & outMask);
        }
        return result;
    }

    /// <summary>Encodes a segwit address (BIP 173 for version 0, BIP 350 for versions 1..16).</summary>
    /// <param name="hrp">The address prefix, e.g. <c>bc</c>, <c>tb</c>, <c>bcrt</c>.</param>
    /// <param name="version">The witness version 0..16.</param>
    /// <param name="program">The witness program.</param>
    public static string EncodeSegwitAddress(string hrp, int version, ReadOnlySpan<byte> program)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(version);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(version, 16);
        var programWords = BytesToWords(program);
        var words = new byte[programWords.Length + 1];
        words[0] = (byte)version;
        programWords.CopyTo(words, 1);
        return Encode(hrp, words, version == 0 ? Bech32Variant.Bech32 : Bech32Variant.Bech32M);
    }
}
