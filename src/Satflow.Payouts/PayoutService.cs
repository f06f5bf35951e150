using System.Text.RegularExpressions;
using System.Security.Cryptography;
using System.Text;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Payouts.Lnurl;

namespace Satflow.Payouts;

/// <summary>Settings of a <see cref="PayoutService"/>.</summary>
public sealed record PayoutServiceOptions
{
    /// <summary>The chain invoices and addresses must belong to.</summary>
    public required Network Network { get; init; }

    /// <summary>The smallest on-chain payout, in satoshis (default 546, the P2PKH dust limit).</summary>
    public long MinimumOnChainSatoshis { get; init; } = 546;
}

/// <summary>What a new pull payment offers.</summary>
public sealed record CreatePullPaymentRequest
{
    /// <summary>The store paying.</summary>
    public required string StoreId { get; init; }

    /// <summary>A name shown to claimants.</summary>
    public required string Name { get; init; }

    /// <summary>An optional description.</summary>
    public string? Description { get; init; }

    /// <summary>The total claimable (positive).</summary>
    public required decimal Amount { get; init; }

    /// <summary>The currency code (2 to 10 upper-case letters, e.g. BTC, USD).</summary>
    public required string Currency { get; init; }

    /// <summary>When claims open (null: now).</summary>
    public DateTimeOffset? StartsAt { get; init; }

    /// <summary>When claims close (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The smallest claim.</summary>
    public decimal? MinimumClaim { get; init; }

    /// <summary>The largest claim.</summary>
    public decimal? MaximumClaim { get; init; }

    /// <summary>Allowed methods (null: both).</summary>
    public IReadOnlyList<PayoutMethod>? Methods { get; init; }

    /// <summary>Skip approval for BTC claims.</summary>
    public bool AutoApproveClaims { get; init; }
}

/// <summary>
/// Pull payments, claims and payout approval. Every change is one atomic commit with optimistic concurrency, so
/// concurrent claims can never exceed a pull payment's amount. Time comes from the injected <see cref="TimeProvider"/>.
/// Paying is the <see cref="PayoutProcessor"/>'s job.
/// </summary>
public sealed partial class PayoutService
{
    private const decimal MilliSatoshisPerBitcoin = 100_000_000_000m;
    private readonly IPayoutStore _store;
    private readonly TimeProvider _time;
    private readonly PayoutServiceOptions _options;

