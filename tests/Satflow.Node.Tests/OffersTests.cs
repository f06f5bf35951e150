using CsCheck;
using NBitcoin;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using Satflow.Node.Offers;
using Satflow.Node.Persistence;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class OffersTests
{
    private static readonly MilliSatoshi Price = MilliSatoshi.FromSatoshis(50_000);

    /// <summary>Starts a payment and settles the network until it is offered, then until it completes.</summary>
    private static async Task<OutgoingPaymentRecord> PayOfferAndSettleAsync(LightningHarness h, HarnessNode payer, string offer, MilliSatoshi? amount = null, string? note = null)
    {
        var pay = payer.Node.PayOfferAsync(offer, amount, note);
        // The invoice request, the invoice and (once the payer got it) the HTLC travel as the network settles.
        for (var i = 0; i < 50 && !pay.IsCompleted; i++)
        {
            await h.SettleAsync();
            await Task.WhenAny(pay, Task.Delay(20));
        }
        var pending = await pay;
        await h.SettleAsync();
        return (await payer.Node.LookupPaymentAsync(pending.PaymentHash))!;
    }

    [Fact]
    public async Task A_direct_peer_pays_an_offer_and_the_issuer_settles_its_invoice()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));

        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "coffee", Amount = Price });
        Assert.StartsWith("lno1", offer.Offer, StringComparison.Ordinal);
        Assert.Equal(offer.OfferId, Assert.Single(await a.Node.ListOffersAsync()).OfferId);

        var record = await PayOfferAndSettleAsync(h, b, offer.Offer, note: "thanks");

        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.Equal(Price, record.Amount);
        Assert.Equal(record.PaymentHash, record.Preimage!.Value.Hash);
        var issued = Assert.Single(await a.Node.ListOfferInvoicesAsync());
        Assert.Equal(OfferInvoiceState.Settled, issued.State);
        Assert.Equal(offer.OfferId, issued.OfferId);
        Assert.Equal(record.PaymentHash, issued.PaymentHash);
        Assert.Equal(Price, issued.AmountReceived);
        Assert.Equal("thanks", issued.PayerNote);
        Assert.True(a.Node.OnionMessageStats.Received >= 1);
        Assert.True(b.Node.OnionMessageStats.Received >= 1);

        // The offer is reusable: a second payment gets a fresh invoice (another payment hash).
        var second = await PayOfferAndSettleAsync(h, b, offer.Offer);
        Assert.Equal(OutgoingPaymentState.Succeeded, second.State);
        Assert.NotEqual(record.PaymentHash, second.PaymentHash);
        Assert.Equal(2, (await a.Node.ListOfferInvoicesAsync()).Count(i => i.State == OfferInvoiceState.Settled));
    }

    [Fact]
    public async Task An_offer_is_paid_over_loopback_tcp_through_the_real_peer_transport()
    {
        // onion_message (513) must survive the real codec and peer connection (BOLT 8, init with option_onion_messages).
        var options = new HarnessOptions { UseTcp = true, Node = new NodeOptions { AutoFlush = true, MinimumDepth = 1 } };
        await using var h = await LightningHarness.CreateAsync(2, options);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(500_000));
        Assert.True(b.Node.ListPeers().Single(p => p.NodeId == a.NodeId).Features.IsSet(Satflow.Lightning.Features.FeatureRegistry.OnionMessages.OddBit));
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "over tcp", Amount = Price, Blinded = true });

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var pending = await b.Node.PayOfferAsync(offer.Offer, cancellationToken: timeout.Token);
        var record = await b.Node.WaitForPaymentAsync(pending.PaymentHash, timeout.Token);

        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        await LightningHarness.WaitUntilAsync(() => a.Node.ListOfferInvoicesAsync().Result.Any(i => i.State == OfferInvoiceState.Settled), "a settled its invoice");
    }

    [Fact]
    public async Task Offers_survive_a_restart_and_are_still_paid()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "any amount" });

        await h.CrashAsync(a);
        await h.RestartAsync(a);
        await h.ConnectAsync(b, a);

        Assert.Equal(offer.Offer, Assert.Single(await a.Node.ListOffersAsync()).Offer);
        var record = await PayOfferAndSettleAsync(h, b, offer.Offer, MilliSatoshi.FromSatoshis(1234));
        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.Equal(MilliSatoshi.FromSatoshis(1234), Assert.Single(await a.Node.ListOfferInvoicesAsync()).AmountReceived);
    }

    [Fact]
    public async Task A_blinded_offer_names_the_peer_as_introduction_node_and_is_paid_by_it()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));

        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "blinded", Amount = Price, Blinded = true });
        Assert.Equal(b.NodeId, offer.IntroductionNode);
        var decoded = Offer.Decode(offer.Offer);
        Assert.Null(decoded.Offer.IssuerId);
        Assert.Equal(b.NodeId, Assert.Single(decoded.Offer.Paths!).FirstNodeId.NodeId);

        // The payer is the introduction node of both the offer path and the invoice's payment path.
        var record = await PayOfferAndSettleAsync(h, b, offer.Offer);
        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.Equal(OfferInvoiceState.Settled, Assert.Single(await a.Node.ListOfferInvoicesAsync()).State);
    }

    [Fact]
    public async Task A_node_that_is_not_a_peer_pays_through_the_blinded_path_with_the_peer_as_introduction_node()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        var bToA = await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var cToB = await h.OpenChannelAsync(c, b, Money.Satoshis(1_000_000));
        Assert.False(h.Network.AreConnected(c.NodeId, a.NodeId));

        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "over two hops", Amount = Price, Blinded = true });
        Assert.Equal(b.NodeId, offer.IntroductionNode);

        var record = await PayOfferAndSettleAsync(h, c, offer.Offer, note: "from afar");

        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.Equal(Price, record.Amount);
        var policy = a.Node.Options.DefaultForwardingPolicy;
        Assert.Equal(policy.BaseFee + new MilliSatoshi((Price.Value * policy.FeeProportionalMillionths + 999_999) / 1_000_000), record.Fee);
        var issued = Assert.Single(await a.Node.ListOfferInvoicesAsync());
        Assert.Equal(OfferInvoiceState.Settled, issued.State);
        Assert.Equal("from afar", issued.PayerNote);
        Assert.Equal(1, b.Node.OnionMessageStats.BlindedForwards);
        Assert.True(b.Node.OnionMessageStats.Forwarded >= 2); // the request to A and the invoice back to C
        // Balances moved along the line: A received the price, B kept its fee.
        Assert.Equal(Price, a.Node.GetChannel(bToA)!.LocalBalance);
        Assert.Equal(Price + record.Fee!.Value, b.Node.GetChannel(cToB)!.LocalBalance);
        var forward = Assert.Single(await b.Node.ListForwardsAsync());
        Assert.Equal(ForwardStatus.Settled, forward.Status);
    }

    [Fact]
    public async Task A_payer_two_hops_from_the_introduction_node_routes_to_it_through_the_graph()
    {
        // D → C → B → A: A's offer has B (its peer) as introduction node; D has a channel only with C. D reaches B for
        // the onion messages (a direct connection, no channel) and routes the payment D → C → B through its graph.
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b, c, d) = (h[0], h[1], h[2], h[3]);
        var bToA = await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var cToB = await h.OpenChannelAsync(c, b, Money.Satoshis(1_000_000));
        var dToC = await h.OpenChannelAsync(d, c, Money.Satoshis(1_000_000));
        var scid = c.Node.GetChannel(cToB)!.ShortChannelId!.Value;
        var cPolicy = c.Node.GetChannelPolicy(cToB);
        if (!d.Node.Graph.TryGetChannel(scid, out var known) || known.Policy1 is null && known.Policy2 is null)
        {
            // Not learned through gossip yet (it needs 6 confirmations): D's graph gets it as announced.
            d.Node.Graph.AddChannel(scid, c.NodeId, b.NodeId, MilliSatoshi.FromSatoshis(1_000_000));
            Assert.True(d.Node.Graph.UpdatePolicy(scid, c.NodeId, new Lightning.Routing.ChannelPolicy((uint)cPolicy.BaseFee.Value, cPolicy.FeeProportionalMillionths, cPolicy.CltvExpiryDelta, cPolicy.HtlcMinimum, MilliSatoshi.Zero)));
        }
        await h.ConnectAsync(d, b);

        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "three hops away", Amount = Price, Blinded = true });
        Assert.Equal(b.NodeId, offer.IntroductionNode);
        var record = await PayOfferAndSettleAsync(h, d, offer.Offer);

        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.Equal(OfferInvoiceState.Settled, Assert.Single(await a.Node.ListOfferInvoicesAsync()).State);
        Assert.Equal(Price, a.Node.GetChannel(bToA)!.LocalBalance);
        // C forwarded in the clear and kept exactly its policy fee; B forwarded inside the blinded path.
        var atB = Price + new MilliSatoshi(a.Node.Options.DefaultForwardingPolicy.BaseFee.Value + (Price.Value * a.Node.Options.DefaultForwardingPolicy.FeeProportionalMillionths + 999_999) / 1_000_000);
        Assert.Equal(atB, b.Node.GetChannel(cToB)!.LocalBalance);
        Assert.Equal(atB + cPolicy.FeeFor(atB), c.Node.GetChannel(dToC)!.LocalBalance);
        Assert.Equal(atB + cPolicy.FeeFor(atB) - Price, record.Fee);
        Assert.Equal(ForwardStatus.Settled, Assert.Single(await c.Node.ListForwardsAsync()).Status);
        Assert.Equal(1, b.Node.OnionMessageStats.BlindedForwards);
    }

    [Fact]
    public async Task An_expired_offer_is_refused_before_anything_is_sent()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "flash sale", Amount = Price, AbsoluteExpiry = h.Time.GetUtcNow().AddHours(1) });
        h.Time.Advance(TimeSpan.FromHours(2));

        var refused = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => b.Node.PayOfferAsync(offer.Offer));
        Assert.Equal(NodeErrorReason.InvoiceExpired, refused.Reason);
        Assert.Contains("expired", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await b.Node.ListPaymentsAsync());
        Assert.Equal(0, b.Node.OnionMessageStats.Sent);

        var past = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => a.Node.CreateOfferAsync(new OfferParameters { Description = "late", AbsoluteExpiry = h.Time.GetUtcNow().AddSeconds(-1) }));
        Assert.Equal(NodeErrorReason.InvalidArgument, past.Reason);
    }

    [Fact]
    public async Task A_wrong_amount_is_refused_with_a_clear_error()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var priced = await a.Node.CreateOfferAsync(new OfferParameters { Description = "priced", Amount = Price });
        var open = await a.Node.CreateOfferAsync(new OfferParameters { Description = "tip jar" });

        var below = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => b.Node.PayOfferAsync(priced.Offer, MilliSatoshi.FromSatoshis(49_999)));
        Assert.Equal(NodeErrorReason.InvalidArgument, below.Reason);
        Assert.Contains("below the offer's price", below.Message, StringComparison.Ordinal);

        var none = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => b.Node.PayOfferAsync(open.Offer));
        Assert.Contains("has no amount", none.Message, StringComparison.Ordinal);

        var garbage = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => b.Node.PayOfferAsync("lno1notanoffer"));
        Assert.Equal(NodeErrorReason.InvalidArgument, garbage.Reason);
        Assert.Empty(await b.Node.ListPaymentsAsync());
        Assert.Empty(await a.Node.ListOfferInvoicesAsync());
    }

    [Fact]
    public async Task An_issuer_without_a_usable_channel_answers_with_an_invoice_error()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.ConnectAsync(a, b);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "no channel yet", Amount = Price });

        var pay = b.Node.PayOfferAsync(offer.Offer);
        await h.SettleAsync();
        var refused = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => pay);
        Assert.Equal(NodeErrorReason.Rejected, refused.Reason);
        Assert.Contains("no usable channel", refused.Message, StringComparison.Ordinal);

        var blinded = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => a.Node.CreateOfferAsync(new OfferParameters { Description = "b", Blinded = true }));
        Assert.Equal(NodeErrorReason.ChannelNotReady, blinded.Reason);
    }

    [Fact]
    public async Task An_unanswered_invoice_request_times_out_on_the_node_clock()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "lost", Amount = Price });

        var pay = b.Node.PayOfferAsync(offer.Offer);
        // The request is queued but never delivered: the link drops it.
        await h.Network.DisconnectAsync(a.NodeId, b.NodeId);
        await Task.Delay(50);
        h.Time.Advance(LightningNode.OfferInvoiceTimeout + TimeSpan.FromSeconds(1));
        var refused = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => pay);
        Assert.Equal(NodeErrorReason.NoRoute, refused.Reason);
        Assert.Contains("No invoice", refused.Message, StringComparison.Ordinal);

        var offline = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => b.Node.PayOfferAsync(offer.Offer));
        Assert.Equal(NodeErrorReason.PeerNotConnected, offline.Reason);
    }

    [Fact]
    public async Task Garbage_onion_messages_never_crash_the_node_and_a_flood_is_rate_limited()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(b, a, Money.Satoshis(1_000_000));
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "robust", Amount = Price });

        // A real invoice request onion message, as B would send it, to mutate.
        var payer = new OfferPayer(b.NodeId, new byte[32], ChainHash.Regtest);
        var pending = payer.CreateRequest(Offer.Decode(offer.Offer), new PayRequestOptions(), h.Time.GetUtcNow(), TimeSpan.FromSeconds(30), System.Security.Cryptography.RandomNumberGenerator.Fill);
        var valid = new OnionMessageWire(OfferMessenger.SendInvoiceRequest(pending, System.Security.Cryptography.RandomNumberGenerator.Fill).Message).Encode();

        var decoded = 0;
        async Task FeedAsync(byte[] bytes)
        {
            LightningMessage message;
            try
            {
                message = LightningMessage.Decode(bytes);
            }
            catch (WireFormatException)
            {
                return; // the transport drops what does not decode
            }
            decoded++;
            await a.Node.OnMessageAsync(b.NodeId, message, CancellationToken.None);
            h.Time.Advance(TimeSpan.FromMilliseconds(10)); // stay under the rate limit
        }

        var mutations = Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte[1, 255]);
        var messages = new List<byte[]>();
        mutations.Sample((index, xor) =>
        {
            var copy = (byte[])valid.Clone();
            copy[index] ^= xor;
            messages.Add(copy);
        }, iter: 60);
        Gen.Byte.Array[0, 1500].Sample(bytes =>
        {
            var framed = new byte[bytes.Length + 2];
            framed[0] = 0x02; // type 513
            framed[1] = 0x01;
            bytes.CopyTo(framed, 2);
            messages.Add(framed);
        }, iter: 60);
        foreach (var bytes in messages)
        {
            await FeedAsync(bytes);
        }
        Assert.True(decoded > 0);
        await h.SettleAsync();

        // A flood from one peer: past the per-window budget the rest is dropped unread.
        var flood = LightningMessage.Decode(valid);
        var before = a.Node.OnionMessageStats.RateLimited;
        for (var i = 0; i < LightningNode.OnionMessagesPerWindow + 25; i++)
        {
            await a.Node.OnMessageAsync(b.NodeId, new OnionMessageWire(new OnionMessage(((OnionMessageWire)flood).Message.PathKey, ((OnionMessageWire)flood).Message.Packet)), CancellationToken.None);
        }
        Assert.True(a.Node.OnionMessageStats.RateLimited - before >= 25);
        await h.SettleAsync();
        h.Time.Advance(TimeSpan.FromSeconds(2));

        // The node still works: the offer is paid.
        var record = await PayOfferAndSettleAsync(h, b, offer.Offer);
        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
    }

    [Fact]
    public void Onion_message_wire_round_trips_and_random_bytes_only_raise_the_typed_error()
    {
        var key = ECPrivKey.Create(Enumerable.Repeat((byte)7, 32).ToArray());
        var path = OfferMessenger.CreateReplyPath(NodeId.FromECPubKey(key.CreatePubKey()), new byte[] { 1, 2, 3 }, null, System.Security.Cryptography.RandomNumberGenerator.Fill);
        var outgoing = OfferMessenger.Send(path, new OnionMessagePayload(), System.Security.Cryptography.RandomNumberGenerator.Fill);
        var encoded = new OnionMessageWire(outgoing.Message).Encode();
        Assert.Equal(outgoing.Message.Encode(), encoded);
        var back = Assert.IsType<OnionMessageWire>(LightningMessage.Decode(encoded));
        Assert.Equal(encoded, back.Encode());
        Assert.Equal(MessageTypes.OnionMessage, back.Type);

        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            var framed = new byte[bytes.Length + 2];
            framed[0] = 0x02;
            framed[1] = 0x01;
            bytes.CopyTo(framed, 2);
            try
            {
                LightningMessage.Decode(framed);
            }
            catch (WireFormatException)
            {
            }
        }, iter: 500);
    }

    [Fact]
    public void A_received_htlc_record_keeps_its_path_key()
    {
        var pathKey = new Key(Enumerable.Repeat((byte)3, 32).ToArray()).PubKey;
        var record = new ReceivedHtlcRecord(7, new MilliSatoshi(1000), new PaymentHash(new Bytes32(new byte[32])), 500, new byte[] { 1, 2, 3 }) { PathKey = pathKey };
        var decoded = ReceivedHtlcRecord.Decode(record.Encode());
        Assert.Equal(pathKey, decoded.PathKey);
        Assert.Equal(new byte[] { 1, 2, 3 }, decoded.Onion.ToArray());
        Assert.Equal(record.HtlcId, decoded.HtlcId);
        var plain = ReceivedHtlcRecord.Decode((record with { PathKey = null }).Encode());
        Assert.Null(plain.PathKey);
        Assert.Equal(ReceivedHtlcRecord.CurrentVersion, (record with { PathKey = null }).Encode()[0]);
    }
}
