using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Node.Payments;

/// <summary>
/// One HTLC to send along a route (one part of a payment). Hop <c>CltvExpiryDelta</c>s are relative to the current block
/// height; every hop's expiry is padded by <see cref="LightningNode.FinalCltvPadding"/>.
/// </summary>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="Route">The route (its first hop must be one of our channels or peers).</param>
/// <param name="PaymentSecret">The invoice's payment secret (null for keysend).</param>
/// <param name="TotalAmount">The whole payment's amount (<c>total_msat</c> of <c>payment_data</c>; the route's recipient amount for a single part).</param>
/// <param name="KeysendPreimage">The keysend preimage (TLV 5482373484), or null for an invoice payment.</param>
/// <param name="PartId">The caller's id of this part (stored with the HTLC and returned in its <see cref="PartResult"/>).</param>
/// <param name="PaymentMetadata">The invoice's payment metadata, echoed to the recipient.</param>
internal sealed record PartRequest(PaymentHash PaymentHash, Route Route, PaymentSecret? PaymentSecret, MilliSatoshi TotalAmount, PaymentPreimage? KeysendPreimage, ulong PartId, ReadOnlyMemory<byte>? PaymentMetadata = null);

/// <summary>Why a part failed.</summary>
/// <param name="FailingHopIndex">Index into <c>Route.Hops</c> of the node that failed (the recipient is <c>Hops.Count - 1</c>), or null when unattributable.</param>
/// <param name="Message">The decrypted BOLT 4 failure (its <see cref="FailureMessage.ChannelUpdate"/> carries a <c>channel_update</c> when the code has the UPDATE flag), or null.</param>
/// <param name="IsPermanent">True when the failure code has the PERM flag.</param>
/// <param name="Description">A readable explanation.</param>
internal sealed record PartFailure(int? FailingHopIndex, FailureMessage? Message, bool IsPermanent, string Description);

/// <summary>How a part ended: fulfilled (<see cref="Preimage"/>) or failed (<see cref="Failure"/>).</summary>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="PartId">The part id of its <see cref="PartRequest"/> (0 for HTLCs written before parts existed).</param>
/// <param name="Route">The route it took (a one-hop route to the channel's peer for HTLCs written before routes were stored).</param>
/// <param name="Preimage">The preimage when fulfilled.</param>
/// <param name="Failure">The failure when failed.</param>
internal sealed record PartResult(PaymentHash PaymentHash, ulong PartId, Route Route, PaymentPreimage? Preimage, PartFailure? Failure);
