using Satflow.Lightning.Types;

namespace Satflow.Payments;

/// <summary>The state of an outgoing payment.</summary>
public enum OutgoingPaymentState
{
    /// <summary>In flight: HTLCs may be outstanding.</summary>
    Pending = 0,
    /// <summary>The preimage was received: paid.</summary>
    Succeeded = 1,
    /// <summary>Definitively failed; the hash may be paid again.</summary>
    Failed = 2,
}

/// <summary>Why an outgoing payment failed.</summary>
public enum PaymentFailureReason
{
    /// <summary>No route to the destination was found.</summary>
    NoRoute = 0,
    /// <summary>The recipient rejected the payment (unknown hash, wrong amount, ...).</summary>
    RecipientRejected = 1,
    /// <summary>Every attempted route failed.</summary>
    RouteFailed = 2,
    /// <summary>The payment timed out.</summary>
    Timeout = 3,
    /// <summary>The invoice had expired.</summary>
    InvoiceExpired = 4,
    /// <summary>Not enough outbound liquidity.</summary>
    InsufficientBalance = 5,
    /// <summary>The user aborted the payment.</summary>
    Aborted = 6,
    /// <summary>Any other reason; see the text.</summary>
    Other = 7,
}

/// <summary>
/// The stored form of a payment the node makes. Encoded as a versioned binary record (see <see cref="Encode"/>);
/// <see cref="Decode"/> raises <see cref="PaymentRecordCorruptException"/> for anything it cannot fully validate.
/// </summary>
public sealed record OutgoingPaymentRecord
{
    /// <summary>The record format version written by <see cref="Encode"/> when the routing fields are set (version 1 otherwise).</summary>
    public const byte CurrentVersion = 2;

    /// <summary>The payment hash; the record's key.</summary>
    public required PaymentHash PaymentHash { get; init; }

    /// <summary>The amount delivered to the destination (fees excluded).</summary>
    public required MilliSatoshi Amount { get; init; }

    /// <summary>The destination node.</summary>
    public required NodeId Destination { get; init; }

    /// <summary>The BOLT 11 invoice being paid, if any.</summary>
    public string? Bolt11 { get; init; }

    /// <summary>The current state.</summary>
    public required OutgoingPaymentState State { get; init; }

    /// <summary>How many times the payment was started (1 for the first attempt, +1 per retry after a failure).</summary>
    public required uint Attempts { get; init; }

    /// <summary>When the latest attempt started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>When the latest attempt succeeded or failed.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The preimage, once succeeded.</summary>
    public PaymentPreimage? Preimage { get; init; }

    /// <summary>The routing fee paid, once succeeded.</summary>
    public MilliSatoshi? Fee { get; init; }

    /// <summary>Why the latest attempt failed, when failed.</summary>
    public PaymentFailureReason? FailureReason { get; init; }

    /// <summary>A human-readable failure description, when failed.</summary>
    public string? FailureMessage { get; init; }

    /// <summary>How many HTLCs (parts, first tries and retries) were sent for the payment; null for records of version 1.</summary>
    public uint? HtlcAttempts { get; init; }

    /// <summary>How many parts the recipient settled (more than one for a multi-part payment); null for records of version 1.</summary>
    public uint? Parts { get; init; }

    /// <summary>
    /// Encodes the record: version byte 1, then fixed big-endian fields (see docs/payments.md); version 2 (written when
    /// <see cref="HtlcAttempts"/> or <see cref="Parts"/> is set) appends both as optional 32-bit fields.
    /// </summary>
    /// <returns>The bytes to store.</returns>
    public byte[] Encode()
    {
        var w = new RecordWriter();
        var version = HtlcAttempts.HasValue || Parts.HasValue ? CurrentVersion : (byte)1;
        w.U8(version);
        w.B32(PaymentHash.Value);
        w.U64(Amount.Value);
        w.Raw(Destination.Span);
        w.OptionalString(Bolt11);
        w.U8((byte)State);
        w.U32(Attempts);
        w.I64(StartedAt.ToUnixTimeMilliseconds());
        w.OptionalI64(CompletedAt?.ToUnixTimeMilliseconds());
        w.OptionalB32(Preimage?.Value);
        w.OptionalU64(Fee?.Value);
        w.Bool(FailureReason.HasValue);
        if (FailureReason is { } reason)
        {
            w.U8((byte)reason);
        }
        w.OptionalString(FailureMessage);
        if (version >= 2)
        {
            w.OptionalU64(HtlcAttempts);
            w.OptionalU64(Parts);
        }
        return w.ToArray();
    }

