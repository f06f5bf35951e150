using System.Text;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Offers;

/// <summary>TLV type numbers of BOLT 12 offers, invoice requests and invoices.</summary>
public static class Bolt12Type
{
#pragma warning disable CS1591 // The names are the spec's field names.
    public const ulong InvreqMetadata = 0;
    public const ulong OfferChains = 2;
    public const ulong OfferMetadata = 4;
    public const ulong OfferCurrency = 6;
    public const ulong OfferAmount = 8;
    public const ulong OfferDescription = 10;
    public const ulong OfferFeatures = 12;
    public const ulong OfferAbsoluteExpiry = 14;
    public const ulong OfferPaths = 16;
    public const ulong OfferIssuer = 18;
    public const ulong OfferQuantityMax = 20;
    public const ulong OfferIssuerId = 22;
    public const ulong InvreqChain = 80;
    public const ulong InvreqAmount = 82;
    public const ulong InvreqFeatures = 84;
    public const ulong InvreqQuantity = 86;
    public const ulong InvreqPayerId = 88;
    public const ulong InvreqPayerNote = 89;
    public const ulong InvreqPaths = 90;
    public const ulong InvreqBip353Name = 91;
    public const ulong InvoicePaths = 160;
    public const ulong InvoiceBlindedPay = 162;
    public const ulong InvoiceCreatedAt = 164;
    public const ulong InvoiceRelativeExpiry = 166;
    public const ulong InvoicePaymentHash = 168;
    public const ulong InvoiceAmount = 170;
    public const ulong InvoiceFallbacks = 172;
    public const ulong InvoiceFeatures = 174;
    public const ulong InvoiceNodeId = 176;
    public const ulong Signature = 240;
#pragma warning restore CS1591

    internal static bool IsOfferType(ulong t) => t is OfferChains or OfferMetadata or OfferCurrency or OfferAmount or OfferDescription
        or OfferFeatures or OfferAbsoluteExpiry or OfferPaths or OfferIssuer or OfferQuantityMax or OfferIssuerId;

    internal static bool IsInvreqType(ulong t) => t is InvreqMetadata or InvreqChain or InvreqAmount or InvreqFeatures or InvreqQuantity
        or InvreqPayerId or InvreqPayerNote or InvreqPaths or InvreqBip353Name;

    internal static bool IsInvoiceType(ulong t) => t is InvoicePaths or InvoiceBlindedPay or InvoiceCreatedAt or InvoiceRelativeExpiry
        or InvoicePaymentHash or InvoiceAmount or InvoiceFallbacks or InvoiceFeatures or InvoiceNodeId;
}

/// <summary>The offer fields (types 1..79), present in offers, invoice requests and invoices.</summary>
public sealed class OfferContent
{
    /// <summary><c>offer_chains</c>; null means bitcoin only.</summary>
    public IReadOnlyList<ChainHash>? Chains { get; init; }

    /// <summary><c>offer_metadata</c>.</summary>
    public ReadOnlyMemory<byte>? Metadata { get; init; }

    /// <summary><c>offer_currency</c>: an ISO 4217 code.</summary>
    public string? Currency { get; init; }

    /// <summary><c>offer_amount</c>, in millisatoshis or in the currency's minor unit.</summary>
    public ulong? Amount { get; init; }

    /// <summary><c>offer_description</c>.</summary>
    public string? Description { get; init; }

    /// <summary><c>offer_features</c>.</summary>
    public FeatureBits? Features { get; init; }

    /// <summary><c>offer_absolute_expiry</c> in seconds since the UNIX epoch.</summary>
    public ulong? AbsoluteExpiry { get; init; }

    /// <summary><c>offer_paths</c>.</summary>
    public IReadOnlyList<BlindedPath>? Paths { get; init; }

    /// <summary><c>offer_issuer</c>.</summary>
    public string? Issuer { get; init; }

    /// <summary><c>offer_quantity_max</c> (0 = unlimited).</summary>
    public ulong? QuantityMax { get; init; }

    /// <summary><c>offer_issuer_id</c>.</summary>
    public NodeId? IssuerId { get; init; }

