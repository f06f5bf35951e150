using Satflow.Merchant.Accounts;
using Satflow.Payouts;

namespace Satflow.Server.Api;

/// <summary>Creates a pull payment.</summary>
/// <param name="Name">Name.</param>
/// <param name="Description">Description.</param>
/// <param name="Amount">Total amount.</param>
/// <param name="Currency">Currency (<c>BTC</c>, <c>USD</c>, ...).</param>
/// <param name="StartsAt">Start (default now).</param>
/// <param name="ExpiresAt">Expiry (default none).</param>
/// <param name="MinimumClaim">Per-claim minimum.</param>
/// <param name="MaximumClaim">Per-claim maximum.</param>
/// <param name="Methods">Allowed methods (default both).</param>
/// <param name="AutoApproveClaims">Approve BTC claims at once.</param>
public sealed record CreatePullPaymentBody(string Name, string? Description, decimal Amount, string Currency, DateTimeOffset? StartsAt, DateTimeOffset? ExpiresAt,
    decimal? MinimumClaim, decimal? MaximumClaim, IReadOnlyList<PayoutMethod>? Methods, bool? AutoApproveClaims);

/// <summary>A pull payment.</summary>
/// <param name="Id">Id.</param>
/// <param name="Name">Name.</param>
/// <param name="Description">Description.</param>
/// <param name="Amount">Total.</param>
/// <param name="Currency">Currency.</param>
/// <param name="Claimed">Claimed so far (not cancelled or failed).</param>
/// <param name="StartsAt">Start.</param>
/// <param name="ExpiresAt">Expiry.</param>
/// <param name="Methods">Allowed methods.</param>
/// <param name="AutoApproveClaims">Auto-approval.</param>
/// <param name="Archived">Archived.</param>
public sealed record PullPaymentResponse(string Id, string Name, string? Description, decimal Amount, string Currency, decimal Claimed, DateTimeOffset StartsAt,
    DateTimeOffset? ExpiresAt, IReadOnlyList<PayoutMethod> Methods, bool AutoApproveClaims, bool Archived)
{
    internal static PullPaymentResponse From(PullPayment p) => new(p.Id.Value, p.Name, p.Description, p.Amount, p.Currency, p.Claimed, p.StartsAt, p.ExpiresAt, p.Methods, p.AutoApproveClaims, p.Archived);
}

/// <summary>Claims from a pull payment.</summary>
/// <param name="Destination">BOLT 11 invoice or address.</param>
/// <param name="Amount">Amount (optional for an invoice with an amount).</param>
public sealed record ClaimBody(string Destination, decimal? Amount);

/// <summary>Approves a payout.</summary>
/// <param name="BtcPerUnit">The rate for a non-BTC payout (BTC per unit of its currency).</param>
public sealed record ApprovePayoutBody(decimal? BtcPerUnit);

/// <summary>A payout.</summary>
/// <param name="Id">Id.</param>
/// <param name="PullPaymentId">Its pull payment.</param>
/// <param name="Method">Method.</param>
/// <param name="Destination">Destination text.</param>
/// <param name="Amount">Amount.</param>
/// <param name="Currency">Currency.</param>
/// <param name="State">State.</param>
/// <param name="PayAmountMsat">Amount to pay, fixed at approval.</param>
/// <param name="Proof">Preimage or txid once completed.</param>
/// <param name="FailureReason">Why it failed.</param>
/// <param name="CreatedAt">Created.</param>
/// <param name="UpdatedAt">Updated.</param>
public sealed record PayoutResponse(string Id, string? PullPaymentId, PayoutMethod Method, string Destination, decimal Amount, string Currency, PayoutState State,
    ulong? PayAmountMsat, string? Proof, string? FailureReason, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    internal static PayoutResponse From(Payout p) => new(p.Id.Value, p.PullPaymentId?.Value, p.Method, p.Destination.Value, p.Amount, p.Currency, p.State,
        p.PayAmount?.Value, p.Proof, p.FailureReason, p.CreatedAt, p.UpdatedAt);
}