    /// <summary>Decodes and validates a stored record.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <returns>The record.</returns>
    /// <exception cref="PaymentRecordCorruptException">Unknown version, truncated, trailing bytes, or inconsistent fields.</exception>
    public static OutgoingPaymentRecord Decode(ReadOnlySpan<byte> data)
    {
        var r = new RecordReader(data);
        var version = r.U8();
        if (version is not (1 or CurrentVersion))
        {
            throw new PaymentRecordCorruptException($"Unknown payment record version {version} (this build reads version {CurrentVersion}).");
        }
        var hash = new PaymentHash(r.B32());
        var amount = RecordReader.Amount(r.U64());
        if (!NodeId.TryFromBytes(r.Raw(NodeId.Length), out var destination))
        {
            throw new PaymentRecordCorruptException("Payment record's destination is not a valid node id.");
        }
        var bolt11 = r.OptionalString();
        var state = RecordReader.Enum<OutgoingPaymentState>(r.U8());
        var attempts = r.U32();
        var started = RecordReader.Time(r.I64());
        var completed = r.OptionalI64() is { } c ? RecordReader.Time(c) : (DateTimeOffset?)null;
        var preimage = r.OptionalB32() is { } p ? new PaymentPreimage(p) : (PaymentPreimage?)null;
        var fee = r.OptionalU64() is { } f ? RecordReader.Amount(f) : (MilliSatoshi?)null;
        var failure = r.Bool() ? RecordReader.Enum<PaymentFailureReason>(r.U8()) : (PaymentFailureReason?)null;
        var failureMessage = r.OptionalString();
        uint? htlcAttempts = null;
        uint? parts = null;
        if (version >= 2)
        {
            htlcAttempts = r.OptionalU64() is { } h ? (h <= uint.MaxValue ? (uint)h : throw new PaymentRecordCorruptException("Payment record's HTLC attempt count is out of range.")) : null;
            parts = r.OptionalU64() is { } n ? (n <= uint.MaxValue ? (uint)n : throw new PaymentRecordCorruptException("Payment record's part count is out of range.")) : null;
        }
        r.End();

        if (attempts == 0)
        {
            throw new PaymentRecordCorruptException("Payment record has zero attempts.");
        }
        var succeeded = state == OutgoingPaymentState.Succeeded;
        var failed = state == OutgoingPaymentState.Failed;
        if (succeeded != preimage.HasValue || succeeded != fee.HasValue)
        {
            throw new PaymentRecordCorruptException("Payment record's preimage/fee do not match its state.");
        }
        if (preimage is { } pre && pre.Hash != hash)
        {
            throw new PaymentRecordCorruptException("Payment record's preimage does not hash to its payment hash.");
        }
        if (failed != failure.HasValue || (!failed && failureMessage is not null))
        {
            throw new PaymentRecordCorruptException("Payment record's failure fields do not match its state.");
        }
        if ((state != OutgoingPaymentState.Pending) != completed.HasValue)
        {
            throw new PaymentRecordCorruptException("Payment record's completion time does not match its state.");
        }
        return new OutgoingPaymentRecord
        {
            PaymentHash = hash,
            Amount = amount,
            Destination = destination,
            Bolt11 = bolt11,
            State = state,
            Attempts = attempts,
            StartedAt = started,
            CompletedAt = completed,
            Preimage = preimage,
            Fee = fee,
            FailureReason = failure,
            FailureMessage = failureMessage,
            HtlcAttempts = htlcAttempts,
            Parts = parts,
        };
    }
}