    internal static OfferContent Read(TlvStream stream) => new()
    {
        Chains = Field(stream, Bolt12Type.OfferChains, Bolt12Codec.ReadChains),
        Metadata = stream.Get(Bolt12Type.OfferMetadata),
        Currency = Field(stream, Bolt12Type.OfferCurrency, v => Bolt12Codec.ReadCurrency(v)),
        Amount = Bolt12Codec.ReadTu64(stream, Bolt12Type.OfferAmount),
        Description = Field(stream, Bolt12Type.OfferDescription, v => Bolt12Codec.ReadUtf8(v, "offer_description")),
        Features = Field(stream, Bolt12Type.OfferFeatures, v => FeatureBits.FromBytes(v)),
        AbsoluteExpiry = Bolt12Codec.ReadTu64(stream, Bolt12Type.OfferAbsoluteExpiry),
        Paths = Field(stream, Bolt12Type.OfferPaths, v => Bolt12Codec.ReadPaths(v, "offer_paths")),
        Issuer = Field(stream, Bolt12Type.OfferIssuer, v => Bolt12Codec.ReadUtf8(v, "offer_issuer")),
        QuantityMax = Bolt12Codec.ReadTu64(stream, Bolt12Type.OfferQuantityMax),
        IssuerId = Bolt12Codec.ReadPoint(stream, Bolt12Type.OfferIssuerId, "offer_issuer_id"),
    };

    internal void WriteTo(List<TlvRecord> records)
    {
        if (Chains is not null)
        {
            records.Add(new(Bolt12Type.OfferChains, Chains.SelectMany(c => c.Value.ToArray()).ToArray()));
        }
        Bolt12Codec.AddBytes(records, Bolt12Type.OfferMetadata, Metadata);
        Bolt12Codec.AddUtf8(records, Bolt12Type.OfferCurrency, Currency);
        Bolt12Codec.AddTu64(records, Bolt12Type.OfferAmount, Amount);
        Bolt12Codec.AddUtf8(records, Bolt12Type.OfferDescription, Description);
        Bolt12Codec.AddFeatures(records, Bolt12Type.OfferFeatures, Features);
        Bolt12Codec.AddTu64(records, Bolt12Type.OfferAbsoluteExpiry, AbsoluteExpiry);
        Bolt12Codec.AddPaths(records, Bolt12Type.OfferPaths, Paths);
        Bolt12Codec.AddUtf8(records, Bolt12Type.OfferIssuer, Issuer);
        Bolt12Codec.AddTu64(records, Bolt12Type.OfferQuantityMax, QuantityMax);
        Bolt12Codec.AddPoint(records, Bolt12Type.OfferIssuerId, IssuerId);
    }

    internal static T? Field<T>(TlvStream stream, ulong type, Func<ReadOnlySpan<byte>, T> read) where T : class =>
        stream.Get(type) is { } value ? read(value.Span) : null;
}

/// <summary>A BIP 353 human-readable name (<c>invreq_bip_353_name</c>).</summary>
/// <param name="Name">The part before the <c>@</c>.</param>
/// <param name="Domain">The part after the <c>@</c>.</param>
public sealed record Bip353Name(string Name, string Domain);

/// <summary>The invoice request fields (type 0 and 80..159).</summary>
public sealed class InvoiceRequestContent
{
    /// <summary><c>invreq_metadata</c>.</summary>
    public ReadOnlyMemory<byte>? Metadata { get; init; }

    /// <summary><c>invreq_chain</c>.</summary>
    public ChainHash? Chain { get; init; }

    /// <summary><c>invreq_amount</c>.</summary>
    public MilliSatoshi? Amount { get; init; }

    /// <summary><c>invreq_features</c>.</summary>
    public FeatureBits? Features { get; init; }

    /// <summary><c>invreq_quantity</c>.</summary>
    public ulong? Quantity { get; init; }

    /// <summary><c>invreq_payer_id</c>.</summary>
    public NodeId? PayerId { get; init; }

    /// <summary><c>invreq_payer_note</c>.</summary>
    public string? PayerNote { get; init; }

    /// <summary><c>invreq_paths</c>.</summary>
    public IReadOnlyList<BlindedPath>? Paths { get; init; }

    /// <summary><c>invreq_bip_353_name</c>.</summary>
    public Bip353Name? Bip353Name { get; init; }

