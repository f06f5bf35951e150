using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Offers.Flow;

/// <summary>An onion message ready to hand to a peer.</summary>
/// <param name="FirstNode">The peer to send it to (the introduction node of the destination path).</param>
/// <param name="Message">The <c>onion_message</c>.</param>
public sealed record OutgoingOnionMessage(NodeId FirstNode, OnionMessage Message);

/// <summary>What a node does with an onion message carrying (or forwarding) a BOLT 12 body.</summary>
public abstract record OfferMessageReceipt;

/// <summary>We are an intermediate hop: pass <paramref name="Message"/> on.</summary>
/// <param name="NextNode">The next node, when given by id.</param>
/// <param name="NextChannel">The next channel, when given by short channel id (the host resolves its peer).</param>
/// <param name="Message">The message to forward.</param>
public sealed record ForwardOnionMessage(NodeId? NextNode, ShortChannelId? NextChannel, OnionMessage Message) : OfferMessageReceipt;

/// <summary>An invoice request addressed to us.</summary>
/// <param name="Request">The request (syntax and signature already checked).</param>
/// <param name="ReplyPath">Where to send the invoice or error.</param>
/// <param name="Arrival">The path key and <c>path_id</c> it arrived with, for <see cref="OfferIssuer.CreateInvoice"/>.</param>
public sealed record ReceivedInvoiceRequest(InvoiceRequest Request, BlindedPath ReplyPath, RequestArrival Arrival) : OfferMessageReceipt;

/// <summary>An invoice addressed to us.</summary>
/// <param name="Invoice">The invoice (syntax and signature already checked).</param>
/// <param name="PathId">The <c>path_id</c> of our reply path it came over, if any.</param>
/// <param name="ReplyPath">The sender's reply path, if it gave one (for an <c>invoice_error</c>).</param>
public sealed record ReceivedInvoice(Bolt12Invoice Invoice, ReadOnlyMemory<byte>? PathId, BlindedPath? ReplyPath) : OfferMessageReceipt;

/// <summary>An <c>invoice_error</c> addressed to us.</summary>
/// <param name="Error">The error.</param>
/// <param name="PathId">The <c>path_id</c> of our reply path it came over, if any.</param>
public sealed record ReceivedInvoiceError(InvoiceError Error, ReadOnlyMemory<byte>? PathId) : OfferMessageReceipt;

/// <summary>
/// BOLT 4 onion message transport of the BOLT 12 bodies: <c>invoice_request</c> (64), <c>invoice</c> (66) and
/// <c>invoice_error</c> (68) in the final hop's <c>onionmsg_tlv</c>, with blinded reply paths.
/// </summary>
public static class OfferMessenger
{
    /// <summary>
    /// Builds a blinded reply path ending at <paramref name="self"/>, whose final hop carries
    /// <paramref name="pathId"/>; when <paramref name="introductionNode"/> is given it is the first hop.
    /// </summary>
    public static BlindedPath CreateReplyPath(NodeId self, ReadOnlyMemory<byte> pathId, NodeId? introductionNode, RandomFill random)
    {
        var nodes = new List<ECPubKey>();
        var payloads = new List<ReadOnlyMemory<byte>>();
        if (introductionNode is { } intro)
        {
            nodes.Add(intro.ToECPubKey());
            payloads.Add(new EncryptedDataTlv { NextNodeId = self }.Encode());
        }
        nodes.Add(self.ToECPubKey());
        payloads.Add(new EncryptedDataTlv { PathId = pathId }.Encode());
        return RouteBlinding.Create(OfferSecrets.RandomKey(random), nodes, payloads).Route;
    }

