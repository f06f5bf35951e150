using CsCheck;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Offers.Flow.OfferFlowSupport;

namespace Satflow.Lightning.Tests.Offers.Flow;

/// <summary>Random and mutated bytes into every handler: only <see cref="WireFormatException"/> (or a subclass) escapes.</summary>
public sealed class OfferFlowPropertyTests
{
    private static readonly Offer PricedOffer = NewIssuer().CreateOffer(new OfferParameters { Description = "coffee", Amount = new MilliSatoshi(5_000), QuantityMax = 4 }, Random(7));

    private static readonly (PendingInvoiceRequest Pending, ReceivedInvoiceRequest AtIssuer, ReceivedInvoice AtPayer) Valid =
        Exchange(PricedOffer, new PayRequestOptions { Quantity = 2 });

    private static readonly byte[] RequestMessage = OfferMessenger.SendInvoiceRequest(Valid.Pending, Random(11)).Message.Encode();

    private static void TypedOnly(Action action)
    {
        try
        {
            action();
        }
        catch (WireFormatException)
        {
        }
    }

    private static byte[] Mutate(byte[] valid, int position, byte value, int mode)
    {
        var bytes = valid.ToList();
        var at = position % (bytes.Count + 1);
        switch (mode)
        {
            case 0 when at < bytes.Count:
                bytes[at] ^= (byte)(value | 1);
                break;
            case 1:
                bytes.Insert(at, value);
                break;
            default:
                if (at < bytes.Count)
                {
                    bytes.RemoveAt(at);
                }
                break;
        }
        return [.. bytes];
    }

    [Fact]
    public void RandomBytesIntoInvoiceErrorDecoding() =>
        Gen.Byte.Array[0, 300].Sample(bytes => TypedOnly(() => InvoiceError.Decode(bytes)), iter: 2000, threads: 1);

    [Fact]
    public void RandomBytesIntoTheMessenger() =>
        Gen.Byte.Array[0, 1500].Sample(bytes =>
            TypedOnly(() => OfferMessenger.Receive(OnionMessage.Decode([.. RequestMessage.AsSpan(0, 2), .. bytes]), IssuerKey)), iter: 300, threads: 1);

    [Fact]
    public void MutatedOnionMessagesIntoTheMessenger() =>
        Gen.Select(Gen.Int[0, 1500], Gen.Byte, Gen.Int[0, 2]).Sample((position, value, mode) =>
            TypedOnly(() => OfferMessenger.Receive(OnionMessage.Decode(Mutate(RequestMessage, position, value, mode)), IssuerKey)), iter: 150, threads: 1);

    [Fact]
    public void MutatedRequestsIntoTheIssuer()
    {
        var valid = Valid.AtIssuer.Request.Records.ToBytes();
        Gen.Select(Gen.Int[0, valid.Length], Gen.Byte, Gen.Int[0, 2]).Sample((position, value, mode) =>
        {
            try
            {
                var request = InvoiceRequest.FromBytes(Mutate(valid, position, value, mode));
                var response = NewIssuer().Respond(request, Valid.AtIssuer.Arrival, Now, Settings, Random(position));
                if (response.Invoice is { } invoice)
                {
                    // Whatever survived the checks is answered with an invoice that mirrors the request exactly.
                    Assert.Equal(request.Request.PayerId, invoice.Request.PayerId);
                    Assert.Equal(request.Offer.Metadata!.Value.ToArray(), invoice.Offer.Metadata!.Value.ToArray());
                }
                else
                {
                    Assert.False(string.IsNullOrEmpty(response.Error!.Error));
                }
            }
            catch (WireFormatException)
            {
            }
        }, iter: 150, threads: 1);
    }

    [Fact]
    public void MutatedInvoicesIntoThePayer()
    {
        var valid = Valid.AtPayer.Invoice.Records.ToBytes();
        Gen.Select(Gen.Int[0, valid.Length], Gen.Byte, Gen.Int[0, 2]).Sample((position, value, mode) =>
            TypedOnly(() => NewPayer().ValidateInvoice(Valid.Pending, Bolt12Invoice.FromBytes(Mutate(valid, position, value, mode)), Valid.AtPayer.PathId, Now)),
            iter: 150, threads: 1);
    }

    [Fact]
    public void RandomInvoicesForThePayerAreRejectedWithTypedErrors() =>
        Gen.Select(Gen.Byte.Array[0, 200], Gen.Int[0, 3]).Sample((bytes, which) => TypedOnly(() =>
        {
            var received = OfferMessenger.Receive(
                OfferMessenger.Send(Valid.Pending.ReplyPath, which switch
                {
                    0 => new OnionMessagePayload { Invoice = bytes },
                    1 => new OnionMessagePayload { InvoiceError = bytes },
                    2 => new OnionMessagePayload { InvoiceRequest = bytes },
                    _ => new OnionMessagePayload(),
                }, Random(bytes.Length)).Message, PayerKey);
            Assert.True(received is ReceivedInvoice or ReceivedInvoiceError or ReceivedInvoiceRequest);
        }), iter: 100, threads: 1);
}