    internal static InvoiceRequestContent Read(TlvStream stream) => new()
    {
        Metadata = stream.Get(Bolt12Type.InvreqMetadata),
        Chain = stream.Get(Bolt12Type.InvreqChain) is { } chain
            ? chain.Length == 32 ? new ChainHash(new Bytes32(chain.Span)) : throw new WireFormatException("invalid invreq_chain length")
            : null,
        Amount = Bolt12Codec.ReadTu64(stream, Bolt12Type.InvreqAmount) is { } amount ? new MilliSatoshi(amount) : null,
        Features = OfferContent.Field(stream, Bolt12Type.InvreqFeatures, v => FeatureBits.FromBytes(v)),
        Quantity = Bolt12Codec.ReadTu64(stream, Bolt12Type.InvreqQuantity),
        PayerId = Bolt12Codec.ReadPoint(stream, Bolt12Type.InvreqPayerId, "invreq_payer_id"),
        PayerNote = OfferContent.Field(stream, Bolt12Type.InvreqPayerNote, v => Bolt12Codec.ReadUtf8(v, "invreq_payer_note")),
        Paths = OfferContent.Field(stream, Bolt12Type.InvreqPaths, v => Bolt12Codec.ReadPaths(v, "invreq_paths")),
        Bip353Name = OfferContent.Field(stream, Bolt12Type.InvreqBip353Name, Bolt12Codec.ReadBip353),
    };

    internal void WriteTo(List<TlvRecord> records)
    {
        Bolt12Codec.AddBytes(records, Bolt12Type.InvreqMetadata, Metadata);
        if (Chain is { } chain)
        {
            records.Add(new(Bolt12Type.InvreqChain, chain.Value.ToArray()));
        }
        Bolt12Codec.AddTu64(records, Bolt12Type.InvreqAmount, Amount?.Value);
        Bolt12Codec.AddFeatures(records, Bolt12Type.InvreqFeatures, Features);
        Bolt12Codec.AddTu64(records, Bolt12Type.InvreqQuantity, Quantity);
        Bolt12Codec.AddPoint(records, Bolt12Type.InvreqPayerId, PayerId);
        Bolt12Codec.AddUtf8(records, Bolt12Type.InvreqPayerNote, PayerNote);
        Bolt12Codec.AddPaths(records, Bolt12Type.InvreqPaths, Paths);
        if (Bip353Name is { } bip353)
        {
            var name = System.Text.Encoding.ASCII.GetBytes(bip353.Name);
            var domain = System.Text.Encoding.ASCII.GetBytes(bip353.Domain);
            var writer = new WireWriter();
            writer.WriteByte(checked((byte)name.Length)).WriteBytes(name).WriteByte(checked((byte)domain.Length)).WriteBytes(domain);
            records.Add(new(Bolt12Type.InvreqBip353Name, writer.ToArray()));
        }
    }
}

/// <summary>One <c>blinded_payinfo</c>: the aggregate fees and limits of a blinded payment path.</summary>
/// <param name="FeeBaseMsat">Base fee.</param>
/// <param name="FeeProportionalMillionths">Proportional fee.</param>
/// <param name="CltvExpiryDelta">Total CLTV delta.</param>
/// <param name="HtlcMinimumMsat">Smallest HTLC.</param>
/// <param name="HtlcMaximumMsat">Largest HTLC.</param>
/// <param name="Features">The path's allowed features.</param>
public sealed record BlindedPayInfo(uint FeeBaseMsat, uint FeeProportionalMillionths, ushort CltvExpiryDelta,
    MilliSatoshi HtlcMinimumMsat, MilliSatoshi HtlcMaximumMsat, FeatureBits Features);

/// <summary>One <c>fallback_address</c> of <c>invoice_fallbacks</c>: a witness version and program.</summary>
/// <param name="Version">The witness version.</param>
/// <param name="Address">The witness program.</param>
public sealed record Bolt12FallbackAddress(byte Version, ReadOnlyMemory<byte> Address)
{
    /// <summary>
    /// True when a bitcoin reader may use it: version at most 16, 2..40 bytes, and 20 or 32 bytes for version 0.
    /// </summary>
    public bool IsUsable => Version <= 16 && Address.Length is >= 2 and <= 40 && (Version != 0 || Address.Length is 20 or 32);
}

/// <summary>The invoice fields (160..239).</summary>
public sealed class InvoiceContent
{
    /// <summary><c>invoice_paths</c>.</summary>
    public IReadOnlyList<BlindedPath>? Paths { get; init; }

    /// <summary><c>invoice_blindedpay</c>, one per path.</summary>
    public IReadOnlyList<BlindedPayInfo>? BlindedPay { get; init; }

    /// <summary><c>invoice_created_at</c> in seconds since the UNIX epoch.</summary>
    public ulong? CreatedAt { get; init; }

    /// <summary><c>invoice_relative_expiry</c> in seconds (default 7200).</summary>
    public uint? RelativeExpiry { get; init; }

    /// <summary><c>invoice_payment_hash</c>.</summary>
    public PaymentHash? PaymentHash { get; init; }

    /// <summary><c>invoice_amount</c>.</summary>
    public MilliSatoshi? Amount { get; init; }

