using System.Text.Json;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary>
/// <c>bolts/bolt04-errors-trace.json</c>: the spec's "Returning Errors" trace (failure creation, every forwarding
/// step with attribution data) and "Returning success" attribution data.
/// </summary>
public sealed class ErrorsTraceVectorTests
{
    private const string File = "bolts/bolt04-errors-trace.json";

    private static JsonElement Errors => Load(File).GetProperty("returning_errors");

    private static JsonElement Parameters => Errors.GetProperty("parameters");

    private static JsonElement Creating => Errors.GetProperty("creating_error_message");

    private static JsonElement Step(int i) => Errors.GetProperty("forwarding")[i];

    public static TheoryData<int> Steps => Range(5);

    private static IReadOnlyList<Bytes32> Secrets()
    {
        var hops = Parameters.GetProperty("hops").EnumerateArray()
            .Select(h => new OnionHop(Pub(h.Str("pubkey")), new byte[] { 2, 0 }))
            .ToList();
        return OnionPacket.Create(Priv(Parameters.Str("sessionkey")), hops, []).SharedSecrets;
    }

    /// <summary>
    /// The hold time node <paramref name="node"/> reports. The trace lists <c>htlc_hold_time[k]</c> beside
    /// <c>pubkey[k]</c>, but its attribution data was produced with the k-th node on the return path reporting it:
    /// the erring node 4 reports 1, node 0 reports 5 (the bytes decode that way), so the origin reads 5, 4, 3, 2, 1.
    /// </summary>
    private static uint HoldTime(int node) => Parameters.GetProperty("hops")[4 - node].GetProperty("htlc_hold_time").GetUInt32();

    private static FailureMessage VectorFailure()
    {
        var tlv = Parameters.GetProperty("failure_tlv");
        var value = Enumerable.Repeat((byte)tlv.GetProperty("value_byte").GetInt32(), tlv.GetProperty("value_length").GetInt32()).ToArray();
        Assert.Equal("incorrect_or_unknown_payment_details", Parameters.Str("failure_message"));
        return FailureMessage.IncorrectOrUnknownPaymentDetails(
            new MilliSatoshi(Parameters.GetProperty("htlc_msat").GetUInt64()),
            Parameters.GetProperty("height").GetUInt32(),
            new TlvStream([new TlvRecord(tlv.GetProperty("type").GetUInt64(), value)]));
    }

    /// <summary>Runs the return path from the erring node up to and including forwarding step <paramref name="step"/>.</summary>
    private static (byte[] Packet, byte[] Attribution) ForwardThrough(int step)
    {
        var secrets = Secrets();
        var source = Parameters.GetProperty("failure_source_node").GetInt32();
        var packet = FailurePacket.Create(secrets[source], VectorFailure(), 1024);
        byte[] attribution = [];
        for (var s = 0; s <= step; s++)
        {
            var node = source - s;
            attribution = AttributionData.Create(attribution, packet, HoldTime(node), secrets[node]);
            packet = FailurePacket.Wrap(packet, secrets[node]);
        }
        return (packet, attribution);
    }

