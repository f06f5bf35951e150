using System.Globalization;
using System.Text.RegularExpressions;
using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>
/// One ranged output descriptor of the wallet (BIP380/381/382/386): <c>wpkh([fp/84'/1'/0']tpub.../0/*)#checksum</c> or
/// <c>tr([fp/86'/1'/0']tpub.../1/*)#checksum</c>. Only these two single-key forms are produced and parsed.
/// </summary>
public sealed partial record WalletDescriptor
{
    /// <summary>Creates a descriptor.</summary>
    public WalletDescriptor(AddressType type, RootedKeyPath accountOrigin, BitcoinExtPubKey accountXpub, KeyChain chain)
    {
        ArgumentNullException.ThrowIfNull(accountOrigin);
        ArgumentNullException.ThrowIfNull(accountXpub);
        Type = type;
        AccountOrigin = accountOrigin;
        AccountXpub = accountXpub;
        Chain = chain;
    }

    /// <summary>wpkh or tr.</summary>
    public AddressType Type { get; }

    /// <summary>The master fingerprint and the account's path, e.g. <c>d34db33f/84'/1'/0'</c>.</summary>
    public RootedKeyPath AccountOrigin { get; }

    /// <summary>The account's extended public key.</summary>
    public BitcoinExtPubKey AccountXpub { get; }

    /// <summary>Receive (0) or change (1).</summary>
    public KeyChain Chain { get; }

    /// <summary>The descriptor text without checksum.</summary>
    public string Body =>
        string.Create(CultureInfo.InvariantCulture, $"{(Type == AddressType.P2wpkh ? "wpkh" : "tr")}([{AccountOrigin}]{AccountXpub}/{(int)Chain}/*)");

    /// <summary>The descriptor with its <c>#checksum</c>.</summary>
    public override string ToString() => $"{Body}#{DescriptorChecksum.Compute(Body)}";

    /// <summary>Parses a descriptor produced by <see cref="ToString"/> (checksum required).</summary>
    /// <exception cref="WalletFormatException">Not one of the supported forms, bad checksum, or an xpub of another network.</exception>
    public static WalletDescriptor Parse(string text, Network network)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(network);
        var hash = text.LastIndexOf('#');
        if (hash < 0)
        {
            throw new WalletFormatException("descriptor has no checksum");
        }
        var body = text[..hash];
        if (!DescriptorChecksum.TryCompute(body, out var expected) || !string.Equals(expected, text[(hash + 1)..], StringComparison.Ordinal))
        {
            throw new WalletFormatException("descriptor checksum mismatch");
        }
        var m = Shape().Match(body);
        if (!m.Success)
        {
            throw new WalletFormatException("unsupported descriptor (expected wpkh([fp/path]xpub/0|1/*) or tr(...))");
        }
        try
        {
            var type = m.Groups[1].Value == "wpkh" ? AddressType.P2wpkh : AddressType.P2tr;
            var origin = RootedKeyPath.Parse(m.Groups[2].Value);
            var xpub = ExtendedKeyParser.ParsePublic(m.Groups[3].Value, network).GetWif(network);
            var chain = m.Groups[4].Value == "0" ? KeyChain.Receive : KeyChain.Change;
            return new WalletDescriptor(type, origin, xpub, chain);
        }
        catch (FormatException ex)
        {
            throw new WalletFormatException("descriptor key is malformed or of another network", ex);
        }
    }

    [GeneratedRegex(@"^(wpkh|tr)\(\[([0-9a-f]{8}(?:/[0-9]+['h]?)+)\]([1-9A-HJ-NP-Za-km-z]{100,120})/([01])/\*\)$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}

/// <summary>The BIP380 descriptor checksum (an 8-character BCH code over the descriptor's characters).</summary>
public static class DescriptorChecksum
{
    private const string InputCharset = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
    private const string ChecksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    /// <summary>The checksum of a descriptor body (without <c>#</c>).</summary>
    /// <exception cref="WalletFormatException">The body holds a character descriptors do not allow.</exception>
    public static string Compute(string body) =>
        TryCompute(body, out var checksum) ? checksum : throw new WalletFormatException("descriptor holds a character outside the descriptor charset");

    /// <summary>Computes the checksum, or returns false when the body holds a character descriptors do not allow.</summary>
    public static bool TryCompute(string body, out string checksum)
    {
        ArgumentNullException.ThrowIfNull(body);
        checksum = string.Empty;
        ulong c = 1;
        int cls = 0, clsCount = 0;
        foreach (var ch in body)
        {
            var pos = InputCharset.IndexOf(ch, StringComparison.Ordinal);
            if (pos < 0)
            {
                return false;
            }
            c = PolyMod(c, pos & 31);
            cls = (cls * 3) + (pos >> 5);
            if (++clsCount == 3)
            {
                c = PolyMod(c, cls);
                cls = 0;
                clsCount = 0;
            }
        }
        if (clsCount > 0)
        {
            c = PolyMod(c, cls);
        }
        for (var j = 0; j < 8; j++)
        {
            c = PolyMod(c, 0);
        }
        c ^= 1;
        var chars = new char[8];
        for (var j = 0; j < 8; j++)
        {
            chars[j] = ChecksumCharset[(int)((c >> (5 * (7 - j))) & 31)];
        }
        checksum = new string(chars);
        return true;
    }

    private static ulong PolyMod(ulong c, int val)
    {
        var c0 = c >> 35;
        c = ((c & 0x7ffffffffUL) << 5) ^ (ulong)val;
        if ((c0 & 1) != 0) c ^= 0xf5dee51989UL;
        if ((c0 & 2) != 0) c ^= 0xa9fdca3312UL;
        if ((c0 & 4) != 0) c ^= 0x1bab10e32dUL;
        if ((c0 & 8) != 0) c ^= 0x3706b1677aUL;
        if ((c0 & 16) != 0) c ^= 0x644d626ffdUL;
        return c;
    }
}
