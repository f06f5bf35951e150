using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Payments;

/// <summary>
/// Records the payments the node makes, in an <see cref="IKeyValueStore"/> (namespace <c>payments/outgoing</c>,
/// key = payment hash hex). Enforces the rule that a payment hash is never paid twice: <see cref="BeginAsync"/>
/// refuses with <see cref="DuplicatePaymentException"/> while a pending or succeeded payment for the hash exists; a
/// failed one may be retried. Every state change is one atomic write, durable before the call returns.
/// </summary>
public sealed class PaymentTracker
{
    /// <summary>The primary namespace of the records.</summary>
    public const string PrimaryNamespace = InvoiceService.PrimaryNamespace;

    /// <summary>The secondary namespace of outgoing payment records.</summary>
    public const string SecondaryNamespace = "outgoing";

    /// <summary>The longest failure text kept (longer texts are truncated).</summary>
    public const int MaxFailureMessageLength = 1024;

    private readonly IKeyValueStore _store;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the tracker.</summary>
    /// <param name="store">Where records are kept.</param>
    /// <param name="time">The clock.</param>
    public PaymentTracker(IKeyValueStore store, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
    }

    /// <summary>
    /// Records the start of a payment. Refused when a pending or succeeded payment for the hash exists; when the
    /// previous payment failed, the record is reset to pending and its attempt counter incremented.
    /// </summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="amount">The amount to deliver (positive).</param>
    /// <param name="destination">The destination node.</param>
    /// <param name="bolt11">The invoice being paid, if any.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The pending record.</returns>
    /// <exception cref="DuplicatePaymentException">The hash is already being paid or was paid.</exception>
    /// <exception cref="PaymentsException">Invalid amount, or the stored record is corrupted.</exception>
    public async Task<OutgoingPaymentRecord> BeginAsync(PaymentHash paymentHash, MilliSatoshi amount, NodeId destination, string? bolt11 = null, CancellationToken cancellationToken = default)
    {
        if (amount.Value == 0 || amount > MilliSatoshi.MaxMoney)
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, $"Payment amount {amount} must be positive and at most 21M BTC.");
        }
        if (bolt11 is { Length: > RecordReader.MaxStringBytes / 4 })
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, "The invoice string is too long.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var existing = await LookupAsync(paymentHash, cancellationToken).ConfigureAwait(false);
            if (existing is { State: OutgoingPaymentState.Pending or OutgoingPaymentState.Succeeded })
            {
                throw new DuplicatePaymentException(paymentHash, existing.State);
            }
            var record = new OutgoingPaymentRecord
            {
                PaymentHash = paymentHash,
                Amount = amount,
                Destination = destination,
                Bolt11 = bolt11,
                State = OutgoingPaymentState.Pending,
                Attempts = existing is null ? 1 : checked(existing.Attempts + 1),
                StartedAt = _time.GetUtcNow(),
            };
            await WriteAsync(record, cancellationToken).ConfigureAwait(false);
            return record;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Records that a pending payment succeeded.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="preimage">The preimage the destination released; must hash to <paramref name="paymentHash"/>.</param>
    /// <param name="fee">The routing fee paid.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The succeeded record.</returns>
    /// <exception cref="PaymentStateException">No such payment, it is not pending, or the preimage is wrong.</exception>
    public async Task<OutgoingPaymentRecord> SucceedAsync(PaymentHash paymentHash, PaymentPreimage preimage, MilliSatoshi fee, CancellationToken cancellationToken = default)
    {
        if (preimage.Hash != paymentHash)
        {
            throw new PaymentStateException(PaymentsErrorReason.WrongPreimage, paymentHash, $"The preimage does not hash to {paymentHash}.");
        }
        if (fee > MilliSatoshi.MaxMoney)
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, $"Fee {fee} exceeds 21M BTC.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = await RequirePendingAsync(paymentHash, cancellationToken).ConfigureAwait(false);
            var succeeded = record with
            {
                State = OutgoingPaymentState.Succeeded,
                Preimage = preimage,
                Fee = fee,
                CompletedAt = _time.GetUtcNow(),
            };
            await WriteAsync(succeeded, cancellationToken).ConfigureAwait(false);
            return succeeded;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Records that a pending payment definitively failed; the hash may then be paid again.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="reason">Why it failed.</param>
    /// <param name="message">A human-readable description (truncated to <see cref="MaxFailureMessageLength"/> characters).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The failed record.</returns>
    /// <exception cref="PaymentStateException">No such payment, or it is not pending.</exception>
    public async Task<OutgoingPaymentRecord> FailAsync(PaymentHash paymentHash, PaymentFailureReason reason, string message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!Enum.IsDefined(reason))
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, $"Unknown failure reason {(int)reason}.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = await RequirePendingAsync(paymentHash, cancellationToken).ConfigureAwait(false);
            var failed = record with
            {
                State = OutgoingPaymentState.Failed,
                FailureReason = reason,
                FailureMessage = message.Length > MaxFailureMessageLength ? message[..MaxFailureMessageLength] : message,
                CompletedAt = _time.GetUtcNow(),
            };
            await WriteAsync(failed, cancellationToken).ConfigureAwait(false);
            return failed;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Looks a payment up by payment hash.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The record, or null when there is none.</returns>
    /// <exception cref="PaymentRecordCorruptException">The stored record is corrupted.</exception>
    public async Task<OutgoingPaymentRecord?> LookupAsync(PaymentHash paymentHash, CancellationToken cancellationToken = default)
    {
        var key = InvoiceService.KeyOf(paymentHash);
        var data = await _store.ReadAsync(PrimaryNamespace, SecondaryNamespace, key, cancellationToken).ConfigureAwait(false);
        return data is { } bytes ? Decode(key, bytes.Span) : null;
    }

    /// <summary>Lists every payment, ordered by payment hash hex.</summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The records.</returns>
    /// <exception cref="PaymentRecordCorruptException">A stored record is corrupted.</exception>
    public async Task<IReadOnlyList<OutgoingPaymentRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var keys = await _store.ListAsync(PrimaryNamespace, SecondaryNamespace, cancellationToken).ConfigureAwait(false);
        var records = new List<OutgoingPaymentRecord>(keys.Count);
        foreach (var key in keys)
        {
            var data = await _store.ReadAsync(PrimaryNamespace, SecondaryNamespace, key, cancellationToken).ConfigureAwait(false);
            if (data is { } bytes)
            {
                records.Add(Decode(key, bytes.Span));
            }
        }
        return records;
    }

    private async Task<OutgoingPaymentRecord> RequirePendingAsync(PaymentHash paymentHash, CancellationToken cancellationToken)
    {
        var record = await LookupAsync(paymentHash, cancellationToken).ConfigureAwait(false)
            ?? throw new PaymentStateException(PaymentsErrorReason.PaymentNotFound, paymentHash, $"No payment for hash {paymentHash}.");
        if (record.State != OutgoingPaymentState.Pending)
        {
            throw new PaymentStateException(PaymentsErrorReason.PaymentNotPending, paymentHash, $"Payment {paymentHash} is {record.State}, not Pending.");
        }
        return record;
    }

    private ValueTask WriteAsync(OutgoingPaymentRecord record, CancellationToken cancellationToken) =>
        _store.WriteAsync(PrimaryNamespace, SecondaryNamespace, InvoiceService.KeyOf(record.PaymentHash), record.Encode(), cancellationToken);

    private static OutgoingPaymentRecord Decode(string key, ReadOnlySpan<byte> data)
    {
        OutgoingPaymentRecord record;
        try
        {
            record = OutgoingPaymentRecord.Decode(data);
        }
        catch (PaymentRecordCorruptException e)
        {
            throw new PaymentRecordCorruptException($"Payment record '{key}' is unreadable: {e.Message}", e) { Key = key };
        }
        if (InvoiceService.KeyOf(record.PaymentHash) != key)
        {
            throw new PaymentRecordCorruptException($"Payment record '{key}' holds the record of another payment hash.") { Key = key };
        }
        return record;
    }
}
