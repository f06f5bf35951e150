using Satflow.Lightning.Types;

namespace Satflow.Node;

/// <summary>
/// What this node charges and requires to forward an HTLC out of one of its channels (announced in that channel's
/// <c>channel_update</c>): fee = <see cref="BaseFee"/> + amount × <see cref="FeeProportionalMillionths"/> / 1,000,000.
/// </summary>
/// <param name="BaseFee">The fixed fee per forwarded HTLC.</param>
/// <param name="FeeProportionalMillionths">The proportional fee in millionths of the forwarded amount.</param>
/// <param name="CltvExpiryDelta">Blocks we require between the incoming and the outgoing HTLC expiry.</param>
/// <param name="HtlcMinimum">The smallest HTLC we forward.</param>
/// <param name="HtlcMaximum">The largest HTLC we forward (null: the channel's capacity).</param>
public sealed record ForwardingPolicy(
    MilliSatoshi BaseFee,
    uint FeeProportionalMillionths,
    ushort CltvExpiryDelta,
    MilliSatoshi HtlcMinimum,
    MilliSatoshi? HtlcMaximum = null)
{
    /// <summary>1 sat base fee, 1 ppm, 80 blocks CLTV delta, 1 msat minimum (LND's defaults).</summary>
    public static ForwardingPolicy Default { get; } = new(new MilliSatoshi(1_000), 1, 80, new MilliSatoshi(1));

    /// <summary>The fee for forwarding <paramref name="amount"/> (rounded down, BOLT 7).</summary>
    /// <param name="amount">The outgoing amount.</param>
    public MilliSatoshi FeeFor(MilliSatoshi amount) =>
        new(checked(BaseFee.Value + (ulong)((UInt128)amount.Value * FeeProportionalMillionths / 1_000_000)));
}
