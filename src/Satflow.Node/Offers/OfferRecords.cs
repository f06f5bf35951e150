using System.Text.Json;
using System.Text.Json.Serialization;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;

namespace Satflow.Node.Offers;

/// <summary>A BOLT 12 offer this node created (persisted in the <c>offers/offers</c> namespace, keyed by offer id).</summary>
public sealed record OfferRecord
{
    /// <summary>The record format version written by <see cref="Encode"/>.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The offer id (the Merkle root of its TLV stream).</summary>
    public required Bytes32 OfferId { get; init; }

    /// <summary>The <c>lno1…</c> string to hand to payers.</summary>
    public required string Offer { get; init; }

    /// <summary><c>offer_description</c>.</summary>
    public required string Description { get; init; }

    /// <summary>The price, or null when the payer chooses the amount.</summary>
    public MilliSatoshi? Amount { get; init; }

    /// <summary>When the offer stops being payable, if it expires.</summary>
    public DateTimeOffset? AbsoluteExpiry { get; init; }

    /// <summary>The introduction node of the offer's blinded path (a peer of ours), or null when the offer names our node id.</summary>
    public NodeId? IntroductionNode { get; init; }

    /// <summary>When it was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Encodes the record (versioned JSON).</summary>
    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(new OfferDto(
        CurrentVersion, OfferId.ToHex(), Offer, Description, Amount?.Value, AbsoluteExpiry, IntroductionNode?.ToString(), CreatedAt), OfferJson.Default.OfferDto);

    /// <summary>Decodes a record.</summary>
    /// <param name="bytes">The stored bytes.</param>
    /// <exception cref="NodeStateCorruptException">Unreadable or of an unknown version.</exception>
    public static OfferRecord Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var dto = JsonSerializer.Deserialize(bytes, OfferJson.Default.OfferDto);
            if (dto is null || dto.Version != CurrentVersion)
            {
                throw new NodeStateCorruptException($"An offer record needs version {CurrentVersion}.");
            }
            return new OfferRecord
            {
                OfferId = new Bytes32(Convert.FromHexString(dto.OfferId)),
                Offer = dto.Offer,
                Description = dto.Description,
                Amount = dto.AmountMsat is { } a ? new MilliSatoshi(a) : null,
                AbsoluteExpiry = dto.AbsoluteExpiry,
                IntroductionNode = dto.IntroductionNode is { } n ? NodeId.Parse(n) : null,
                CreatedAt = dto.CreatedAt,
            };
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new NodeStateCorruptException("An offer record is unreadable.", e);
        }
    }
}

/// <summary>The state of an invoice we issued for one of our offers.</summary>
public enum OfferInvoiceState
{
    /// <summary>Sent to the payer; not paid yet.</summary>
    Pending,

    /// <summary>Paid: the HTLC was settled with the preimage.</summary>
    Settled,
}

/// <summary>
/// An invoice this node issued in answer to an <c>invoice_request</c> for one of its offers (persisted in the
/// <c>offers/invoices</c> namespace, keyed by payment hash). The payment preimage is not stored: it is derived again
/// from the <c>path_id</c> the payment arrives with.
/// </summary>
public sealed record OfferInvoiceRecord
{
    /// <summary>The record format version written by <see cref="Encode"/>.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The payment hash.</summary>
    public required PaymentHash PaymentHash { get; init; }

    /// <summary>The offer it answers.</summary>
    public required Bytes32 OfferId { get; init; }

    /// <summary>The amount asked.</summary>
    public required MilliSatoshi Amount { get; init; }

    /// <summary>The payer's note, if any.</summary>
    public string? PayerNote { get; init; }

    /// <summary>When it was issued.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it stops being payable.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Pending or settled.</summary>
    public required OfferInvoiceState State { get; init; }

    /// <summary>What the HTLC actually paid, once settled.</summary>
    public MilliSatoshi? AmountReceived { get; init; }

    /// <summary>When it was settled.</summary>
    public DateTimeOffset? SettledAt { get; init; }

    /// <summary>Encodes the record (versioned JSON).</summary>
    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(new OfferInvoiceDto(
        CurrentVersion, PaymentHash.Value.ToHex(), OfferId.ToHex(), Amount.Value, PayerNote, CreatedAt, ExpiresAt, State == OfferInvoiceState.Settled,
        AmountReceived?.Value, SettledAt), OfferJson.Default.OfferInvoiceDto);

