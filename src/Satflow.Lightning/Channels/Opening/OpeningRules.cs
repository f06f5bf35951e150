using System.Globalization;
using NBitcoin;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>BOLT 2 rules shared by both sides of the v1 opening handshake.</summary>
internal static class OpeningRules
{
    public const ushort MaxAcceptedHtlcsLimit = 483;
    public const ulong MinDustLimitSatoshis = 354;
    public const ulong LargeChannelThreshold = 1UL << 24;
    public const ulong MaxMoneySatoshis = 21_000_000UL * 100_000_000UL;

    public static ChannelOpeningException Fail(ChannelOpeningFailure reason, FormattableString text) =>
        new(reason, text.ToString(CultureInfo.InvariantCulture));

    public static void CheckPoints(ChannelKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        (string Name, Point Value)[] points =
        [
            ("funding_pubkey", keys.FundingPubkey), ("revocation_basepoint", keys.RevocationBasepoint),
            ("payment_basepoint", keys.PaymentBasepoint), ("delayed_payment_basepoint", keys.DelayedPaymentBasepoint),
            ("htlc_basepoint", keys.HtlcBasepoint), ("first_per_commitment_point", keys.FirstPerCommitmentPoint),
        ];
        foreach (var (name, value) in points)
        {
            if (!Point.IsValid(value.Span))
            {
                throw Fail(ChannelOpeningFailure.InvalidPoint, $"{name} is not a valid compressed secp256k1 point");
            }
        }
    }

    public static ChannelBasepoints Basepoints(ChannelKeys keys) =>
        new(keys.FundingPubkey.ToPubKey(), keys.RevocationBasepoint.ToPubKey(), keys.PaymentBasepoint.ToPubKey(),
            keys.DelayedPaymentBasepoint.ToPubKey(), keys.HtlcBasepoint.ToPubKey());

    public static ChannelKeys WireKeys(LocalChannelKeys keys)
    {
        var b = keys.Basepoints;
        return new ChannelKeys(new Point(b.FundingPubKey), new Point(b.RevocationBasepoint), new Point(b.PaymentBasepoint),
            new Point(b.DelayedPaymentBasepoint), new Point(b.HtlcBasepoint), new Point(keys.PerCommitmentPoint(0)));
    }

    public static void CheckMaxAcceptedHtlcs(ushort value)
    {
        if (value > MaxAcceptedHtlcsLimit)
        {
            throw Fail(ChannelOpeningFailure.TooManyAcceptedHtlcs, $"max_accepted_htlcs {value} is greater than 483");
        }
    }

    public static void CheckToSelfDelay(ushort value, ushort max)
    {
        if (value > max)
        {
            throw Fail(ChannelOpeningFailure.ToSelfDelayTooLarge, $"to_self_delay {value} is greater than our maximum {max}");
        }
    }

    public static void CheckDustLimit(Satoshis dust, Money max)
    {
        if (dust.Value < MinDustLimitSatoshis)
        {
            throw Fail(ChannelOpeningFailure.DustLimitTooSmall, $"dust_limit_satoshis {dust.Value} is smaller than 354");
        }
        if (dust.Value > (ulong)max.Satoshi)
        {
            throw Fail(ChannelOpeningFailure.DustLimitTooLarge, $"dust_limit_satoshis {dust.Value} is greater than our maximum {max.Satoshi}");
        }
    }

    public static void CheckReserveNotTooLarge(Satoshis reserve, Money funding)
    {
        if (reserve.Value > (ulong)funding.Satoshi / 5)
        {
            throw Fail(ChannelOpeningFailure.ChannelReserveTooLarge, $"channel_reserve_satoshis {reserve.Value} is more than a fifth of the capacity {funding.Satoshi}");
        }
    }

    /// <summary>The upfront shutdown script of a TLV: null when absent or empty (no commitment), else validated.</summary>
    public static Script? UpfrontScript(ReadOnlyMemory<byte>? tlv, FeatureBits negotiated)
    {
        if (tlv is not { Length: > 0 } bytes)
        {
            return null;
        }
        var script = new Script(bytes.ToArray());
        if (!ShutdownScript.TryValidate(script, negotiated, out _, out var reason))
        {
            throw Fail(ChannelOpeningFailure.InvalidUpfrontShutdownScript, $"invalid upfront_shutdown_script: {reason}");
        }
        return script;
    }

    /// <summary>What the funder pays out of its balance on the initial commitment: the base fee, plus both anchors.</summary>
    public static Money FunderCost(CommitmentFormat format, uint feeratePerKw) =>
        Bolt3Fees.CommitmentFee(format, feeratePerKw, 0) + (format == CommitmentFormat.AnchorOutputs ? Bolt3Fees.AnchorAmount * 2 : Money.Zero);

    public static ChannelLimits Limits(Satoshis dust, Satoshis reserve, MilliSatoshi maxInFlight, MilliSatoshi htlcMinimum, ushort toSelfDelay, ushort maxAccepted) =>
        new(dust.ToMoney(), maxInFlight, reserve.ToMoney(), htlcMinimum, toSelfDelay, maxAccepted);
}
