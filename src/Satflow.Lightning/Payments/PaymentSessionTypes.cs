using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Payments;

/// <summary>What a payment session must pay and within which limits.</summary>
/// <param name="Payee">The recipient.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="PaymentSecret">The invoice's payment secret (required for multi-part payments).</param>
/// <param name="Amount">What the recipient must receive in total.</param>
/// <param name="FinalCltvExpiryDelta">The recipient's <c>min_final_cltv_expiry_delta</c> (plus any safety padding).</param>
/// <param name="Deadline">No new part is sent after this time; the payment fails once nothing is in flight any more.</param>
/// <param name="MaxFee">Largest total fee over all parts (null: no limit).</param>
/// <param name="MaxAttempts">Largest number of parts sent over the whole payment (first tries and retries).</param>
/// <param name="PayeeSupportsMpp">
/// True when the recipient signals <c>basic_mpp</c> (BOLT 11 feature bit 16/17) and a payment secret is known, or, when
/// paying <paramref name="BlindedPaths"/>, when the BOLT 12 invoice's <c>invoice_features</c> has bit 16/17 (the blinded
/// path's <c>path_id</c> takes the place of the payment secret): parts may then go over several paths and routes.
/// </param>
/// <param name="MaxParts">Largest number of parts in flight at once.</param>
/// <param name="RouteHints">BOLT 11 <c>r</c> route hints toward the recipient.</param>
/// <param name="BlindedPaths">
/// Blinded paths (BOLT 12); when set every route ends at an introduction node (<see cref="Route.BlindedPathIndex"/>
/// names the path, an index in this list), a failure reported by that node is the path's failure (the path is
/// penalised, the others remain), and the payment fails with <see cref="PaymentFailureKind.BlindedPathsFailed"/>
/// once none is left.
/// </param>
/// <param name="MaxCltvExpiryDelta">Largest total CLTV delta of a route.</param>
public sealed record PaymentParameters(
    NodeId Payee,
    PaymentHash PaymentHash,
    PaymentSecret? PaymentSecret,
    MilliSatoshi Amount,
    int FinalCltvExpiryDelta,
    DateTimeOffset Deadline,
    MilliSatoshi? MaxFee = null,
    int MaxAttempts = 25,
    bool PayeeSupportsMpp = false,
    int MaxParts = 16,
    IReadOnlyList<IReadOnlyList<RouteHintHop>>? RouteHints = null,
    IReadOnlyList<BlindedPathCandidate>? BlindedPaths = null,
    int MaxCltvExpiryDelta = 2016);

/// <summary>One HTLC the session wants sent.</summary>
/// <param name="PartId">The session's id of the part (unique within the payment).</param>
/// <param name="Route">The route; its <see cref="Route.RecipientAmount"/> is this part's share of the total.</param>
public sealed record PaymentPart(int PartId, Route Route);

/// <summary>Why a part failed, as far as the payer could tell.</summary>
/// <param name="ErringNodeIndex">
/// Index in <see cref="Route.Hops"/> of the node that returned the failure (<c>route.Hops[i].Node</c>); -1 when our own
/// node or our own channel refused the part before it left; null when the failure could not be attributed (unreadable).
/// </param>
/// <param name="Message">The decrypted BOLT 4 failure message, when there is one.</param>
/// <param name="Description">A human readable description.</param>
public sealed record PaymentPartFailure(int? ErringNodeIndex, FailureMessage? Message, string Description)
{
    /// <summary>Our own channel could not take the part (balance, HTLC limits, channel offline).</summary>
    public static PaymentPartFailure Local(string description) => new(-1, null, description);
}

/// <summary>Where a payment session stands.</summary>
public enum PaymentSessionState
{
    /// <summary>Parts are in flight or more are to be sent.</summary>
    Pending,

    /// <summary>A part was settled: the preimage is known (parts still in flight settle later).</summary>
    Succeeded,

    /// <summary>The payment failed for good; see <see cref="PaymentSession.Failure"/>.</summary>
    Failed,
}

/// <summary>Why a payment failed.</summary>
public enum PaymentFailureKind
{
    /// <summary>The request was invalid (amount, limits).</summary>
    InvalidRequest,

    /// <summary>Our node has no usable channel.</summary>
    NoUsableChannel,

    /// <summary>The recipient is not in the graph and no route hint leads to it.</summary>
    RecipientUnknown,

    /// <summary>The recipient's channels are disabled or it did not answer.</summary>
    RecipientOffline,

    /// <summary>No path connects us with the recipient.</summary>
    NoRoute,

    /// <summary>Paths exist but none has enough liquidity for the (remaining) amount.</summary>
    NoRouteWithEnoughLiquidity,

    /// <summary>Every route costs more than the fee limit.</summary>
    ExceedsMaxFee,

    /// <summary>Every route locks funds longer than the CLTV limit.</summary>
    ExceedsMaxCltv,

    /// <summary>The recipient refused the payment (unknown hash, wrong secret or amount, expired invoice).</summary>
    RecipientRejected,

    /// <summary>The deadline passed before the payment completed.</summary>
    DeadlinePassed,

    /// <summary>The attempt limit was reached.</summary>
    AttemptsExhausted,

    /// <summary>Every blinded path of the (BOLT 12) invoice failed or was left out.</summary>
    BlindedPathsFailed,
}

/// <summary>A typed payment failure with a message for the user.</summary>
/// <param name="Kind">The category.</param>
/// <param name="Message">A clear explanation.</param>
public sealed record PaymentFailure(PaymentFailureKind Kind, string Message);

/// <summary>The status of one part.</summary>
public enum PaymentPartStatus
{
    /// <summary>Sent, not yet resolved.</summary>
    InFlight,

    /// <summary>Settled by the recipient.</summary>
    Succeeded,

    /// <summary>Failed (its amount may have been retried by other parts).</summary>
    Failed,
}

/// <summary>A part as recorded by the session.</summary>
/// <param name="PartId">The part id.</param>
/// <param name="Route">Its route.</param>
/// <param name="Status">Its status.</param>
public sealed record PaymentPartRecord(int PartId, Route Route, PaymentPartStatus Status);
