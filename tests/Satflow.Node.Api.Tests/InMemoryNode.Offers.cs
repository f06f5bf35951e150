using System.Security.Cryptography;
using ECPrivKey = NBitcoin.Secp256k1.ECPrivKey;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api.Tests;

/// <summary>BOLT 12 in the test double: real signed offers; paying one settles at once like a BOLT 11 payment.</summary>
public sealed partial class InMemoryNode
{
    private readonly List<OfferInfo> _offers = [];

    private OfferIssuer OfferIssuer => new(ECPrivKey.Create(_key.ToBytes()), SHA256.HashData(_key.ToBytes()), ChainHash.Regtest);

    public Task<OfferInfo> CreateOfferAsync(OfferCreateParameters parameters, CancellationToken cancellationToken)
    {
        Enter("offer-create");
        ArgumentNullException.ThrowIfNull(parameters);
        var expiresAt = parameters.Expiry is { } e ? Time.GetUtcNow() + e : (DateTimeOffset?)null;
        var offer = OfferIssuer.CreateOffer(new OfferParameters
        {
            Description = parameters.Description,
            Amount = parameters.Amount,
            AbsoluteExpiry = expiresAt,
            Issuer = parameters.Issuer,
        }, RandomNumberGenerator.Fill);
        var info = new OfferInfo(offer.OfferId.ToHex(), offer.Encode(), parameters.Description, parameters.Amount, expiresAt, null, Time.GetUtcNow(), 0, 0, MilliSatoshi.Zero);
        lock (_gate)
        {
            _offers.Insert(0, info);
        }
        return Task.FromResult(info);
    }

    public Task<IReadOnlyList<OfferInfo>> ListOffersAsync(CancellationToken cancellationToken)
    {
        Enter("offers");
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<OfferInfo>>([.. _offers]);
        }
    }

    public Task<PaymentInfo> PayOfferAsync(string offer, MilliSatoshi? amount, string? payerNote, CancellationToken cancellationToken)
    {
        Enter("pay-offer");
        Offer decoded;
        try
        {
            decoded = Offer.Decode(offer);
        }
        catch (InvoiceFormatException e)
        {
            throw new NodeOperationException(NodeErrorCode.InvalidArgument, "not a valid BOLT 12 offer: " + e.Message);
        }
        if (decoded.Offer.AbsoluteExpiry is { } expiry && (ulong)Time.GetUtcNow().ToUnixTimeSeconds() > expiry)
        {
            throw new NodeOperationException(NodeErrorCode.InvoiceExpired, "the offer expired");
        }
        var paid = decoded.Offer.Amount is { } price ? new MilliSatoshi(price) : amount ?? throw new NodeOperationException(NodeErrorCode.InvalidArgument, "the offer has no amount: pass amount_msat");
        var hash = new PaymentHash(new Bytes32(RandomNumberGenerator.GetBytes(32)));
        lock (_gate)
        {
            var payment = Settle(hash, decoded.Offer.IssuerId ?? NodeId, paid, null);
            var index = _offers.FindIndex(o => o.Offer == decoded.Encode());
            if (index >= 0 && payment.State == PaymentState.Succeeded)
            {
                var o = _offers[index];
                _offers[index] = o with { InvoicesIssued = o.InvoicesIssued + 1, InvoicesPaid = o.InvoicesPaid + 1, ReceivedMsat = o.ReceivedMsat + paid };
            }
            return Task.FromResult(payment);
        }
    }
}
