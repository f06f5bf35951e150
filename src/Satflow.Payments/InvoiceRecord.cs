using Satflow.Lightning.Types;

namespace Satflow.Payments;

/// <summary>The life-cycle state of an invoice the node issued.</summary>
public enum InvoiceState
{
    /// <summary>Waiting for payment.</summary>
    Open = 0,
    /// <summary>Paid: the preimage may be released.</summary>
    Settled = 1,
    /// <summary>A payment arrived after the expiry; the invoice can no longer be paid.</summary>
    Expired = 2,
    /// <summary>Canceled by the node operator.</summary>
    Canceled = 3,
}

/// <summary>
/// The stored form of an invoice the node issued. Encoded as a versioned binary record (see <see cref="Encode"/>);
/// <see cref="Decode"/> raises <see cref="PaymentRecordCorruptException"/> for anything it cannot fully validate.
/// </summary>
public sealed record InvoiceRecord
{
    /// <summary>The record format version written by <see cref="Encode"/>.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>The payment hash (SHA256 of <see cref="Preimage"/>); the record's key.</summary>
    public required PaymentHash PaymentHash { get; init; }

    /// <summary>The preimage released when the invoice is settled.</summary>
    public required PaymentPreimage Preimage { get; init; }

    /// <summary>The payment secret the payer must echo.</summary>
    public required PaymentSecret PaymentSecret { get; init; }

    /// <summary>The requested amount, or null for an any-amount invoice.</summary>
    public required MilliSatoshi? Amount { get; init; }

    /// <summary>The signed BOLT 11 string.</summary>
    public required string Bolt11 { get; init; }

    /// <summary>Creation time (the invoice timestamp, whole seconds).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Seconds after <see cref="CreatedAt"/> when the invoice expires.</summary>
    public required ulong ExpirySeconds { get; init; }

    /// <summary>The minimum final CLTV expiry delta written in the invoice.</summary>
    public required uint MinFinalCltvExpiryDelta { get; init; }

    /// <summary>The current state.</summary>
    public required InvoiceState State { get; init; }

    /// <summary>The amount received, once settled.</summary>
    public MilliSatoshi? SettledAmount { get; init; }

    /// <summary>When the invoice was settled, expired or canceled.</summary>
    public DateTimeOffset? ResolvedAt { get; init; }

    /// <summary>When the invoice stops accepting payments (saturates at <see cref="DateTimeOffset.MaxValue"/>).</summary>
    public DateTimeOffset ExpiresAt =>
        ExpirySeconds > (ulong)(DateTimeOffset.MaxValue - CreatedAt).TotalSeconds
            ? DateTimeOffset.MaxValue
            : CreatedAt.AddSeconds(ExpirySeconds);

    /// <summary>True when the invoice is past its expiry at <paramref name="now"/>.</summary>
    /// <param name="now">The current time.</param>
    public bool IsExpiredAt(DateTimeOffset now) => now > ExpiresAt;

    /// <summary>Encodes the record: version byte 1, then fixed big-endian fields (see docs/payments.md).</summary>
    /// <returns>The bytes to store.</returns>
    public byte[] Encode()
    {
        var w = new RecordWriter();
        w.U8(CurrentVersion);
        w.B32(PaymentHash.Value);
        w.B32(Preimage.Value);
        w.B32(PaymentSecret.Value);
        w.OptionalU64(Amount?.Value);
        w.OptionalString(Bolt11);
        w.I64(CreatedAt.ToUnixTimeMilliseconds());
        w.U64(ExpirySeconds);
        w.U32(MinFinalCltvExpiryDelta);
        w.U8((byte)State);
        w.OptionalU64(SettledAmount?.Value);
        w.OptionalI64(ResolvedAt?.ToUnixTimeMilliseconds());
        return w.ToArray();
    }

    /// <summary>Decodes and validates a stored record.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <returns>The record.</returns>
    /// <exception cref="PaymentRecordCorruptException">Unknown version, truncated, trailing bytes, or inconsistent fields.</exception>
    public static InvoiceRecord Decode(ReadOnlySpan<byte> data)
    {
        var r = new RecordReader(data);
        var version = r.U8();
        if (version != CurrentVersion)
        {
            throw new PaymentRecordCorruptException($"Unknown invoice record version {version} (this build reads version {CurrentVersion}).");
        }
        var hash = new PaymentHash(r.B32());
        var preimage = new PaymentPreimage(r.B32());
        var secret = new PaymentSecret(r.B32());
        var amount = r.OptionalU64() is { } a ? RecordReader.Amount(a) : (MilliSatoshi?)null;
        var bolt11 = r.OptionalString() ?? throw new PaymentRecordCorruptException("Invoice record has no BOLT 11 string.");
        var created = RecordReader.Time(r.I64());
        var expiry = r.U64();
        var cltv = r.U32();
        var state = RecordReader.Enum<InvoiceState>(r.U8());
        var settledAmount = r.OptionalU64() is { } s ? RecordReader.Amount(s) : (MilliSatoshi?)null;
        var resolvedAt = r.OptionalI64() is { } t ? RecordReader.Time(t) : (DateTimeOffset?)null;
        r.End();

        if (preimage.Hash != hash)
        {
            throw new PaymentRecordCorruptException("Invoice record's preimage does not hash to its payment hash.");
        }
        if (amount is { Value: 0 })
        {
            throw new PaymentRecordCorruptException("Invoice record has a zero amount.");
        }
        if ((state == InvoiceState.Settled) != settledAmount.HasValue)
        {
            throw new PaymentRecordCorruptException("Invoice record's settled amount does not match its state.");
        }
        if ((state != InvoiceState.Open) != resolvedAt.HasValue)
        {
            throw new PaymentRecordCorruptException("Invoice record's resolution time does not match its state.");
        }
        return new InvoiceRecord
        {
            PaymentHash = hash,
            Preimage = preimage,
            PaymentSecret = secret,
            Amount = amount,
            Bolt11 = bolt11,
            CreatedAt = created,
            ExpirySeconds = expiry,
            MinFinalCltvExpiryDelta = cltv,
            State = state,
            SettledAmount = settledAmount,
            ResolvedAt = resolvedAt,
        };
    }
}