    /// <summary><c>invoice_fallbacks</c> (all of them, usable or not; see <see cref="Bolt12FallbackAddress.IsUsable"/>).</summary>
    public IReadOnlyList<Bolt12FallbackAddress>? Fallbacks { get; init; }

    /// <summary><c>invoice_features</c>.</summary>
    public FeatureBits? Features { get; init; }

    /// <summary><c>invoice_node_id</c>.</summary>
    public NodeId? NodeId { get; init; }

    internal static InvoiceContent Read(TlvStream stream) => new()
    {
        Paths = OfferContent.Field(stream, Bolt12Type.InvoicePaths, v => Bolt12Codec.ReadPaths(v, "invoice_paths")),
        BlindedPay = OfferContent.Field(stream, Bolt12Type.InvoiceBlindedPay, Bolt12Codec.ReadPayInfos),
        CreatedAt = Bolt12Codec.ReadTu64(stream, Bolt12Type.InvoiceCreatedAt),
        RelativeExpiry = Bolt12Codec.ReadTu64(stream, Bolt12Type.InvoiceRelativeExpiry, 4) is { } e ? (uint)e : null,
        PaymentHash = stream.Get(Bolt12Type.InvoicePaymentHash) is { } hash
            ? hash.Length == 32 ? Types.PaymentHash.FromBytes(hash.Span) : throw new WireFormatException("invalid invoice_payment_hash length")
            : null,
        Amount = Bolt12Codec.ReadTu64(stream, Bolt12Type.InvoiceAmount) is { } amount ? new MilliSatoshi(amount) : null,
        Fallbacks = OfferContent.Field(stream, Bolt12Type.InvoiceFallbacks, Bolt12Codec.ReadFallbacks),
        Features = OfferContent.Field(stream, Bolt12Type.InvoiceFeatures, v => FeatureBits.FromBytes(v)),
        NodeId = Bolt12Codec.ReadPoint(stream, Bolt12Type.InvoiceNodeId, "invoice_node_id"),
    };

    internal void WriteTo(List<TlvRecord> records)
    {
        Bolt12Codec.AddPaths(records, Bolt12Type.InvoicePaths, Paths);
        if (BlindedPay is not null)
        {
            var writer = new WireWriter();
            foreach (var p in BlindedPay)
            {
                var features = p.Features.ToBytes();
                writer.WriteUInt32(p.FeeBaseMsat).WriteUInt32(p.FeeProportionalMillionths).WriteUInt16(p.CltvExpiryDelta)
                    .WriteUInt64(p.HtlcMinimumMsat.Value).WriteUInt64(p.HtlcMaximumMsat.Value)
                    .WriteUInt16(checked((ushort)features.Length)).WriteBytes(features);
            }
            records.Add(new(Bolt12Type.InvoiceBlindedPay, writer.ToArray()));
        }
        Bolt12Codec.AddTu64(records, Bolt12Type.InvoiceCreatedAt, CreatedAt);
        Bolt12Codec.AddTu64(records, Bolt12Type.InvoiceRelativeExpiry, RelativeExpiry);
        if (PaymentHash is { } hash)
        {
            records.Add(new(Bolt12Type.InvoicePaymentHash, hash.Value.ToArray()));
        }
        Bolt12Codec.AddTu64(records, Bolt12Type.InvoiceAmount, Amount?.Value);
        if (Fallbacks is not null)
        {
            var writer = new WireWriter();
            foreach (var f in Fallbacks)
            {
                writer.WriteByte(f.Version).WriteUInt16(checked((ushort)f.Address.Length)).WriteBytes(f.Address.Span);
            }
            records.Add(new(Bolt12Type.InvoiceFallbacks, writer.ToArray()));
        }
        Bolt12Codec.AddFeatures(records, Bolt12Type.InvoiceFeatures, Features);
        Bolt12Codec.AddPoint(records, Bolt12Type.InvoiceNodeId, NodeId);
    }
}

