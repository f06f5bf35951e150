using System.Globalization;
using System.Numerics;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Invoices;

/// <summary>
/// A decoded and signature-checked BOLT 11 payment request. Create one with <see cref="Decode"/> or
/// <see cref="Bolt11InvoiceBuilder"/>; every instance has passed all reader requirements of the spec.
/// </summary>
public sealed class Bolt11Invoice
{
    /// <summary>The default expiry when no <c>x</c> field is present (seconds).</summary>
    public const ulong DefaultExpirySeconds = 3600;

    /// <summary>The default <c>min_final_cltv_expiry_delta</c> when no <c>c</c> field is present.</summary>
    public const ulong DefaultMinFinalCltvExpiryDelta = 18;

    /// <summary>Number of 5-bit words of the signature (65 bytes).</summary>
    internal const int SignatureWords = 104;

    /// <summary>Number of 5-bit words of the timestamp (35 bits).</summary>
    internal const int TimestampWords = 7;

    /// <summary>Invoice feature bits this library understands (BOLT 9 context 9 plus assumed ones).</summary>
    public static FeatureBits KnownFeatures { get; } = FeatureBits.Of(8, 9, 14, 15, 16, 17, 24, 25, 36, 37, 48, 49);

    private readonly byte[] _signature;

    private Bolt11Invoice(string encoded, string hrp, Bolt11Network network, MilliSatoshi? amount, ulong timestamp,
        IReadOnlyList<Bolt11TaggedField> fields, byte[] signature, int recoveryId)
    {
        Encoded = encoded;
        HumanReadablePart = hrp;
        Network = network;
        Amount = amount;
        Timestamp = timestamp;
        TaggedFields = fields;
        _signature = signature;
        RecoveryId = recoveryId;
    }

    /// <summary>The invoice text as given (or as produced by the builder).</summary>
    public string Encoded { get; }

    /// <summary>The lower-case human-readable part, e.g. <c>lnbc2500u</c>.</summary>
    public string HumanReadablePart { get; }

    /// <summary>The chain named by the prefix.</summary>
    public Bolt11Network Network { get; }

    /// <summary>The requested amount, or null for "any amount".</summary>
    public MilliSatoshi? Amount { get; }

    /// <summary>Creation time in seconds since the UNIX epoch.</summary>
    public ulong Timestamp { get; }

    /// <summary>Every tagged field in order, including unknown and skipped ones.</summary>
    public IReadOnlyList<Bolt11TaggedField> TaggedFields { get; }

    /// <summary>The 64-byte compact signature (r || s).</summary>
    public ReadOnlySpan<byte> Signature => _signature;

    /// <summary>The recovery id 0..3.</summary>
    public int RecoveryId { get; }

    /// <summary>The payee: the <c>n</c> field when present, otherwise the key recovered from the signature.</summary>
    public NodeId PayeeNodeId { get; private set; }

    /// <summary>True when the invoice carried a valid <c>n</c> field.</summary>
    public bool HasExplicitPayee { get; private set; }

    /// <summary>The payment hash (first valid <c>p</c>).</summary>
    public PaymentHash PaymentHash { get; private set; }

    /// <summary>The payment secret (first valid <c>s</c>).</summary>
    public PaymentSecret PaymentSecret { get; private set; }

    /// <summary>The description (<c>d</c>), or null when a description hash is given instead.</summary>
    public string? Description { get; private set; }

    /// <summary>The SHA256 of the description (<c>h</c>), or null.</summary>
    public Bytes32? DescriptionHash { get; private set; }

    /// <summary>Seconds after <see cref="Timestamp"/> when the invoice expires (default 3600).</summary>
    public ulong ExpirySeconds { get; private set; } = DefaultExpirySeconds;

    /// <summary>True when an <c>x</c> field was present.</summary>
    public bool HasExplicitExpiry { get; private set; }

    /// <summary>The <c>min_final_cltv_expiry_delta</c> (default 18).</summary>
    public ulong MinFinalCltvExpiryDelta { get; private set; } = DefaultMinFinalCltvExpiryDelta;