    /// <summary>Creates the service.</summary>
    public PayoutService(IPayoutStore store, TimeProvider time, PayoutServiceOptions options)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(options.Network);
    }

    /// <summary>Raised after a payout is stored in a new state.</summary>
    public event EventHandler<PayoutChangedEventArgs>? PayoutChanged;

    [GeneratedRegex("^[A-Z]{2,10}$")]
    private static partial Regex CurrencyCode();

    /// <summary>Creates a pull payment.</summary>
    /// <exception cref="PayoutsException">Invalid fields.</exception>
    public async Task<PullPayment> CreatePullPaymentAsync(CreatePullPaymentRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = _time.GetUtcNow();
        RequireText(request.StoreId, "store id", 128);
        RequireText(request.Name, "name", 200);
        RequireCurrency(request.Currency);
        if (request.Amount <= 0)
        {
            throw Invalid("The amount must be positive.");
        }

        if (request.MinimumClaim is <= 0 || request.MaximumClaim is <= 0 || request.MinimumClaim > request.MaximumClaim || request.MinimumClaim > request.Amount)
        {
            throw Invalid("Claim limits must be positive, minimum <= maximum, and the minimum no more than the amount.");
        }

        var starts = request.StartsAt ?? now;
        if (request.ExpiresAt is { } e && e <= starts)
        {
            throw Invalid("The expiry must be after the start.");
        }

        var methods = request.Methods?.Distinct().ToArray() ?? [PayoutMethod.Lightning, PayoutMethod.OnChain];
        if (methods.Length == 0 || methods.Any(m => !Enum.IsDefined(m)))
        {
            throw Invalid("At least one known payout method is needed.");
        }

        var pull = new PullPayment
        {
            Id = PullPaymentId.New(),
            StoreId = request.StoreId,
            Name = request.Name,
            Description = request.Description,
            Amount = request.Amount,
            Currency = request.Currency,
            StartsAt = starts,
            ExpiresAt = request.ExpiresAt,
            MinimumClaim = request.MinimumClaim,
            MaximumClaim = request.MaximumClaim,
            Methods = methods,
            AutoApproveClaims = request.AutoApproveClaims,
            CreatedAt = now,
        };
        var changes = new PayoutChangeSet();
        changes.PullPayments.Add(pull);
        await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        return pull with { Version = 1 };
    }

    /// <summary>The pull payment.</summary>
    /// <exception cref="PayoutsException"><see cref="PayoutsErrorReason.NotFound"/>.</exception>
    public async Task<PullPayment> GetPullPaymentAsync(PullPaymentId id, CancellationToken cancellationToken = default) =>
        await _store.GetPullPaymentAsync(id, cancellationToken).ConfigureAwait(false)
        ?? throw new PayoutsException(PayoutsErrorReason.NotFound, $"Pull payment '{id}' does not exist.");

    /// <summary>A store's pull payments, oldest first.</summary>
    public Task<IReadOnlyList<PullPayment>> ListPullPaymentsAsync(string storeId, CancellationToken cancellationToken = default) =>
        _store.ListPullPaymentsAsync(storeId, cancellationToken);

    /// <summary>Payouts matching <paramref name="query"/>, oldest first.</summary>
    public Task<IReadOnlyList<Payout>> ListPayoutsAsync(PayoutQuery query, CancellationToken cancellationToken = default) =>
        _store.ListPayoutsAsync(query, cancellationToken);

    /// <summary>The payout.</summary>
    /// <exception cref="PayoutsException"><see cref="PayoutsErrorReason.NotFound"/>.</exception>
    public async Task<Payout> GetPayoutAsync(PayoutId id, CancellationToken cancellationToken = default) =>
        await _store.GetPayoutAsync(id, cancellationToken).ConfigureAwait(false)
        ?? throw new PayoutsException(PayoutsErrorReason.NotFound, $"Payout '{id}' does not exist.");

    /// <summary>
    /// Claims part of a pull payment: parses the destination (BOLT 11 invoice or address), checks the pull payment is
    /// active, the method allowed, the amount within the per-claim limits and what remains, and that no active claim
    /// on it uses the same destination; then stores the payout (approved at once when the pull payment auto-approves
    /// BTC claims) and the new claimed total in one commit.
    /// </summary>
    /// <param name="pullPaymentId">The pull payment.</param>
    /// <param name="destination">A BOLT 11 invoice or an address.</param>
    /// <param name="amount">The amount in the pull payment's currency; may be omitted for an invoice with an amount.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="PayoutsException">The first broken rule.</exception>
    public Task<Payout> ClaimAsync(PullPaymentId pullPaymentId, string destination, decimal? amount, CancellationToken cancellationToken = default) =>
        ClaimAsync(pullPaymentId, destination, amount, PayoutDestinationKind.Bolt11Invoice, cancellationToken);

    internal Task<Payout> ClaimAsync(PullPaymentId pullPaymentId, string destination, decimal? amount, PayoutDestinationKind invoiceKind, CancellationToken cancellationToken) =>
        PayoutBookkeeping.RetryOnConflictAsync(async () =>
        {
            var now = _time.GetUtcNow();
            var pull = await GetPullPaymentAsync(pullPaymentId, cancellationToken).ConfigureAwait(false);
            if (!pull.IsActiveAt(now))
            {
                throw new PayoutsException(PayoutsErrorReason.NotActive, pull.Archived ? "The pull payment is archived." : now < pull.StartsAt ? "The pull payment has not started." : "The pull payment has expired.");
            }

            var dest = PayoutDestination.Parse(destination, _options.Network, now, invoiceKind);
            if (!pull.Methods.Contains(dest.Method))
            {
                throw new PayoutsException(PayoutsErrorReason.InvalidDestination, $"This pull payment does not pay by {dest.Method}.");
            }

            var claimAmount = ClaimAmount(pull, dest, amount);
            if (pull.MinimumClaim is { } min && claimAmount < min)
            {
                throw new PayoutsException(PayoutsErrorReason.LimitExceeded, $"The claim is below the minimum of {min} {pull.Currency}.");
            }

            if (pull.MaximumClaim is { } max && claimAmount > max)
            {
                throw new PayoutsException(PayoutsErrorReason.LimitExceeded, $"The claim is above the maximum of {max} {pull.Currency}.");
            }

            if (claimAmount > pull.Remaining)
            {
                throw new PayoutsException(PayoutsErrorReason.LimitExceeded, $"Only {pull.Remaining} {pull.Currency} remain to be claimed.");
            }

            var active = await _store.ListPayoutsAsync(new PayoutQuery { PullPaymentId = pull.Id }, cancellationToken).ConfigureAwait(false);
            if (active.Any(p => p.CountsAgainstLimit && p.Destination.Value == dest.Value))
            {
                throw new PayoutsException(PayoutsErrorReason.InvalidDestination, "This destination already has an active claim on this pull payment.");
            }

            await RequireInvoiceUnusedAsync(pull.StoreId, dest, cancellationToken).ConfigureAwait(false);

            var payout = new Payout
            {
                Id = PayoutId.New(),
                StoreId = pull.StoreId,
                PullPaymentId = pull.Id,
                Destination = dest,
                Amount = claimAmount,
                Currency = pull.Currency,
                CreatedAt = now,
                UpdatedAt = now,
            };
            if (pull.AutoApproveClaims && IsBitcoin(pull.Currency))
            {
                payout = Approved(payout, 1m, now);
            }

            var changes = new PayoutChangeSet();
            changes.PullPayments.Add(pull with { Claimed = pull.Claimed + claimAmount });
            changes.Payouts.Add(payout);
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            var stored = payout with { Version = 1 };
            PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(stored, null));
            return stored;
        });

    /// <summary>
    /// LUD-03: the withdrawRequest a wallet gets when it scans the pull payment's LNURL-withdraw link. Only BTC pull
    /// payments that allow Lightning qualify. <c>k1</c> is the pull payment id; the range is the per-claim limits
    /// capped by what remains.
    /// </summary>
    /// <param name="id">The pull payment.</param>
    /// <param name="callback">The host's callback URL for this pull payment.</param>
    /// <param name="allowInsecureLoopback">Allow an http loopback callback (tests only).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="PayoutsException">Inactive, not BTC, no Lightning, or nothing left to claim.</exception>
    /// <exception cref="LnurlException">An unusable callback URL.</exception>
    public async Task<LnurlWithdrawRequest> GetWithdrawRequestAsync(PullPaymentId id, Uri callback, bool allowInsecureLoopback = false, CancellationToken cancellationToken = default)
    {
        var pull = await GetPullPaymentAsync(id, cancellationToken).ConfigureAwait(false);
        if (!pull.IsActiveAt(_time.GetUtcNow()))
        {
            throw new PayoutsException(PayoutsErrorReason.NotActive, "The pull payment is not active.");
        }

        if (!IsBitcoin(pull.Currency) || !pull.Methods.Contains(PayoutMethod.Lightning))
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidDestination, "LNURL-withdraw needs a BTC pull payment that pays over Lightning.");
        }

        var min = pull.MinimumClaim is { } m ? ToMilliSatoshis(m, ceiling: true) : 1000UL;
        var maxBtc = pull.MaximumClaim is { } cap ? Math.Min(cap, pull.Remaining) : pull.Remaining;
        var max = ToMilliSatoshis(maxBtc, ceiling: false);
        if (max < min || max == 0)
        {
            throw new PayoutsException(PayoutsErrorReason.LimitExceeded, "Nothing is left to withdraw.");
        }

        var request = new LnurlWithdrawRequest
        {
            Callback = callback,
            K1 = pull.Id.Value,
            DefaultDescription = pull.Description ?? pull.Name,
            MinWithdrawable = new MilliSatoshi(min),
            MaxWithdrawable = new MilliSatoshi(max),
        };
        request.Validate(allowInsecureLoopback);
        return request;
    }

    /// <summary>
    /// LUD-03 callback: the wallet sends <paramref name="k1"/> (the pull payment id) and an invoice with an amount;
    /// the claim is made as for <see cref="ClaimAsync(PullPaymentId, string, decimal?, CancellationToken)"/> with kind
    /// <see cref="PayoutDestinationKind.LnurlWithdraw"/>. The host answers <see cref="LnurlStatus.OkJson"/> or
    /// <see cref="LnurlStatus.ErrorJson"/> with the exception message.
    /// </summary>
    /// <exception cref="PayoutsException">A wrong k1, an invoice without amount, or any claim rule.</exception>
    public Task<Payout> ClaimByLnurlWithdrawAsync(PullPaymentId id, string? k1, string? invoice, CancellationToken cancellationToken = default)
    {
        if (k1 is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(k1), Encoding.UTF8.GetBytes(id.Value)))
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidArgument, "k1 does not match this pull payment.");
        }

        if (string.IsNullOrEmpty(invoice) || PayoutDestination.Parse(invoice, _options.Network, _time.GetUtcNow()).InvoiceAmount is null)
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidDestination, "LNURL-withdraw needs an invoice with an amount.");
        }

        return ClaimAsync(id, invoice, null, PayoutDestinationKind.LnurlWithdraw, cancellationToken);
    }

    /// <summary>An invoice may back only one live payout of a store (the processor enforces it again before paying).</summary>
    private async Task RequireInvoiceUnusedAsync(string storeId, PayoutDestination dest, CancellationToken cancellationToken)
    {
        if (dest.PaymentHash is not { } hash)
        {
            return;
        }

        var live = await _store.ListPayoutsAsync(
            new PayoutQuery { StoreId = storeId, States = [PayoutState.AwaitingApproval, PayoutState.AwaitingPayment, PayoutState.InProgress, PayoutState.Completed] },
            cancellationToken).ConfigureAwait(false);
        if (live.Any(p => p.Destination.PaymentHash == hash))
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidDestination, "This invoice already backs another payout.");
        }
    }

    private static ulong ToMilliSatoshis(decimal btc, bool ceiling)
    {
        var msat = btc * MilliSatoshisPerBitcoin;
        return (ulong)Math.Clamp(ceiling ? decimal.Ceiling(msat) : decimal.Floor(msat), 0, MilliSatoshi.MaxMoney.Value);
    }

    /// <summary>Creates a payout that is not a claim (e.g. a refund decided by the store); it awaits approval.</summary>
    /// <exception cref="PayoutsException">Invalid fields or destination.</exception>
    public async Task<Payout> CreatePayoutAsync(string storeId, string destination, decimal amount, string currency, CancellationToken cancellationToken = default)
    {
        RequireText(storeId, "store id", 128);
        RequireCurrency(currency);
        var now = _time.GetUtcNow();
        var dest = PayoutDestination.Parse(destination, _options.Network, now);
        if (amount <= 0)
        {
            throw Invalid("The amount must be positive.");
        }

        if (dest.InvoiceAmount is { } invoiceAmount && (!IsBitcoin(currency) || amount * MilliSatoshisPerBitcoin != invoiceAmount.Value))
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidDestination, "An invoice with an amount can only be paid for exactly that amount in BTC.");
        }

        await RequireInvoiceUnusedAsync(storeId, dest, cancellationToken).ConfigureAwait(false);
        var payout = new Payout
        {
            Id = PayoutId.New(),
            StoreId = storeId,
            Destination = dest,
            Amount = amount,
            Currency = currency,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var changes = new PayoutChangeSet();
        changes.Payouts.Add(payout);
        await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        var stored = payout with { Version = 1 };
        PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(stored, null));
        return stored;
    }

    /// <summary>
    /// Approves a payout awaiting approval at <paramref name="btcPerUnit"/> (BTC per unit of its currency; must be 1
    /// or omitted for BTC), fixing the amount to send; it then awaits payment.
    /// </summary>
    /// <exception cref="PayoutsException">Wrong state, a bad rate, or an amount below dust / zero.</exception>
    public Task<Payout> ApproveAsync(PayoutId id, decimal? btcPerUnit = null, CancellationToken cancellationToken = default) =>
        PayoutBookkeeping.RetryOnConflictAsync(async () =>
        {
            var payout = await GetPayoutAsync(id, cancellationToken).ConfigureAwait(false);
            RequireState(payout, PayoutState.AwaitingApproval);
            decimal rate;
            if (IsBitcoin(payout.Currency))
            {
                rate = btcPerUnit is null or 1m ? 1m : throw Invalid("A BTC payout is approved at a rate of 1.");
            }
            else
            {
                rate = btcPerUnit is > 0 ? btcPerUnit.Value : throw Invalid($"A {payout.Currency} payout needs a positive BTC rate.");
            }

            var approved = Approved(payout, rate, _time.GetUtcNow());
            return await SaveAsync(approved, payout.State, cancellationToken).ConfigureAwait(false);
        });

    /// <summary>Cancels a payout that is awaiting approval or payment; its claim is given back to the pull payment.</summary>
    /// <exception cref="PayoutsException">Wrong state.</exception>
    public Task<Payout> CancelAsync(PayoutId id, string? reason = null, CancellationToken cancellationToken = default) =>
        PayoutBookkeeping.RetryOnConflictAsync(async () =>
        {
            var payout = await GetPayoutAsync(id, cancellationToken).ConfigureAwait(false);
            RequireState(payout, PayoutState.AwaitingApproval, PayoutState.AwaitingPayment);
            var cancelled = payout with { State = PayoutState.Cancelled, FailureReason = reason ?? "cancelled", UpdatedAt = _time.GetUtcNow() };
            var changes = new PayoutChangeSet();
            changes.Payouts.Add(cancelled);
            await PayoutBookkeeping.ReleaseClaimsAsync(_store, changes, [payout], cancellationToken).ConfigureAwait(false);
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            var stored = cancelled with { Version = payout.Version + 1 };
            PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(stored, payout.State));
            return stored;
        });

    /// <summary>Archives a pull payment (no more claims) and cancels its payouts that were not paid yet.</summary>
    /// <returns>The payouts cancelled.</returns>
    public Task<IReadOnlyList<Payout>> ArchivePullPaymentAsync(PullPaymentId id, CancellationToken cancellationToken = default) =>
        PayoutBookkeeping.RetryOnConflictAsync<IReadOnlyList<Payout>>(async () =>
        {
            var pull = await GetPullPaymentAsync(id, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var open = await _store.ListPayoutsAsync(new PayoutQuery { PullPaymentId = id, States = [PayoutState.AwaitingApproval, PayoutState.AwaitingPayment] }, cancellationToken).ConfigureAwait(false);
            var changes = new PayoutChangeSet();
            var cancelled = open.Select(p => p with { State = PayoutState.Cancelled, FailureReason = "pull payment archived", UpdatedAt = now }).ToArray();
            changes.Payouts.AddRange(cancelled);
            changes.PullPayments.Add(pull with { Archived = true, Claimed = Math.Max(0, pull.Claimed - open.Sum(p => p.Amount)) });
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            var stored = cancelled.Select(p => p with { Version = p.Version + 1 }).ToArray();
            for (var i = 0; i < stored.Length; i++)
            {
                PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(stored[i], open[i].State));
            }

            return stored;
        });

    private async Task<Payout> SaveAsync(Payout payout, PayoutState previous, CancellationToken cancellationToken)
    {
        var changes = new PayoutChangeSet();
        changes.Payouts.Add(payout);
        await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        var stored = payout with { Version = payout.Version + 1 };
        PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(stored, previous));
        return stored;
    }

    private Payout Approved(Payout payout, decimal rate, DateTimeOffset now)
    {
        MilliSatoshi pay;
        if (payout.Destination.InvoiceAmount is { } invoiceAmount)
        {
            pay = invoiceAmount;
        }
        else
        {
            var msat = decimal.Floor(payout.Amount * rate * MilliSatoshisPerBitcoin);
            if (msat <= 0 || msat > MilliSatoshi.MaxMoney.Value)
            {
                throw Invalid("The payout converts to no amount at this rate (or more than exists).");
            }

            pay = new MilliSatoshi((ulong)msat);
        }

        if (payout.Method == PayoutMethod.OnChain)
        {
            var sats = pay.TruncateToSatoshis();
            if ((long)sats < _options.MinimumOnChainSatoshis)
            {
                throw new PayoutsException(PayoutsErrorReason.LimitExceeded, $"An on-chain payout must be at least {_options.MinimumOnChainSatoshis} sat.");
            }

            pay = MilliSatoshi.FromSatoshis(sats);
        }

        return payout with { State = PayoutState.AwaitingPayment, Rate = rate, PayAmount = pay, UpdatedAt = now };
    }

    private static decimal ClaimAmount(PullPayment pull, PayoutDestination dest, decimal? amount)
    {
        if (dest.InvoiceAmount is { } invoiceAmount)
        {
            if (!IsBitcoin(pull.Currency))
            {
                throw new PayoutsException(PayoutsErrorReason.InvalidDestination, $"Give an invoice without an amount for a {pull.Currency} pull payment.");
            }

            var btc = invoiceAmount.Value / MilliSatoshisPerBitcoin;
            if (amount is { } a && a != btc)
            {
                throw new PayoutsException(PayoutsErrorReason.InvalidDestination, $"The invoice asks {btc} BTC, not {a}.");
            }

            return btc;
        }

        return amount is > 0 ? amount.Value : throw Invalid("A positive amount is needed for this destination.");
    }

    private static bool IsBitcoin(string currency) => string.Equals(currency, "BTC", StringComparison.Ordinal);

    private static void RequireState(Payout payout, params PayoutState[] allowed)
    {
        if (!allowed.Contains(payout.State))
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidState, $"Payout '{payout.Id}' is {payout.State}; this needs {string.Join(" or ", allowed)}.");
        }
    }

    private static void RequireText(string? value, string what, int max)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > max)
        {
            throw Invalid($"A {what} of 1 to {max} characters is needed.");
        }
    }

    private static void RequireCurrency(string? currency)
    {
        if (currency is null || !CurrencyCode().IsMatch(currency))
        {
            throw Invalid($"'{currency}' is not a currency code (2 to 10 upper-case letters).");
        }
    }

    private static PayoutsException Invalid(string message) => new(PayoutsErrorReason.InvalidArgument, message);
}
