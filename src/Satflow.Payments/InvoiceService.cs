using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Payments;

/// <summary>Fills <paramref name="destination"/> with cryptographically secure random bytes (a test seam).</summary>
/// <param name="destination">The buffer to fill.</param>
public delegate void RandomFill(Span<byte> destination);

/// <summary>What a new invoice asks for. Exactly one of <see cref="Description"/> and <see cref="DescriptionHash"/> is set.</summary>
public sealed record InvoiceRequest
{
    /// <summary>The requested amount, or null for an any-amount invoice.</summary>
    public MilliSatoshi? Amount { get; init; }

    /// <summary>The description (<c>d</c> field), at most 639 UTF-8 bytes.</summary>
    public string? Description { get; init; }

    /// <summary>The SHA256 of a longer description (<c>h</c> field).</summary>
    public Bytes32? DescriptionHash { get; init; }

    /// <summary>Seconds until the invoice expires (default 3600).</summary>
    public ulong ExpirySeconds { get; init; } = Bolt11Invoice.DefaultExpirySeconds;

    /// <summary>The minimum final CLTV expiry delta (default 18).</summary>
    public uint MinFinalCltvExpiryDelta { get; init; } = (uint)Bolt11Invoice.DefaultMinFinalCltvExpiryDelta;

    /// <summary>Route hints (<c>r</c> fields) toward the node, e.g. over its unannounced channels (none by default).</summary>
    public IReadOnlyList<IReadOnlyList<RouteHintHop>> RouteHints { get; init; } = [];
}

/// <summary>
/// Issues BOLT 11 invoices signed with the node key and keeps their records in an <see cref="IKeyValueStore"/>
/// (namespace <c>payments/invoices</c>, key = payment hash hex). Every record is durably written before the call that
/// created or changed it returns, and each state change is one atomic write. Time comes from the injected
/// <see cref="TimeProvider"/>, randomness from the injected <see cref="RandomFill"/>.
/// </summary>
public sealed class InvoiceService
{
    /// <summary>The primary namespace of the records.</summary>
    public const string PrimaryNamespace = "payments";

    /// <summary>The secondary namespace of invoice records.</summary>
    public const string SecondaryNamespace = "invoices";

    /// <summary>The features every invoice advertises: var_onion_optin (8) and payment_secret (14) required, basic_mpp (17) optional.</summary>
    public static FeatureBits InvoiceFeatures { get; } = FeatureBits.Of(8, 14, 17);

    private readonly IKeyValueStore _store;
    private readonly Key _nodeKey;
    private readonly Bolt11Network _network;
    private readonly TimeProvider _time;
    private readonly RandomFill _random;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the service.</summary>
    /// <param name="store">Where records are kept.</param>
    /// <param name="nodeKey">The node's private key; invoices are signed with it.</param>
    /// <param name="network">The chain the invoices are for.</param>
    /// <param name="time">The clock.</param>
    /// <param name="random">The randomness source for preimages and secrets; defaults to <see cref="RandomNumberGenerator.Fill"/>.</param>
    public InvoiceService(IKeyValueStore store, Key nodeKey, Bolt11Network network, TimeProvider time, RandomFill? random = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(nodeKey);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _nodeKey = nodeKey;
        _network = network;
        _time = time;
        _random = random ?? RandomNumberGenerator.Fill;
    }

    /// <summary>The node id that signs the invoices.</summary>
    public NodeId NodeId => new(_nodeKey.PubKey);

    /// <summary>Creates, signs and durably records a new invoice.</summary>
    /// <param name="request">What the invoice asks for.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The stored record (state <see cref="InvoiceState.Open"/>).</returns>
    /// <exception cref="PaymentsException">Invalid request, or a record for the generated hash already exists.</exception>
    /// <exception cref="KeyValueStoreException">The store failed.</exception>
    public async Task<InvoiceRecord> CreateAsync(InvoiceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);