    /// <summary>True when a <c>c</c> field was present.</summary>
    public bool HasExplicitMinFinalCltvExpiryDelta { get; private set; }

    /// <summary>Fallback on-chain addresses in preference order (unknown versions skipped).</summary>
    public IReadOnlyList<FallbackAddress> Fallbacks { get; private set; } = [];

    /// <summary>Route hints (<c>r</c> fields), each a list of hops from a public node to the payee.</summary>
    public IReadOnlyList<IReadOnlyList<RouteHintHop>> RouteHints { get; private set; } = [];

    /// <summary>The <c>9</c> field's features (empty when absent).</summary>
    public FeatureBits Features { get; private set; } = FeatureBits.Empty;

    /// <summary>The payment metadata (<c>m</c>), or null.</summary>
    public ReadOnlyMemory<byte>? Metadata { get; private set; }

    /// <summary>True when the signature's s value is in the lower half of the curve order.</summary>
    public bool IsLowS { get; private set; }

    /// <summary>The expiry instant.</summary>
    public DateTimeOffset ExpiresAt
    {
        get
        {
            const ulong maxUnixSeconds = 253402300799UL; // 9999-12-31T23:59:59Z
            var end = ExpirySeconds > maxUnixSeconds - Timestamp ? maxUnixSeconds : Timestamp + ExpirySeconds;
            return DateTimeOffset.FromUnixTimeSeconds((long)end);
        }
    }

    /// <summary>True when the invoice has expired at the time given by <paramref name="time"/>.</summary>
    public bool IsExpired(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return time.GetUtcNow() > ExpiresAt;
    }