/// <summary>Field codecs shared by the BOLT 12 messages.</summary>
internal static class Bolt12Codec
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static IReadOnlyList<ChainHash> ReadChains(ReadOnlySpan<byte> value)
    {
        if (value.Length == 0 || value.Length % 32 != 0)
        {
            throw new WireFormatException("invalid offer_chains length", $"{value.Length} bytes");
        }
        var chains = new List<ChainHash>();
        for (var i = 0; i < value.Length; i += 32)
        {
            chains.Add(new ChainHash(new Bytes32(value.Slice(i, 32))));
        }
        return chains;
    }

    public static string ReadUtf8(ReadOnlySpan<byte> value, string field)
    {
        try
        {
            return StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException ex)
        {
            throw new WireFormatException($"invalid UTF-8 in {field}", ex);
        }
    }

    public static string ReadCurrency(ReadOnlySpan<byte> value)
    {
        var text = ReadUtf8(value, "offer_currency");
        if (text.Length != 3 || !text.All(char.IsAsciiLetterUpper))
        {
            throw new WireFormatException("offer_currency is not an ISO 4217 code", $"'{text}'");
        }
        return text;
    }

    public static ulong? ReadTu64(TlvStream stream, ulong type, int maxBytes = 8)
    {
        if (stream.Get(type) is not { } value)
        {
            return null;
        }
        var reader = new WireReader(value.Span);
        return reader.ReadTruncatedUInt(maxBytes);
    }

    public static NodeId? ReadPoint(TlvStream stream, ulong type, string field)
    {
        if (stream.Get(type) is not { } value)
        {
            return null;
        }
        return NodeId.FromWire(value.Span, field);
    }

    public static IReadOnlyList<BlindedPath> ReadPaths(ReadOnlySpan<byte> value, string field)
    {
        var paths = BlindedPath.ReadAll(value);
        return paths.Count == 0 ? throw new WireFormatException("empty blinded path list", field) : paths;
    }

    public static Bip353Name ReadBip353(ReadOnlySpan<byte> value)
    {
        var reader = new WireReader(value);
        var name = reader.ReadSpan(reader.ReadByte());
        var domain = reader.ReadSpan(reader.ReadByte());
        reader.EnsureEnd("invreq_bip_353_name");
        foreach (var b in name.ToArray().Concat(domain.ToArray()))
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' or (byte)'.'))
            {
                throw new WireFormatException("invalid character in invreq_bip_353_name", $"byte {b}");
            }
        }
        return new Bip353Name(System.Text.Encoding.ASCII.GetString(name), System.Text.Encoding.ASCII.GetString(domain));
    }

    public static IReadOnlyList<BlindedPayInfo> ReadPayInfos(ReadOnlySpan<byte> value)
    {
        var reader = new WireReader(value);
        var list = new List<BlindedPayInfo>();
        while (!reader.IsEnd)
        {
            var feeBase = reader.ReadUInt32();
            var feePpm = reader.ReadUInt32();
            var cltv = reader.ReadUInt16();
            var min = reader.ReadUInt64();
            var max = reader.ReadUInt64();
            var features = FeatureBits.FromBytes(reader.ReadSpan(reader.ReadUInt16()));
            list.Add(new BlindedPayInfo(feeBase, feePpm, cltv, new MilliSatoshi(min), new MilliSatoshi(max), features));
        }
        return list;
    }

    public static IReadOnlyList<Bolt12FallbackAddress> ReadFallbacks(ReadOnlySpan<byte> value)
    {
        var reader = new WireReader(value);
        var list = new List<Bolt12FallbackAddress>();
        while (!reader.IsEnd)
        {
            var version = reader.ReadByte();
            list.Add(new Bolt12FallbackAddress(version, reader.ReadBytes(reader.ReadUInt16())));
        }
        return list;
    }

    public static void AddBytes(List<TlvRecord> records, ulong type, ReadOnlyMemory<byte>? value)
    {
        if (value is { } v)
        {
            records.Add(new(type, v.ToArray()));
        }
    }

    public static void AddUtf8(List<TlvRecord> records, ulong type, string? value)
    {
        if (value is not null)
        {
            records.Add(new(type, System.Text.Encoding.UTF8.GetBytes(value)));
        }
    }

    public static void AddTu64(List<TlvRecord> records, ulong type, ulong? value)
    {
        if (value is { } v)
        {
            records.Add(new(type, new WireWriter().WriteTruncatedUInt(v).ToArray()));
        }
    }

    public static void AddFeatures(List<TlvRecord> records, ulong type, FeatureBits? value)
    {
        if (value is not null)
        {
            records.Add(new(type, value.ToBytes()));
        }
    }

    public static void AddPoint(List<TlvRecord> records, ulong type, NodeId? value)
    {
        if (value is { } id)
        {
            records.Add(new(type, id.ToArray()));
        }
    }

    public static void AddPaths(List<TlvRecord> records, ulong type, IReadOnlyList<BlindedPath>? paths)
    {
        if (paths is not null)
        {
            var writer = new WireWriter();
            foreach (var path in paths)
            {
                path.WriteTo(writer);
            }
            records.Add(new(type, writer.ToArray()));
        }
    }
}