    /// <summary>
    /// Builds an onion message along <paramref name="destination"/> whose final payload is
    /// <paramref name="finalPayload"/> (its <c>encrypted_recipient_data</c> is filled in here).
    /// </summary>
    /// <exception cref="Bolt12FlowException">When the path's introduction node is given by channel.</exception>
    public static OutgoingOnionMessage Send(BlindedPath destination, OnionMessagePayload finalPayload, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(finalPayload);
        if (destination.FirstNodeId.NodeId is not { } first)
        {
            throw new Bolt12FlowException(Bolt12FlowError.Unsupported, "the path's introduction node is given by channel");
        }
        var hops = new List<OnionHop>(destination.Hops.Count);
        for (var i = 0; i < destination.Hops.Count; i++)
        {
            var hop = destination.Hops[i];
            var isLast = i == destination.Hops.Count - 1;
            var payload = isLast
                ? new OnionMessagePayload
                {
                    ReplyPath = finalPayload.ReplyPath,
                    EncryptedRecipientData = hop.EncryptedRecipientData.ToArray(),
                    InvoiceRequest = finalPayload.InvoiceRequest,
                    Invoice = finalPayload.Invoice,
                    InvoiceError = finalPayload.InvoiceError,
                    UnknownRecords = finalPayload.UnknownRecords,
                }
                : new OnionMessagePayload { EncryptedRecipientData = hop.EncryptedRecipientData.ToArray() };
            hops.Add(new OnionHop(hop.BlindedNodeId.ToECPubKey(), payload.Encode()));
        }
        var message = OnionMessage.Create(OfferSecrets.RandomKey(random), destination.FirstPathKey.ToECPubKey(), hops);
        return new OutgoingOnionMessage(first, message);
    }

    /// <summary>The onion message carrying a pending request to the offer's issuer, with our reply path.</summary>
    public static OutgoingOnionMessage SendInvoiceRequest(PendingInvoiceRequest pending, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(pending);
        return Send(pending.Destination, new OnionMessagePayload { InvoiceRequest = pending.Request.Records.ToBytes(), ReplyPath = pending.ReplyPath }, random);
    }

    /// <summary>The onion message carrying the issuer's answer (invoice or error) along the request's reply path.</summary>
    /// <exception cref="ArgumentException">When the response holds neither an invoice nor an error.</exception>
    public static OutgoingOnionMessage SendResponse(BlindedPath replyPath, IssuerResponse response, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(response);
        var payload = response switch
        {
            { Invoice: { } invoice } => new OnionMessagePayload { Invoice = invoice.Records.ToBytes() },
            { Error: { } error } => new OnionMessagePayload { InvoiceError = error.Encode() },
            _ => throw new ArgumentException("The response holds neither an invoice nor an error.", nameof(response)),
        };
        return Send(replyPath, payload, random);
    }

    /// <summary>
    /// Processes an onion message with our node key: a message to forward, or the BOLT 12 body addressed to us.
    /// </summary>
    /// <exception cref="WireFormatException">
    /// (or a subclass: <see cref="OnionException"/>, <see cref="Invoices.InvoiceFormatException"/>,
    /// <see cref="Bolt12FlowException"/>) when the onion, the payload or the body is invalid, or the message has no
    /// BOLT 12 body or an invoice request lacks a reply path. Onion messages are never answered with an error, so
    /// the host just drops the message.
    /// </exception>
    public static OfferMessageReceipt Receive(OnionMessage message, ECPrivKey nodeKey)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(nodeKey);
        var received = message.Receive(nodeKey);
        if (!received.IsFinal)
        {
            return new ForwardOnionMessage(received.NextNodeId, received.NextShortChannelId, received.NextMessage!);
        }
        var payload = received.Payload;
        var pathId = received.RecipientData.Data.PathId;
        if (payload.InvoiceRequest is { } requestBytes)
        {
            var request = InvoiceRequest.FromBytes(requestBytes.Span);
            var reply = payload.ReplyPath
                ?? throw new Bolt12FlowException(Bolt12FlowError.Unsupported, "invoice_request without reply_path");
            return new ReceivedInvoiceRequest(request, reply, new RequestArrival(message.PathKey, pathId));
        }
        if (payload.Invoice is { } invoiceBytes)
        {
            return new ReceivedInvoice(Bolt12Invoice.FromBytes(invoiceBytes.Span), pathId, payload.ReplyPath);
        }
        if (payload.InvoiceError is { } errorBytes)
        {
            return new ReceivedInvoiceError(InvoiceError.Decode(errorBytes.Span), pathId);
        }
        throw new Bolt12FlowException(Bolt12FlowError.Unsupported, "onion message without a BOLT 12 body");
    }
}