    /// <summary>True when <paramref name="description"/> hashes to <see cref="DescriptionHash"/> (or equals <see cref="Description"/>).</summary>
    public bool MatchesDescription(string description)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (Description is not null)
        {
            return string.Equals(Description, description, StringComparison.Ordinal);
        }
        var hash = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(description));
        return DescriptionHash == new Bytes32(hash);
    }

    /// <inheritdoc />
    public override string ToString() => Encoded;

    /// <summary>Decodes and validates an invoice, including the signature and the payee key.</summary>
    /// <exception cref="InvoiceFormatException">When anything is wrong; <see cref="WireFormatException.Reason"/> says what.</exception>
    public static Bolt11Invoice Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            return DecodeCore(text);
        }
        catch (WireFormatException ex)
        {
            throw InvoiceFormatException.Wrap(ex);
        }
    }

    /// <summary>Decodes without throwing; <paramref name="error"/> holds the failure.</summary>
    public static bool TryDecode(string text, out Bolt11Invoice? invoice, out InvoiceFormatException? error)
    {
        try
        {
            invoice = Decode(text);
            error = null;
            return true;
        }
        catch (InvoiceFormatException ex)
        {
            invoice = null;
            error = ex;
            return false;
        }
    }

    private static Bolt11Invoice DecodeCore(string text)
    {
        var (hrp, words) = Bech32.Decode(text, Bech32Variant.Bech32);
        var (network, amount) = ParseHrp(hrp);
        if (words.Length < TimestampWords + SignatureWords)
        {
            throw new InvoiceFormatException("invoice too short", $"{words.Length} data characters");
        }
        var timestamp = ReadUnsigned(words.AsSpan(0, TimestampWords));
        var fieldWords = words.AsSpan(TimestampWords, words.Length - TimestampWords - SignatureWords);
        var fields = new List<Bolt11TaggedField>();
        var pos = 0;
        while (pos < fieldWords.Length)
        {
            if (fieldWords.Length - pos < 3)
            {
                throw new InvoiceFormatException("truncated tagged field header");
            }
            var type = fieldWords[pos];
            var length = (fieldWords[pos + 1] * 32) + fieldWords[pos + 2];
            pos += 3;
            if (length > fieldWords.Length - pos)
            {
                throw new InvoiceFormatException("tagged field length exceeds data", $"field '{Bech32.Charset[type]}' claims {length} characters, {fieldWords.Length - pos} left");
            }
            fields.Add(new Bolt11TaggedField(type, fieldWords.Slice(pos, length)));
            pos += length;
        }

        var sigBytes = Bech32.WordsToBytes(words.AsSpan(words.Length - SignatureWords), strictPadding: true);
        var recoveryId = sigBytes[64];
        if (recoveryId > 3)
        {
            throw new InvoiceFormatException("invalid recovery id", recoveryId.ToString(CultureInfo.InvariantCulture));
        }
        var signature = sigBytes[..64];
        var message = SigningHash(hrp, words.AsSpan(0, words.Length - SignatureWords));

        var invoice = new Bolt11Invoice(text, hrp, network, amount, timestamp, fields, signature, recoveryId);
        var explicitPayee = invoice.InterpretFields();
        invoice.CheckSignature(message, explicitPayee);
        return invoice;
    }

    /// <summary>SHA256 over the hrp bytes and the data words (without signature) packed into bytes with zero padding.</summary>
    internal static byte[] SigningHash(string hrp, ReadOnlySpan<byte> wordsWithoutSignature)
    {
        var hrpBytes = System.Text.Encoding.ASCII.GetBytes(hrp);
        var data = Bech32.WordsToBytesPadded(wordsWithoutSignature);
        var preimage = new byte[hrpBytes.Length + data.Length];
        hrpBytes.CopyTo(preimage, 0);
        data.CopyTo(preimage, hrpBytes.Length);
        return SHA256.HashData(preimage);
    }

    private void CheckSignature(byte[] message, NodeId? explicitPayee)
    {
        if (!SecpECDSASignature.TryCreateFromCompact(_signature, out var plain) || plain is null)
        {
            throw new InvoiceFormatException("invalid signature encoding");
        }
        IsLowS = !plain.s.IsHigh;
        if (explicitPayee is { } payee)
        {
            if (!IsLowS)
            {
                throw new InvoiceFormatException("non-canonical signature (high-S) with n field");
            }
            if (!Secp256k1Helpers.TryParseCompressedPoint(payee.Span, out var key) || !key.SigVerify(plain, message))
            {
                throw new InvoiceFormatException("signature does not match the n field");
            }
            PayeeNodeId = payee;
            HasExplicitPayee = true;
            return;
        }
        // Without n, both high-S and low-S are accepted: the signature is normalized to low-S before recovery, keeping
        // the recovery id (BOLT 11 example "Public-key recovery with high-S signature").
        var lowS = IsLowS ? plain : new SecpECDSASignature(plain.r, plain.s.Negate(), false);
        var recoverable = new SecpRecoverableECDSASignature(lowS, RecoveryId);
        if (!ECPubKey.TryRecover(Context.Instance, recoverable, message, out var recovered) || recovered is null)
        {
            throw new InvoiceFormatException("signature is not recoverable");
        }
        PayeeNodeId = NodeId.FromECPubKey(recovered);
    }

    /// <summary>Fills the typed properties from <see cref="TaggedFields"/>; returns the valid <c>n</c> value if any.</summary>
    private NodeId? InterpretFields()
    {
        PaymentHash? paymentHash = null;
        PaymentSecret? paymentSecret = null;
        NodeId? payee = null;
        string? description = null;
        Bytes32? descriptionHash = null;
        bool seenExpiry = false, seenCltv = false, seenFeatures = false, seenMetadata = false;
        var fallbacks = new List<FallbackAddress>();
        var hints = new List<IReadOnlyList<RouteHintHop>>();
        foreach (var field in TaggedFields)
        {
            var w = field.Words.Span;
            switch (field.Type)
            {
                case Bolt11FieldType.PaymentHash:
                    if (w.Length == 52 && paymentHash is null)
                    {
                        paymentHash = PaymentHash.FromBytes(Bech32.WordsToBytes(w, strictPadding: false));
                    }
                    break;
                case Bolt11FieldType.PaymentSecret:
                    if (w.Length == 52 && paymentSecret is null)
                    {
                        paymentSecret = PaymentSecret.FromBytes(Bech32.WordsToBytes(w, strictPadding: false));
                    }
                    break;
                case Bolt11FieldType.DescriptionHash:
                    if (w.Length == 52 && descriptionHash is null)
                    {
                        descriptionHash = new Bytes32(Bech32.WordsToBytes(w, strictPadding: false));
                    }
                    break;
                case Bolt11FieldType.PayeeNodeId:
                    if (w.Length == 53 && payee is null && NodeId.TryFromBytes(Bech32.WordsToBytes(w, strictPadding: false), out var id))
                    {
                        payee = id;
                    }
                    break;
                case Bolt11FieldType.Description:
                    if (description is null)
                    {
                        description = DecodeUtf8(Bech32.WordsToBytes(w, strictPadding: false));
                    }
                    break;
                case Bolt11FieldType.Expiry:
                    if (!seenExpiry)
                    {
                        ExpirySeconds = ReadMinimalUnsigned(w, "x (expiry)");
                        HasExplicitExpiry = true;
                        seenExpiry = true;
                    }
                    break;
                case Bolt11FieldType.MinFinalCltvExpiry:
                    if (!seenCltv)
                    {
                        MinFinalCltvExpiryDelta = ReadMinimalUnsigned(w, "c (min_final_cltv_expiry_delta)");
                        HasExplicitMinFinalCltvExpiryDelta = true;
                        seenCltv = true;
                    }
                    break;
                case Bolt11FieldType.Fallback:
                    if (w.Length >= 1)
                    {
                        var program = Bech32.WordsToBytes(w[1..], strictPadding: false);
                        if (FallbackAddress.IsValid(w[0], program.Length))
                        {
                            fallbacks.Add(new FallbackAddress(w[0], program));
                        }
                    }
                    break;
                case Bolt11FieldType.RouteHint:
                    hints.Add(ReadRouteHint(Bech32.WordsToBytes(w, strictPadding: false)));
                    break;
                case Bolt11FieldType.Features:
                    if (!seenFeatures)
                    {
                        Features = ReadFeatures(w);
                        seenFeatures = true;
                    }
                    break;
                case Bolt11FieldType.Metadata:
                    if (!seenMetadata)
                    {
                        Metadata = Bech32.WordsToBytes(w, strictPadding: false);
                        seenMetadata = true;
                    }
                    break;
                default:
                    break; // unknown fields are skipped
            }
        }
        PaymentHash = paymentHash ?? throw new InvoiceFormatException("missing payment hash (p field)");
        PaymentSecret = paymentSecret ?? throw new InvoiceFormatException("missing required payment secret (s field)");
        if (description is null && descriptionHash is null)
        {
            throw new InvoiceFormatException("missing description (neither d nor h field)");
        }
        if (description is not null && descriptionHash is not null)
        {
            throw new InvoiceFormatException("both d and h fields present");
        }
        Description = description;
        DescriptionHash = descriptionHash;
        Fallbacks = fallbacks;
        RouteHints = hints;
        CheckFeatures(Features);
        return payee;
    }

    private static void CheckFeatures(FeatureBits features)
    {
        foreach (var bit in features)
        {
            if (bit % 2 == 0 && !KnownFeatures.IsSet(bit))
            {
                throw new InvoiceFormatException("unknown required feature", $"bit {bit}");
            }
        }
        if (features.Supports(16) && !features.Supports(14))
        {
            throw new InvoiceFormatException("missing feature dependency", "basic_mpp requires payment_secret");
        }
    }

    private static FeatureBits ReadFeatures(ReadOnlySpan<byte> words)
    {
        if (words.Length > 0 && words[0] == 0)
        {
            throw new InvoiceFormatException("non-minimal 9 (features) field");
        }
        var bits = new List<int>();
        for (var i = 0; i < words.Length; i++)
        {
            var word = words[words.Length - 1 - i];
            for (var j = 0; j < 5; j++)
            {
                if ((word & (1 << j)) != 0)
                {
                    bits.Add((i * 5) + j);
                }
            }
        }
        return FeatureBits.Of(bits);
    }

    private static List<RouteHintHop> ReadRouteHint(byte[] bytes)
    {
        if (bytes.Length == 0 || bytes.Length % RouteHintHop.EncodedLength != 0)
        {
            throw new InvoiceFormatException("malformed r (route hint) field", $"{bytes.Length} bytes is not a positive multiple of {RouteHintHop.EncodedLength}");
        }
        var hops = new List<RouteHintHop>();
        var reader = new WireReader(bytes);
        while (!reader.IsEnd)
        {
            if (!NodeId.TryFromBytes(reader.ReadSpan(33), out var node))
            {
                throw new InvoiceFormatException("invalid pubkey in r (route hint) field");
            }
            hops.Add(new RouteHintHop(node, new ShortChannelId(reader.ReadUInt64()), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt16()));
        }
        return hops;
    }

    private static string DecodeUtf8(byte[] bytes)
    {
        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException ex)
        {
            throw new InvoiceFormatException("invalid UTF-8 in d (description) field", ex);
        }
    }

    private static ulong ReadUnsigned(ReadOnlySpan<byte> words)
    {
        ulong value = 0;
        foreach (var w in words)
        {
            value = (value << 5) | w;
        }
        return value;
    }

    private static ulong ReadMinimalUnsigned(ReadOnlySpan<byte> words, string field)
    {
        if (words.Length > 0 && words[0] == 0)
        {
            throw new InvoiceFormatException($"non-minimal {field} field");
        }
        // 13 words carry 65 bits: the value fits in 64 bits only when the top word is below 16.
        if (words.Length > 13 || (words.Length == 13 && words[0] >= 16))
        {
            throw new InvoiceFormatException($"{field} value too large");
        }
        return ReadUnsigned(words);
    }

    private static (Bolt11Network Network, MilliSatoshi? Amount) ParseHrp(string hrp)
    {
        if (!hrp.StartsWith("ln", StringComparison.Ordinal))
        {
            throw new InvoiceFormatException("unknown prefix", $"'{hrp}' does not start with 'ln'");
        }
        var rest = hrp.AsSpan(2);
        var digitAt = rest.IndexOfAnyInRange('0', '9');
        var currency = digitAt < 0 ? rest.ToString() : rest[..digitAt].ToString();
        var network = Bolt11NetworkExtensions.FromCurrencyPrefix(currency)
            ?? throw new InvoiceFormatException("unknown currency prefix", $"'{currency}'");
        if (digitAt < 0)
        {
            return (network, null);
        }
        var amountText = rest[digitAt..];
        var digitsEnd = 0;
        while (digitsEnd < amountText.Length && char.IsAsciiDigit(amountText[digitsEnd]))
        {
            digitsEnd++;
        }
        var digits = amountText[..digitsEnd];
        var suffix = amountText[digitsEnd..];
        if (suffix.Length > 1)
        {
            throw new InvoiceFormatException("invalid amount", $"'{amountText}'");
        }
        if (digits.Length > 30)
        {
            throw new InvoiceFormatException("amount too large");
        }
        var value = BigInteger.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        BigInteger msat;
        if (suffix.Length == 0)
        {
            msat = value * 100_000_000_000;
        }
        else
        {
            switch (suffix[0])
            {
                case 'm': msat = value * 100_000_000; break;
                case 'u': msat = value * 100_000; break;
                case 'n': msat = value * 100; break;
                case 'p':
                    if (!(value % 10).IsZero)
                    {
                        throw new InvoiceFormatException("invalid sub-millisatoshi precision", $"'{amountText}'");
                    }
                    msat = value / 10;
                    break;
                default:
                    throw new InvoiceFormatException("invalid amount multiplier", $"'{suffix[0]}'");
            }
        }
        if (msat > MilliSatoshi.MaxMoney.Value)
        {
            throw new InvoiceFormatException("amount exceeds the bitcoin supply", $"'{amountText}'");
        }
        return (network, new MilliSatoshi((ulong)msat));
    }
}
