using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels.Opening;

/// <summary>Two nodes' keys, options and policy, and helpers that run the v1 opening handshake over the wire codec.</summary>
internal static class OpeningTestKit
{
    public const uint Feerate = 2500;

    public static LocalChannelKeys FunderKeys { get; } = LocalChannelKeys.Derive(Enumerable.Repeat((byte)0x11, 32).ToArray(), 7);

    public static LocalChannelKeys FundeeKeys { get; } = LocalChannelKeys.Derive(Enumerable.Repeat((byte)0x22, 32).ToArray(), 3);

    public static ChannelId TemporaryId { get; } = ChannelId.Parse("0102030405060708091011121314151617181920212223242526272829303132");

    public static Money Funding { get; } = Money.Satoshis(1_000_000);

    public static Script FunderShutdownScript { get; } = new Key(Enumerable.Repeat((byte)0x33, 32).ToArray()).PubKey.WitHash.ScriptPubKey;

    public static Script FundeeShutdownScript { get; } = new Key(Enumerable.Repeat((byte)0x44, 32).ToArray()).PubKey.WitHash.ScriptPubKey;

    public static ChannelLimits FunderLimits { get; } = new(Money.Satoshis(546), MilliSatoshi.FromSatoshis(500_000), Money.Satoshis(10_000), new MilliSatoshi(1000), 144, 30);

    public static ChannelLimits FundeeLimits { get; } = new(Money.Satoshis(400), MilliSatoshi.FromSatoshis(400_000), Money.Satoshis(9_000), new MilliSatoshi(1), 720, 483);

    public static OutboundChannelOptions Options(FeatureBits? channelType = null, MilliSatoshi? push = null) =>
        new(ChainHash.Regtest, Funding, push ?? MilliSatoshi.FromSatoshis(200_000), Feerate, FunderLimits, AnnounceChannel: true)
        {
            ChannelType = channelType ?? ChannelTypes.AnchorsZeroFeeHtlcTx,
            UpfrontShutdownScript = FunderShutdownScript,
        };

    public static InboundChannelPolicy Policy { get; } =
        new InboundChannelPolicy(FundeeLimits, Money.Satoshis(20_000), Money.Satoshis(16_000_000), 2016, 253, 100_000, 3)
        {
            UpfrontShutdownScript = FundeeShutdownScript,
        };

    /// <summary>Encodes and decodes a message, as a peer would see it.</summary>
    public static T RoundTrip<T>(T message)
        where T : LightningMessage => Assert.IsType<T>(LightningMessage.Decode(message.Encode()));

    public static OutboundChannelOpening NewFunder(OutboundChannelOptions? options = null) =>
        OutboundChannelOpening.Create(options ?? Options(), FunderKeys, TemporaryId);

    public static InboundChannelOpening NewFundee(OpenChannel open, InboundChannelPolicy? policy = null) =>
        InboundChannelOpening.FromOpenChannel(RoundTrip(open), policy ?? Policy, FundeeKeys, ChainHash.Regtest);

    /// <summary>A segwit transaction paying the funding output (its only input spends a made-up outpoint).</summary>
    public static Transaction FundingTransaction(FundingOutput output)
    {
        var tx = Transaction.Create(Network.RegTest);
        tx.Version = 2;
        tx.Inputs.Add(new OutPoint(uint256.Parse("aa00000000000000000000000000000000000000000000000000000000000001"), 1));
        tx.Outputs.Add(new TxOut(Money.Satoshis(12_345), new Key(Enumerable.Repeat((byte)0x55, 32).ToArray()).PubKey.WitHash.ScriptPubKey));
        tx.Outputs.Add(output.ToTxOut());
        return tx;
    }

    /// <summary>The whole handshake, every message through the wire codec.</summary>
    public static Handshake Run(OutboundChannelOptions? options = null, InboundChannelPolicy? policy = null)
    {
        var funder = NewFunder(options);
        var fundee = NewFundee(funder.OpenChannel, policy);
        var output = funder.HandleAcceptChannel(RoundTrip(fundee.AcceptChannel));
        var fundingTx = FundingTransaction(output);
        var created = funder.CreateFundingCreated(new OutPoint(fundingTx.GetHash(), 1));
        var result = fundee.HandleFundingCreated(RoundTrip(created));
        var funderChannel = funder.HandleFundingSigned(RoundTrip(result.FundingSigned));
        return new Handshake(funder, fundee, output, fundingTx, created, result.FundingSigned, funderChannel, result.Channel);
    }

    /// <summary>Our commitment 0 with both signatures, checked to spend the funding output.</summary>
    public static Transaction SignedLocalCommitment(FundedChannel channel, LocalChannelKeys keys)
    {
        var commitment = channel.Parameters.BuildLocalCommitment(0, keys.PerCommitmentPoint(0), channel.FeeratePerKw, channel.LocalBalance, channel.RemoteBalance, []);
        var ours = Bolt3Signing.SignCommitment(commitment, keys.FundingKey);
        return Bolt3Signing.FinalizeCommitment(commitment, ours, channel.RemoteSignatureOfLocalCommitment);
    }

    public static void AssertSpendsFunding(Transaction tx, TxOut fundingOutput)
    {
        var result = tx.CreateValidator([fundingOutput]).ValidateInput(0);
        Assert.True(result.Error is null, $"script error: {result.Error}");
    }

    internal sealed record Handshake(
        OutboundChannelOpening Funder,
        InboundChannelOpening Fundee,
        FundingOutput Output,
        Transaction FundingTx,
        FundingCreated FundingCreated,
        FundingSigned FundingSigned,
        FundedChannel FunderChannel,
        FundedChannel FundeeChannel);
}
