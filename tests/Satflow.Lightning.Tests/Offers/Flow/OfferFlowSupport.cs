using NBitcoin.Secp256k1;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Offers.Flow;

/// <summary>Shared keys, a deterministic random source and an in-memory onion message network.</summary>
internal static class OfferFlowSupport
{
    internal static readonly ECPrivKey IssuerKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x11, 32).ToArray());
    internal static readonly ECPrivKey PayerKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x22, 32).ToArray());
    internal static readonly ECPrivKey RelayKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x33, 32).ToArray());
    internal static readonly ECPrivKey OtherKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x44, 32).ToArray());
    internal static readonly byte[] IssuerSecret = Enumerable.Repeat((byte)0xA1, 32).ToArray();
    internal static readonly byte[] PayerSecret = Enumerable.Repeat((byte)0xB2, 32).ToArray();
    internal static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    internal static NodeId IdOf(ECPrivKey key) => NodeId.FromECPubKey(key.CreatePubKey());

    internal static NodeId Issuer => IdOf(IssuerKey);

    internal static NodeId Payer => IdOf(PayerKey);

    internal static NodeId Relay => IdOf(RelayKey);

    internal static RandomFill Random(int seed)
    {
        var rng = new Random(seed);
        return buffer => rng.NextBytes(buffer);
    }

    internal static OfferIssuer NewIssuer() => new(IssuerKey, IssuerSecret, ChainHash.Bitcoin);

    internal static OfferPayer NewPayer() => new(Payer, PayerSecret, ChainHash.Bitcoin);

    internal static InvoiceSettings Settings => new() { RelativeExpirySeconds = 3600, MaxCltvExpiry = 900_000 };

    private static ECPrivKey KeyOf(NodeId id) =>
        id == Issuer ? IssuerKey : id == Payer ? PayerKey : id == Relay ? RelayKey : throw new InvalidOperationException($"no node {id}");

    /// <summary>Delivers a message hop by hop; returns the final receipt and how many nodes forwarded it.</summary>
    internal static (OfferMessageReceipt Receipt, NodeId FinalNode, int Forwards) Deliver(OutgoingOnionMessage outgoing)
    {
        var node = outgoing.FirstNode;
        var message = OnionMessage.Decode(outgoing.Message.Encode());
        var forwards = 0;
        while (true)
        {
            var receipt = OfferMessenger.Receive(message, KeyOf(node));
            if (receipt is ForwardOnionMessage forward)
            {
                forwards++;
                node = forward.NextNode!.Value;
                message = OnionMessage.Decode(forward.Message.Encode());
                continue;
            }
            return (receipt, node, forwards);
        }
    }

    /// <summary>Replaces (or removes, with a null value) records and re-signs with <paramref name="key"/>.</summary>
    internal static byte[] Resign(Bolt12Message message, ECPrivKey key, params (ulong Type, byte[]? Value)[] changes)
    {
        var records = message.Records.Records.Where(r => !Bolt12Merkle.IsSignatureType(r.Type)).ToDictionary(r => r.Type, r => r.Value);
        foreach (var (type, value) in changes)
        {
            if (value is null)
            {
                records.Remove(type);
            }
            else
            {
                records[type] = value;
            }
        }
        var stream = new TlvStream(records.Select(p => new TlvRecord(p.Key, p.Value)));
        var sig = Bolt12Merkle.Sign(message.MessageName, "signature", Bolt12Merkle.MerkleRoot(stream), key);
        return new TlvStream([.. stream.Records, new TlvRecord(Bolt12Type.Signature, sig)]).ToBytes();
    }

    internal static byte[] Tu64(ulong value) => new WireWriter().WriteTruncatedUInt(value).ToArray();

    /// <summary>A whole exchange up to the received invoice.</summary>
    internal static (PendingInvoiceRequest Pending, ReceivedInvoiceRequest AtIssuer, ReceivedInvoice AtPayer) Exchange(
        Offer offer, PayRequestOptions options, InvoiceSettings? settings = null, int seed = 1)
    {
        var random = Random(seed);
        var pending = NewPayer().CreateRequest(offer, options, Now, TimeSpan.FromMinutes(1), random);
        var (atIssuer, _, _) = Deliver(OfferMessenger.SendInvoiceRequest(pending, random));
        var request = Assert.IsType<ReceivedInvoiceRequest>(atIssuer);
        var response = NewIssuer().Respond(request.Request, request.Arrival, Now, settings ?? Settings, random);
        Assert.Null(response.Error);
        var (atPayer, finalNode, _) = Deliver(OfferMessenger.SendResponse(request.ReplyPath, response, random));
        Assert.Equal(Payer, finalNode);
        return (pending, request, Assert.IsType<ReceivedInvoice>(atPayer));
    }
}