        Span<byte> buffer = stackalloc byte[Bytes32.Length];
        _random(buffer);
        var preimage = PaymentPreimage.FromBytes(buffer);
        _random(buffer);
        var secret = PaymentSecret.FromBytes(buffer);
        var hash = preimage.Hash;

        var createdSeconds = _time.GetUtcNow().ToUnixTimeSeconds();
        if (createdSeconds < 0 || (ulong)createdSeconds >= 1UL << 35)
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, "The clock is outside the range a BOLT 11 timestamp can express.");
        }
        var builder = new Bolt11InvoiceBuilder(_network, (ulong)createdSeconds);
        if (request.Amount is { } amount)
        {
            builder.Amount(amount);
        }
        builder.PaymentHash(hash).PaymentSecret(secret);
        if (request.Description is { } description)
        {
            builder.Description(description);
        }
        else
        {
            builder.DescriptionHash(request.DescriptionHash!.Value);
        }
        builder.Expiry(request.ExpirySeconds)
            .MinFinalCltvExpiryDelta(request.MinFinalCltvExpiryDelta)
            .Features(InvoiceFeatures);
        foreach (var hint in request.RouteHints)
        {
            builder.RouteHint(hint);
        }
        Bolt11Invoice invoice;
        try
        {
            invoice = builder.Sign(_nodeKey);
        }
        catch (InvoiceFormatException e)
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, "The requested invoice is not a valid BOLT 11 invoice: " + e.Message, e);
        }

        var record = new InvoiceRecord
        {
            PaymentHash = hash,
            Preimage = preimage,
            PaymentSecret = secret,
            Amount = request.Amount,
            Bolt11 = invoice.Encoded,
            CreatedAt = DateTimeOffset.FromUnixTimeSeconds(createdSeconds),
            ExpirySeconds = request.ExpirySeconds,
            MinFinalCltvExpiryDelta = request.MinFinalCltvExpiryDelta,
            State = InvoiceState.Open,
        };

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await _store.ReadAsync(PrimaryNamespace, SecondaryNamespace, KeyOf(hash), cancellationToken).ConfigureAwait(false) is not null)
            {
                throw new InvoiceException(PaymentsErrorReason.InvoiceAlreadyExists, hash, $"An invoice for hash {hash} already exists (the randomness source repeated itself).");
            }
            await WriteAsync(record, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
        return record;
    }

    /// <summary>Creates an invoice with a description (<c>d</c> field); see <see cref="CreateAsync(InvoiceRequest, CancellationToken)"/>.</summary>
    /// <param name="amount">The requested amount, or null for an any-amount invoice.</param>
    /// <param name="description">The description (at most 639 UTF-8 bytes).</param>
    /// <param name="expirySeconds">Seconds until expiry (default 3600).</param>
    /// <param name="minFinalCltvExpiryDelta">The minimum final CLTV expiry delta (default 18).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The stored record.</returns>
    public Task<InvoiceRecord> CreateAsync(MilliSatoshi? amount, string description, ulong expirySeconds = Bolt11Invoice.DefaultExpirySeconds, uint minFinalCltvExpiryDelta = (uint)Bolt11Invoice.DefaultMinFinalCltvExpiryDelta, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(description);
        return CreateAsync(new InvoiceRequest { Amount = amount, Description = description, ExpirySeconds = expirySeconds, MinFinalCltvExpiryDelta = minFinalCltvExpiryDelta }, cancellationToken);
    }

    /// <summary>Creates an invoice with a description hash (<c>h</c> field); see <see cref="CreateAsync(InvoiceRequest, CancellationToken)"/>.</summary>
    /// <param name="amount">The requested amount, or null for an any-amount invoice.</param>
    /// <param name="descriptionHash">SHA256 of the description.</param>
    /// <param name="expirySeconds">Seconds until expiry (default 3600).</param>
    /// <param name="minFinalCltvExpiryDelta">The minimum final CLTV expiry delta (default 18).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The stored record.</returns>
    public Task<InvoiceRecord> CreateAsync(MilliSatoshi? amount, Bytes32 descriptionHash, ulong expirySeconds = Bolt11Invoice.DefaultExpirySeconds, uint minFinalCltvExpiryDelta = (uint)Bolt11Invoice.DefaultMinFinalCltvExpiryDelta, CancellationToken cancellationToken = default) =>
        CreateAsync(new InvoiceRequest { Amount = amount, DescriptionHash = descriptionHash, ExpirySeconds = expirySeconds, MinFinalCltvExpiryDelta = minFinalCltvExpiryDelta }, cancellationToken);

    /// <summary>Looks an invoice up by payment hash.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The record, or null when there is none.</returns>
    /// <exception cref="PaymentRecordCorruptException">The stored record is corrupted.</exception>
    public async Task<InvoiceRecord?> LookupAsync(PaymentHash paymentHash, CancellationToken cancellationToken = default)
    {
        var key = KeyOf(paymentHash);
        var data = await _store.ReadAsync(PrimaryNamespace, SecondaryNamespace, key, cancellationToken).ConfigureAwait(false);
        return data is { } bytes ? Decode(key, bytes.Span, paymentHash) : null;
    }

    /// <summary>Lists every invoice, ordered by payment hash hex.</summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The records.</returns>
    /// <exception cref="PaymentRecordCorruptException">A stored record is corrupted.</exception>
    public async Task<IReadOnlyList<InvoiceRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var keys = await _store.ListAsync(PrimaryNamespace, SecondaryNamespace, cancellationToken).ConfigureAwait(false);
        var records = new List<InvoiceRecord>(keys.Count);
        foreach (var key in keys)
        {
            var data = await _store.ReadAsync(PrimaryNamespace, SecondaryNamespace, key, cancellationToken).ConfigureAwait(false);
            if (data is { } bytes)
            {
                records.Add(Decode(key, bytes.Span, null));
            }
        }
        return records;
    }

    /// <summary>
    /// Marks an open invoice as paid. Refused when the invoice is not open, has expired (it is then recorded as
    /// <see cref="InvoiceState.Expired"/>), the secret does not match, or the amount is below the invoice amount or
    /// above twice it (BOLT 4).
    /// </summary>
    /// <param name="paymentHash">The payment hash of the incoming payment.</param>
    /// <param name="paymentSecret">The payment secret the payer sent in the onion.</param>
    /// <param name="receivedAmount">The total amount received.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The settled record; its <see cref="InvoiceRecord.Preimage"/> may now be released.</returns>
    /// <exception cref="InvoiceException">The settlement is refused; <see cref="PaymentsException.Reason"/> says why.</exception>
    public async Task<InvoiceRecord> SettleAsync(PaymentHash paymentHash, PaymentSecret paymentSecret, MilliSatoshi receivedAmount, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = await RequireAsync(paymentHash, cancellationToken).ConfigureAwait(false);
            RequireOpen(record);
            var now = _time.GetUtcNow();
            if (record.IsExpiredAt(now))
            {
                await WriteAsync(record with { State = InvoiceState.Expired, ResolvedAt = now }, cancellationToken).ConfigureAwait(false);
                throw new InvoiceException(PaymentsErrorReason.InvoiceExpired, paymentHash, $"Invoice {paymentHash} expired at {record.ExpiresAt:O}.");
            }
            if (!CryptographicOperations.FixedTimeEquals(record.PaymentSecret.Value.ToArray(), paymentSecret.Value.ToArray()))
            {
                throw new InvoiceException(PaymentsErrorReason.WrongPaymentSecret, paymentHash, $"Wrong payment secret for invoice {paymentHash}.");
            }
            if (receivedAmount.Value == 0)
            {
                throw new InvoiceException(PaymentsErrorReason.Underpaid, paymentHash, "A zero amount cannot settle an invoice.");
            }
            if (record.Amount is { } expected)
            {
                if (receivedAmount < expected)
                {
                    throw new InvoiceException(PaymentsErrorReason.Underpaid, paymentHash, $"Received {receivedAmount}, the invoice asks for {expected}.");
                }
                if (receivedAmount.Value > 2 * expected.Value)
                {
                    throw new InvoiceException(PaymentsErrorReason.Overpaid, paymentHash, $"Received {receivedAmount}, more than twice the {expected} asked for.");
                }
            }
            var settled = record with { State = InvoiceState.Settled, SettledAmount = receivedAmount, ResolvedAt = now };
            await WriteAsync(settled, cancellationToken).ConfigureAwait(false);
            return settled;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Cancels an open invoice so it can no longer be paid.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The canceled record.</returns>
    /// <exception cref="InvoiceException">No such invoice, or it is not open.</exception>
    public async Task<InvoiceRecord> CancelAsync(PaymentHash paymentHash, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = await RequireAsync(paymentHash, cancellationToken).ConfigureAwait(false);
            RequireOpen(record);
            var canceled = record with { State = InvoiceState.Canceled, ResolvedAt = _time.GetUtcNow() };
            await WriteAsync(canceled, cancellationToken).ConfigureAwait(false);
            return canceled;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The store key of an invoice: its payment hash in lower-case hex.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <returns>The key.</returns>
    public static string KeyOf(PaymentHash paymentHash) => paymentHash.Value.ToHex();

    private static void Validate(InvoiceRequest request)
    {
        if ((request.Description is null) == (request.DescriptionHash is null))
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, "Exactly one of a description and a description hash must be given.");
        }
        if (request.Description is { } d && System.Text.Encoding.UTF8.GetByteCount(d) > 639)
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, "A description longer than 639 UTF-8 bytes must be given as a description hash.");
        }
        if (request.Amount is { } a && (a.Value == 0 || a > MilliSatoshi.MaxMoney))
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, $"Invoice amount {a} must be positive and at most 21M BTC.");
        }
        if (request.ExpirySeconds == 0 || request.ExpirySeconds >= 1UL << 35)
        {
            throw new PaymentsException(PaymentsErrorReason.InvalidArgument, "Expiry must be between 1 second and 2^35-1 seconds.");
        }
    }

    private static void RequireOpen(InvoiceRecord record)
    {
        if (record.State != InvoiceState.Open)
        {
            throw new InvoiceException(PaymentsErrorReason.InvoiceNotOpen, record.PaymentHash, $"Invoice {record.PaymentHash} is {record.State}, not Open.");
        }
    }

    private async Task<InvoiceRecord> RequireAsync(PaymentHash paymentHash, CancellationToken cancellationToken) =>
        await LookupAsync(paymentHash, cancellationToken).ConfigureAwait(false)
        ?? throw new InvoiceException(PaymentsErrorReason.InvoiceNotFound, paymentHash, $"No invoice for hash {paymentHash}.");

    private ValueTask WriteAsync(InvoiceRecord record, CancellationToken cancellationToken) =>
        _store.WriteAsync(PrimaryNamespace, SecondaryNamespace, KeyOf(record.PaymentHash), record.Encode(), cancellationToken);

    private static InvoiceRecord Decode(string key, ReadOnlySpan<byte> data, PaymentHash? expected)
    {
        InvoiceRecord record;
        try
        {
            record = InvoiceRecord.Decode(data);
        }
        catch (PaymentRecordCorruptException e)
        {
            throw new PaymentRecordCorruptException($"Invoice record '{key}' is unreadable: {e.Message}", e) { Key = key };
        }
        if (KeyOf(record.PaymentHash) != key || (expected is { } h && record.PaymentHash != h))
        {
            throw new PaymentRecordCorruptException($"Invoice record '{key}' holds the record of another payment hash.") { Key = key };
        }
        return record;
    }
}
