using System.Globalization;
using NBitcoin;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Invoices;

/// <summary>
/// Builds and signs a BOLT 11 invoice. Tagged fields are written in the order the methods are called, so an existing
/// invoice can be reproduced exactly. Signing uses RFC 6979 deterministic ECDSA with a recoverable signature.
/// </summary>
public sealed class Bolt11InvoiceBuilder
{
    private readonly Bolt11Network _network;
    private readonly ulong _timestamp;
    private readonly List<Bolt11TaggedField> _fields = [];
    private MilliSatoshi? _amount;

    /// <summary>Starts an invoice.</summary>
    /// <param name="network">The chain.</param>
    /// <param name="timestamp">Creation time, seconds since the UNIX epoch (35 bits).</param>
    public Bolt11InvoiceBuilder(Bolt11Network network, ulong timestamp)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(timestamp, 1UL << 35);
        _network = network;
        _timestamp = timestamp;
    }

    /// <summary>Sets the requested amount (must be positive).</summary>
    public Bolt11InvoiceBuilder Amount(MilliSatoshi amount)
    {
        ArgumentOutOfRangeException.ThrowIfZero(amount.Value, nameof(amount));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(amount.Value, MilliSatoshi.MaxMoney.Value, nameof(amount));
        _amount = amount;
        return this;
    }

    /// <summary>Adds the <c>p</c> field.</summary>
    public Bolt11InvoiceBuilder PaymentHash(PaymentHash hash) => Raw(Bolt11FieldType.PaymentHash, Bech32.BytesToWords(hash.Value.ToArray()));

    /// <summary>Adds the <c>s</c> field.</summary>
    public Bolt11InvoiceBuilder PaymentSecret(PaymentSecret secret) => Raw(Bolt11FieldType.PaymentSecret, Bech32.BytesToWords(secret.Value.ToArray()));

    /// <summary>Adds the <c>d</c> field (at most 639 UTF-8 bytes).</summary>
    public Bolt11InvoiceBuilder Description(string description)
    {
        ArgumentNullException.ThrowIfNull(description);
        var bytes = System.Text.Encoding.UTF8.GetBytes(description);
        if (bytes.Length > 639)
        {
            throw new ArgumentException("A description longer than 639 bytes must be sent as a description hash.", nameof(description));
        }
        return Raw(Bolt11FieldType.Description, Bech32.BytesToWords(bytes));
    }

    /// <summary>Adds the <c>h</c> field.</summary>
    public Bolt11InvoiceBuilder DescriptionHash(Bytes32 hash) => Raw(Bolt11FieldType.DescriptionHash, Bech32.BytesToWords(hash.ToArray()));

    /// <summary>Adds the <c>n</c> field; it must be the signing key's node id.</summary>
    public Bolt11InvoiceBuilder PayeeNodeId(NodeId nodeId) => Raw(Bolt11FieldType.PayeeNodeId, Bech32.BytesToWords(nodeId.Span));

    /// <summary>Adds the <c>x</c> field.</summary>
    public Bolt11InvoiceBuilder Expiry(ulong seconds) => Raw(Bolt11FieldType.Expiry, MinimalWords(seconds));

    /// <summary>Adds the <c>c</c> field.</summary>
    public Bolt11InvoiceBuilder MinFinalCltvExpiryDelta(ulong blocks) => Raw(Bolt11FieldType.MinFinalCltvExpiry, MinimalWords(blocks));

    /// <summary>Adds an <c>f</c> field.</summary>
    public Bolt11InvoiceBuilder Fallback(FallbackAddress fallback)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        var program = Bech32.BytesToWords(fallback.Program);
        var words = new byte[program.Length + 1];
        words[0] = fallback.Version;
        program.CopyTo(words, 1);
        return Raw(Bolt11FieldType.Fallback, words);
    }

    /// <summary>Adds an <c>r</c> field with one or more hops (at most 12, the field size limit).</summary>
    public Bolt11InvoiceBuilder RouteHint(IReadOnlyList<RouteHintHop> hops)
    {
        ArgumentNullException.ThrowIfNull(hops);
        if (hops.Count == 0 || hops.Count * RouteHintHop.EncodedLength * 8 > 1023 * 5)
        {
            throw new ArgumentException("A route hint needs 1 to 12 hops.", nameof(hops));
        }
        var writer = new WireWriter();
        foreach (var hop in hops)
        {
            writer.WriteBytes(hop.NodeId.Span).WriteUInt64(hop.ShortChannelId.Value).WriteUInt32(hop.FeeBaseMsat)
                .WriteUInt32(hop.FeeProportionalMillionths).WriteUInt16(hop.CltvExpiryDelta);
        }
        return Raw(Bolt11FieldType.RouteHint, Bech32.BytesToWords(writer.WrittenSpan));
    }

    /// <summary>Adds the <c>9</c> field (omitted when <paramref name="features"/> is empty, as the spec requires).</summary>
    public Bolt11InvoiceBuilder Features(FeatureBits features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.IsEmpty)
        {
            return this;
        }
        var count = (features.Bits[^1] / 5) + 1;
        var words = new byte[count];
        foreach (var bit in features)
        {
            words[count - 1 - (bit / 5)] |= (byte)(1 << (bit % 5));
        }
        return Raw(Bolt11FieldType.Features, words);
    }

    /// <summary>Adds the <c>m</c> field.</summary>
    public Bolt11InvoiceBuilder Metadata(ReadOnlySpan<byte> metadata) => Raw(Bolt11FieldType.Metadata, Bech32.BytesToWords(metadata));

    /// <summary>Adds a raw tagged field (e.g. one this library does not know, or to reproduce an invoice exactly).</summary>
    public Bolt11InvoiceBuilder Raw(byte type, ReadOnlySpan<byte> words)
    {
        _fields.Add(new Bolt11TaggedField(type, words));
        return this;
    }

    /// <summary>Adds an existing tagged field unchanged.</summary>
    public Bolt11InvoiceBuilder Raw(Bolt11TaggedField field)
    {
        ArgumentNullException.ThrowIfNull(field);
        _fields.Add(field);
        return this;
    }

    /// <summary>The human-readable part this builder will use.</summary>
    public string HumanReadablePart => "ln" + _network.CurrencyPrefix() + (_amount is { } a ? FormatAmount(a) : "");

    /// <summary>Signs with <paramref name="key"/> and returns the decoded, validated invoice.</summary>
    /// <exception cref="InvoiceFormatException">When the fields do not form a valid invoice (e.g. no payment hash).</exception>
    public Bolt11Invoice Sign(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hrp = HumanReadablePart;
        var words = new List<byte>(TimestampWordsOf(_timestamp));
        foreach (var field in _fields)
        {
            words.Add(field.Type);
            words.Add((byte)(field.Words.Length >> 5));
            words.Add((byte)(field.Words.Length & 31));
            words.AddRange(field.Words.Span);
        }
        var hash = Bolt11Invoice.SigningHash(hrp, words.ToArray());
        var privateKey = ECPrivKey.Create(key.ToBytes());
        if (!privateKey.TrySignRecoverable(hash, out var signature) || signature is null)
        {
            throw new InvalidOperationException("secp256k1 refused to sign.");
        }
        var compact = new byte[65];
        signature.WriteToSpanCompact(compact.AsSpan(0, 64), out var recoveryId);
        compact[64] = (byte)recoveryId;
        words.AddRange(Bech32.BytesToWords(compact));
        return Bolt11Invoice.Decode(Bech32.Encode(hrp, words.ToArray()));
    }

    /// <summary>The shortest amount text: digits plus the largest exact multiplier.</summary>
    public static string FormatAmount(MilliSatoshi amount)
    {
        var msat = amount.Value;
        if (msat % 100_000_000_000 == 0)
        {
            return (msat / 100_000_000_000).ToString(CultureInfo.InvariantCulture);
        }
        if (msat % 100_000_000 == 0)
        {
            return (msat / 100_000_000).ToString(CultureInfo.InvariantCulture) + "m";
        }
        if (msat % 100_000 == 0)
        {
            return (msat / 100_000).ToString(CultureInfo.InvariantCulture) + "u";
        }
        if (msat % 100 == 0)
        {
            return (msat / 100).ToString(CultureInfo.InvariantCulture) + "n";
        }
        return ((UInt128)msat * 10).ToString(CultureInfo.InvariantCulture) + "p";
    }

    private static byte[] TimestampWordsOf(ulong timestamp)
    {
        var words = new byte[Bolt11Invoice.TimestampWords];
        for (var i = 0; i < words.Length; i++)
        {
            words[words.Length - 1 - i] = (byte)((timestamp >> (5 * i)) & 31);
        }
        return words;
    }

    private static byte[] MinimalWords(ulong value)
    {
        var words = new List<byte>();
        while (value > 0)
        {
            words.Insert(0, (byte)(value & 31));
            value >>= 5;
        }
        return [.. words];
    }
}
