using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>BOLT 3 expected weights, fees and trimming rules.</summary>
public static class Bolt3Fees
{
    /// <summary>The fixed value of each anchor output.</summary>
    public static Money AnchorAmount { get; } = Money.Satoshis(330);

    /// <summary>Base weight of a commitment transaction.</summary>
    public static int CommitmentBaseWeight(CommitmentFormat format) => format == CommitmentFormat.AnchorOutputs ? 1124 : 724;

    /// <summary>Weight added per untrimmed HTLC output.</summary>
    public const int HtlcOutputWeight = 172;

    /// <summary>Expected weight of an HTLC-timeout transaction.</summary>
    public static int HtlcTimeoutWeight(CommitmentFormat format) => format == CommitmentFormat.AnchorOutputs ? 666 : 663;

    /// <summary>Expected weight of an HTLC-success transaction.</summary>
    public static int HtlcSuccessWeight(CommitmentFormat format) => format == CommitmentFormat.AnchorOutputs ? 706 : 703;

    /// <summary>The HTLC-timeout fee: zero with anchors, else <c>feerate·663/1000</c>.</summary>
    public static Money HtlcTimeoutFee(CommitmentFormat format, uint feeratePerKw) =>
        format == CommitmentFormat.AnchorOutputs ? Money.Zero : Money.Satoshis((long)feeratePerKw * HtlcTimeoutWeight(format) / 1000);

    /// <summary>The HTLC-success fee: zero with anchors, else <c>feerate·703/1000</c>.</summary>
    public static Money HtlcSuccessFee(CommitmentFormat format, uint feeratePerKw) =>
        format == CommitmentFormat.AnchorOutputs ? Money.Zero : Money.Satoshis((long)feeratePerKw * HtlcSuccessWeight(format) / 1000);

    /// <summary>The fee of the second-stage transaction of an HTLC of the given direction.</summary>
    public static Money SecondStageFee(CommitmentFormat format, uint feeratePerKw, HtlcDirection direction) =>
        direction == HtlcDirection.Offered ? HtlcTimeoutFee(format, feeratePerKw) : HtlcSuccessFee(format, feeratePerKw);

    /// <summary>Whether an HTLC is trimmed: its amount in whole satoshis minus the second-stage fee is below the dust limit.</summary>
    public static bool IsTrimmed(CommitmentFormat format, uint feeratePerKw, Money dustLimit, HtlcDirection direction, MilliSatoshi amount)
    {
        ArgumentNullException.ThrowIfNull(dustLimit);
        var satoshis = (long)amount.TruncateToSatoshis();
        return satoshis - SecondStageFee(format, feeratePerKw, direction).Satoshi < dustLimit.Satoshi;
    }

    /// <summary>The base commitment fee: <c>feerate·(base weight + 172·untrimmed HTLCs)/1000</c>.</summary>
    public static Money CommitmentFee(CommitmentFormat format, uint feeratePerKw, int untrimmedHtlcs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(untrimmedHtlcs);
        var weight = (long)CommitmentBaseWeight(format) + ((long)HtlcOutputWeight * untrimmedHtlcs);
        return Money.Satoshis(feeratePerKw * weight / 1000);
    }
}