/// <summary>Pull payments, claims and payouts under <c>/api/v1/stores/{storeId}/</c>.</summary>
public static class PayoutEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    /// <param name="api">The <c>/api/v1</c> group.</param>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var pp = api.MapGroup("/stores/{storeId}/pull-payments").WithTags("payouts");
        pp.MapPost("", CreatePullPayment).WithMetadata(new ApiScope(Permission.PayoutsManage, true)).WithName("CreatePullPayment");
        pp.MapGet("", ListPullPayments).WithMetadata(new ApiScope(Permission.PayoutsView, true)).WithName("ListPullPayments");
        pp.MapGet("/{pullPaymentId}", GetPullPayment).WithMetadata(new ApiScope(Permission.PayoutsView, true)).WithName("GetPullPayment");
        pp.MapPost("/{pullPaymentId}/claims", Claim).WithMetadata(new ApiScope(Permission.PayoutsManage, true)).WithName("ClaimPullPayment");
        pp.MapPost("/{pullPaymentId}/archive", Archive).WithMetadata(new ApiScope(Permission.PayoutsManage, true)).WithName("ArchivePullPayment");
        var po = api.MapGroup("/stores/{storeId}/payouts").WithTags("payouts");
        po.MapGet("", ListPayouts).WithMetadata(new ApiScope(Permission.PayoutsView, true)).WithName("ListPayouts");
        po.MapPost("/{payoutId}/approve", Approve).WithMetadata(new ApiScope(Permission.PayoutsManage, true)).WithName("ApprovePayout");
        po.MapPost("/{payoutId}/cancel", Cancel).WithMetadata(new ApiScope(Permission.PayoutsManage, true)).WithName("CancelPayout");
    }

    private static PayoutsException NotFound(string what, string id) => new(PayoutsErrorReason.NotFound, $"No {what} {id}.");

    private static async Task<PullPayment> StorePullPaymentAsync(PayoutService payouts, string storeId, string id, CancellationToken ct)
    {
        var p = await payouts.GetPullPaymentAsync(new PullPaymentId(id), ct).ConfigureAwait(false);
        return p.StoreId == storeId ? p : throw NotFound("pull payment", id);
    }

    private static async Task<Payout> StorePayoutAsync(PayoutService payouts, string storeId, string id, CancellationToken ct)
    {
        var p = await payouts.GetPayoutAsync(new PayoutId(id), ct).ConfigureAwait(false);
        return p.StoreId == storeId ? p : throw NotFound("payout", id);
    }

    private static async Task<IResult> CreatePullPayment(HttpContext http, PayoutService payouts, string storeId, CreatePullPaymentBody body)
    {
        var p = await payouts.CreatePullPaymentAsync(new CreatePullPaymentRequest
        {
            StoreId = storeId,
            Name = body.Name,
            Description = body.Description,
            Amount = body.Amount,
            Currency = body.Currency,
            StartsAt = body.StartsAt,
            ExpiresAt = body.ExpiresAt,
            MinimumClaim = body.MinimumClaim,
            MaximumClaim = body.MaximumClaim,
            Methods = body.Methods,
            AutoApproveClaims = body.AutoApproveClaims ?? false,
        }, http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{ApiEndpoints.Prefix}/stores/{storeId}/pull-payments/{p.Id}", PullPaymentResponse.From(p));
    }

    private static async Task<IResult> ListPullPayments(HttpContext http, PayoutService payouts, string storeId)
        => Results.Ok((await payouts.ListPullPaymentsAsync(storeId, http.RequestAborted).ConfigureAwait(false)).Select(PullPaymentResponse.From).ToArray());

    private static async Task<IResult> GetPullPayment(HttpContext http, PayoutService payouts, string storeId, string pullPaymentId)
        => Results.Ok(PullPaymentResponse.From(await StorePullPaymentAsync(payouts, storeId, pullPaymentId, http.RequestAborted).ConfigureAwait(false)));

    private static async Task<IResult> Claim(HttpContext http, PayoutService payouts, string storeId, string pullPaymentId, ClaimBody body)
    {
        await StorePullPaymentAsync(payouts, storeId, pullPaymentId, http.RequestAborted).ConfigureAwait(false);
        var payout = await payouts.ClaimAsync(new PullPaymentId(pullPaymentId), body.Destination, body.Amount, http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{ApiEndpoints.Prefix}/stores/{storeId}/payouts/{payout.Id}", PayoutResponse.From(payout));
    }

    private static async Task<IResult> Archive(HttpContext http, PayoutService payouts, string storeId, string pullPaymentId)
    {
        await StorePullPaymentAsync(payouts, storeId, pullPaymentId, http.RequestAborted).ConfigureAwait(false);
        var cancelled = await payouts.ArchivePullPaymentAsync(new PullPaymentId(pullPaymentId), http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(cancelled.Select(PayoutResponse.From).ToArray());
    }

    private static async Task<IResult> ListPayouts(HttpContext http, PayoutService payouts, string storeId, PayoutState? state, string? pullPaymentId)
    {
        var list = await payouts.ListPayoutsAsync(new PayoutQuery
        {
            StoreId = storeId,
            PullPaymentId = pullPaymentId is null ? null : new PullPaymentId(pullPaymentId),
            States = state is { } s ? [s] : null,
        }, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(list.Select(PayoutResponse.From).ToArray());
    }

    private static async Task<IResult> Approve(HttpContext http, PayoutService payouts, string storeId, string payoutId, ApprovePayoutBody body)
    {
        await StorePayoutAsync(payouts, storeId, payoutId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(PayoutResponse.From(await payouts.ApproveAsync(new PayoutId(payoutId), body.BtcPerUnit, http.RequestAborted).ConfigureAwait(false)));
    }

    private static async Task<IResult> Cancel(HttpContext http, PayoutService payouts, string storeId, string payoutId)
    {
        await StorePayoutAsync(payouts, storeId, payoutId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(PayoutResponse.From(await payouts.CancelAsync(new PayoutId(payoutId), null, http.RequestAborted).ConfigureAwait(false)));
    }
}