    /// <summary>Decodes a record.</summary>
    /// <param name="bytes">The stored bytes.</param>
    /// <exception cref="NodeStateCorruptException">Unreadable or of an unknown version.</exception>
    public static OfferInvoiceRecord Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var dto = JsonSerializer.Deserialize(bytes, OfferJson.Default.OfferInvoiceDto);
            if (dto is null || dto.Version != CurrentVersion)
            {
                throw new NodeStateCorruptException($"An offer invoice record needs version {CurrentVersion}.");
            }
            return new OfferInvoiceRecord
            {
                PaymentHash = new PaymentHash(new Bytes32(Convert.FromHexString(dto.PaymentHash))),
                OfferId = new Bytes32(Convert.FromHexString(dto.OfferId)),
                Amount = new MilliSatoshi(dto.AmountMsat),
                PayerNote = dto.PayerNote,
                CreatedAt = dto.CreatedAt,
                ExpiresAt = dto.ExpiresAt,
                State = dto.Settled ? OfferInvoiceState.Settled : OfferInvoiceState.Pending,
                AmountReceived = dto.AmountReceivedMsat is { } r ? new MilliSatoshi(r) : null,
                SettledAt = dto.SettledAt,
            };
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new NodeStateCorruptException("An offer invoice record is unreadable.", e);
        }
    }
}

/// <summary>
/// A BOLT 12 invoice this node paid (or is paying), persisted in the <c>offers/payments</c> namespace (keyed by payment
/// hash) before the first HTLC leaves: a payer restarted mid-payment rebuilds the payment session's blinded paths from
/// it, and it stays as the payer's proof of what was paid (the invoice plus the payment's preimage).
/// </summary>
public sealed record OfferPaymentRecord
{
    /// <summary>The record format version written by <see cref="Encode"/>.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The payment hash.</summary>
    public required PaymentHash PaymentHash { get; init; }

    /// <summary>The invoice (TLV bytes, as received and checked).</summary>
    public required ReadOnlyMemory<byte> Invoice { get; init; }

    /// <summary>
    /// The invoice's usable paths (indexes into its usable paths, in order) the payment session was given as
    /// candidates; a part's <c>BlindedPathIndex</c> is an index into this list.
    /// </summary>
    public required IReadOnlyList<int> PathIndexes { get; init; }

    /// <summary>When the payment started.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Encodes the record (versioned JSON).</summary>
    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(new OfferPaymentDto(
        CurrentVersion, PaymentHash.Value.ToHex(), Convert.ToHexStringLower(Invoice.Span), [.. PathIndexes], CreatedAt), OfferJson.Default.OfferPaymentDto);

    /// <summary>Decodes a record.</summary>
    /// <param name="bytes">The stored bytes.</param>
    /// <exception cref="NodeStateCorruptException">Unreadable, of an unknown version, or with negative path indexes.</exception>
    public static OfferPaymentRecord Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var dto = JsonSerializer.Deserialize(bytes, OfferJson.Default.OfferPaymentDto);
            if (dto is null || dto.Version != CurrentVersion)
            {
                throw new NodeStateCorruptException($"An offer payment record needs version {CurrentVersion}.");
            }
            if (dto.PathIndexes is null || dto.PathIndexes.Any(i => i < 0))
            {
                throw new NodeStateCorruptException("An offer payment record holds invalid path indexes.");
            }
            return new OfferPaymentRecord
            {
                PaymentHash = new PaymentHash(new Bytes32(Convert.FromHexString(dto.PaymentHash))),
                Invoice = Convert.FromHexString(dto.Invoice),
                PathIndexes = dto.PathIndexes,
                CreatedAt = dto.CreatedAt,
            };
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new NodeStateCorruptException("An offer payment record is unreadable.", e);
        }
    }
}

internal sealed record OfferPaymentDto(int Version, string PaymentHash, string Invoice, int[] PathIndexes, DateTimeOffset CreatedAt);

internal sealed record OfferDto(int Version, string OfferId, string Offer, string Description, ulong? AmountMsat, DateTimeOffset? AbsoluteExpiry, string? IntroductionNode, DateTimeOffset CreatedAt);

internal sealed record OfferInvoiceDto(int Version, string PaymentHash, string OfferId, ulong AmountMsat, string? PayerNote, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, bool Settled, ulong? AmountReceivedMsat, DateTimeOffset? SettledAt);

[JsonSerializable(typeof(OfferDto))]
[JsonSerializable(typeof(OfferInvoiceDto))]
[JsonSerializable(typeof(OfferPaymentDto))]
internal sealed partial class OfferJson : JsonSerializerContext;