    [Fact]
    public void Creating_EncodedFailureMessage()
    {
        var encoded = VectorFailure().Encode();
        // The trace's encoded_failure_message is the message followed by its pad_len and padding (to 1024 bytes).
        var expected = Creating.HexOf("encoded_failure_message");
        Assert.Equal(ToHex(expected.AsSpan(0, encoded.Length)), ToHex(encoded));
        Assert.Equal(ToHex(expected), ToHex(Creating.HexOf("payload").AsSpan(2)));
        var decoded = FailureMessage.Decode(encoded);
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, decoded.Code);
        Assert.Equal(new MilliSatoshi(100), decoded.HtlcAmount);
        Assert.Equal(800000u, decoded.Height);
        Assert.Equal(300, decoded.Tlvs.Get(34001)!.Value.Length);
    }

    [Fact]
    public void Creating_SharedSecretUmKeyPayloadAndRawPacket()
    {
        var secret = Secrets()[4];
        Assert.Equal(Creating.B32("shared_secret"), secret);
        Assert.Equal(Creating.B32("um_key"), SphinxCrypto.GenerateKey(SphinxCrypto.Um, secret));
        var raw = FailurePacket.Create(secret, VectorFailure(), 1024);
        Assert.Equal(Creating.Str("payload"), ToHex(raw.AsSpan(32)));
        Assert.Equal(Creating.Str("raw_error_packet"), ToHex(raw));
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, FailurePacket.TryOpen(raw, secret)!.Code);
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void Forwarding_SharedSecretAmmagAndStream(int step)
    {
        var node = Step(step).GetProperty("node").GetInt32();
        var secret = Secrets()[node];
        Assert.Equal(Step(step).B32("shared_secret"), secret);
        var ammag = SphinxCrypto.GenerateKey(SphinxCrypto.Ammag, secret);
        Assert.Equal(Step(step).B32("ammag_key"), ammag);
        var stream = Step(step).HexOf("stream");
        Assert.Equal(ToHex(stream), ToHex(ChaCha20.KeyStream(ammag.ToArray(), stream.Length)));
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void Forwarding_ErrorPacket(int step)
    {
        var (packet, _) = ForwardThrough(step);
        Assert.Equal(Step(step).Str("error_packet"), ToHex(packet));
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void Forwarding_AttributionData(int step)
    {
        var (_, attribution) = ForwardThrough(step);
        Assert.Equal(AttributionData.Length, attribution.Length);
        Assert.Equal(Step(step).Str("attribution_data"), ToHex(attribution));
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void Forwarding_StepFromThePreviousVectorValues(int step)
    {
        // Each hop transforms exactly the bytes the vector gives for the hop before it.
        var node = Step(step).GetProperty("node").GetInt32();
        var secret = Step(step).B32("shared_secret");
        var inputPacket = step == 0 ? Creating.HexOf("raw_error_packet") : Step(step - 1).HexOf("error_packet");
        var inputAttribution = step == 0 ? [] : Step(step - 1).HexOf("attribution_data");
        Assert.Equal(Step(step).Str("attribution_data"), ToHex(AttributionData.Create(inputAttribution, inputPacket, HoldTime(node), secret)));
        Assert.Equal(Step(step).Str("error_packet"), ToHex(FailurePacket.Wrap(inputPacket, secret)));
    }

    [Fact]
    public void Origin_DecryptsFailureAndHoldTimes()
    {
        var result = FailurePacket.Decrypt(Step(4).HexOf("error_packet"), Step(4).HexOf("attribution_data"), Secrets());
        Assert.Equal(4, result.FailingHopIndex);
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, result.Message!.Code);
        Assert.Equal(800000u, result.Message.Height);
        Assert.Equal([5u, 4u, 3u, 2u, 1u], result.HoldTimes);
        Assert.Null(result.AttributionFailedAtHop);
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void Origin_TamperedAttributionBlamesTheTamperingHop(int tamperedAfterStep)
    {
        // Corrupting the data a hop forwarded (without recomputing its HMACs) breaks attribution at the next hop upstream.
        var secrets = Secrets();
        var (packet, attribution) = ForwardThrough(tamperedAfterStep);
        attribution[0] ^= 0x01;
        for (var node = 3 - tamperedAfterStep; node >= 0; node--)
        {
            attribution = AttributionData.Create(attribution, packet, HoldTime(node), secrets[node]);
            packet = FailurePacket.Wrap(packet, secrets[node]);
        }
        var result = FailurePacket.Decrypt(packet, attribution, secrets);
        Assert.Equal(4, result.FailingHopIndex);
        var failedAt = 4 - tamperedAfterStep;
        Assert.Equal(failedAt, result.AttributionFailedAtHop);
        Assert.Equal(failedAt, result.HoldTimes.Count);
    }

    public static TheoryData<int> SuccessSteps => Range(5);

    [Theory]
    [MemberData(nameof(SuccessSteps))]
    public void Success_AttributionData(int step)
    {
        var success = Load(File).GetProperty("returning_success").GetProperty("attribution_data");
        var secrets = Secrets();
        byte[] attribution = [];
        for (var s = 0; s <= step; s++)
        {
            var node = 4 - s;
            Assert.Equal(node, success[s].GetProperty("node").GetInt32());
            attribution = AttributionData.Create(attribution, [], HoldTime(node), secrets[node]);
        }
        Assert.Equal(success[step].Str("attribution_data"), ToHex(attribution));
    }

    [Fact]
    public void Success_OriginReadsHoldTimes()
    {
        var success = Load(File).GetProperty("returning_success").GetProperty("attribution_data");
        var holdTimes = AttributionData.UnwrapSuccess(success[4].HexOf("attribution_data"), Secrets(), out var failedAt);
        Assert.Null(failedAt);
        Assert.Equal([5u, 4u, 3u, 2u, 1u], holdTimes);
        var tampered = success[4].HexOf("attribution_data");
        tampered[3] ^= 0x80; // the first hop's hold time
        Assert.Empty(AttributionData.UnwrapSuccess(tampered, Secrets(), out failedAt));
        Assert.Equal(0, failedAt);
    }
}
