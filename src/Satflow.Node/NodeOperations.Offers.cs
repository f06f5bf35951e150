using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Satflow.Node.Offers;

namespace Satflow.Node;

public sealed partial class NodeOperations
{
    /// <inheritdoc />
    public async Task<OfferInfo> CreateOfferAsync(OfferCreateParameters parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var offer = new OfferParameters
        {
            Description = parameters.Description,
            Amount = parameters.Amount,
            AbsoluteExpiry = parameters.Expiry is { } expiry ? _time.GetUtcNow() + expiry : null,
            Issuer = parameters.Issuer,
            Blinded = parameters.Blinded ?? true,
        };
        OfferRecord record;
        try
        {
            record = await _node.CreateOfferAsync(offer, cancellationToken).ConfigureAwait(false);
        }
        catch (NodeOperationRefusedException e) when (parameters.Blinded is null && e.Reason == NodeErrorReason.ChannelNotReady)
        {
            // Default: blinded when a usable channel exists; otherwise an offer naming our node id (reachable by peers).
            record = await Call(() => _node.CreateOfferAsync(offer with { Blinded = false }, cancellationToken)).ConfigureAwait(false);
        }
        catch (NodeOperationRefusedException e)
        {
            throw new NodeOperationException(Map(e.Reason), e.Message, e);
        }
        return ToApi(record, []);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<OfferInfo>> ListOffersAsync(CancellationToken cancellationToken)
    {
        var invoices = (await _node.ListOfferInvoicesAsync(cancellationToken).ConfigureAwait(false)).ToLookup(i => i.OfferId);
        var offers = await _node.ListOffersAsync(cancellationToken).ConfigureAwait(false);
        return [.. offers.OrderByDescending(o => o.CreatedAt).Select(o => ToApi(o, invoices[o.OfferId]))];
    }

    /// <inheritdoc />
    public async Task<PaymentInfo> PayOfferAsync(string offer, MilliSatoshi? amount, string? payerNote, CancellationToken cancellationToken)
    {
        var record = await Call(() => _node.PayOfferAsync(offer, amount, payerNote, cancellationToken)).ConfigureAwait(false);
        return ToApi(await WaitAsync(record, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async Task<PaymentInfo> PayOfferAsync(string offer, MilliSatoshi? amount, string? payerNote, PaymentLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var options = new PaymentOptions(limits.MaxFee, limits.Timeout);
        var record = await Call(() => _node.PayOfferAsync(offer, amount, payerNote, options, cancellationToken)).ConfigureAwait(false);
        return ToApi(await WaitAsync(record, cancellationToken).ConfigureAwait(false));
    }

    private static OfferInfo ToApi(OfferRecord o, IEnumerable<OfferInvoiceRecord> invoices)
    {
        var list = invoices.ToList();
        var paid = list.Where(i => i.State == OfferInvoiceState.Settled).ToList();
        var received = new MilliSatoshi(paid.Aggregate(0UL, (sum, i) => checked(sum + (i.AmountReceived ?? i.Amount).Value)));
        return new OfferInfo(o.OfferId.ToHex(), o.Offer, o.Description, o.Amount, o.AbsoluteExpiry, o.IntroductionNode, o.CreatedAt, list.Count, paid.Count, received);
    }
}
