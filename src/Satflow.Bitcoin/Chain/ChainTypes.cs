using NBitcoin;

namespace Satflow.Bitcoin.Chain;

/// <summary>The best block of a chain.</summary>
/// <param name="Height">Height of the block (genesis is 0).</param>
/// <param name="Hash">Hash of the block.</param>
public readonly record struct ChainTip(int Height, uint256 Hash);

/// <summary>A block header together with its height in the best chain.</summary>
/// <param name="Header">The 80-byte header.</param>
/// <param name="Height">Height of the block.</param>
/// <param name="Confirmations">Confirmations as Bitcoin Core counts them: 1 for the tip, -1 when the block is not in the best chain.</param>
public sealed record ChainHeader(BlockHeader Header, int Height, int Confirmations)
{
    /// <summary>The header's hash.</summary>
    public uint256 Hash => Header.GetHash();
}

/// <summary>A transaction as a chain source knows it.</summary>
/// <param name="Transaction">The transaction.</param>
/// <param name="Confirmations">0 while in the mempool, otherwise 1 + tip height - block height.</param>
/// <param name="BlockHash">The block that confirmed it, or null while unconfirmed.</param>
/// <param name="BlockHeight">The height of that block, or null while unconfirmed.</param>
public sealed record ChainTransaction(Transaction Transaction, int Confirmations, uint256? BlockHash, int? BlockHeight);

/// <summary>What a chain source knows of an outpoint.</summary>
public enum OutPointState
{
    /// <summary>No transaction creating this output is known (or the index is out of range).</summary>
    Unknown,

    /// <summary>The output exists and is unspent in the best chain.</summary>
    Unspent,

    /// <summary>The output exists and has been spent in the best chain (or, when asked with the mempool, by a mempool transaction).</summary>
    Spent,
}

/// <summary>The spent-status of an outpoint.</summary>
/// <param name="State">Unknown, unspent or spent.</param>
/// <param name="Output">The output, when it is unspent.</param>
/// <param name="Confirmations">Confirmations of the creating transaction when unspent (0 = mempool).</param>
public sealed record OutPointStatus(OutPointState State, TxOut? Output = null, int Confirmations = 0)
{
    /// <summary>The status of an outpoint nobody knows.</summary>
    public static OutPointStatus Unknown { get; } = new(OutPointState.Unknown);

    /// <summary>The status of a spent outpoint.</summary>
    public static OutPointStatus Spent { get; } = new(OutPointState.Spent);
}

/// <summary>
/// A fee rate in satoshis per 1,000 weight units, the unit Lightning uses. Never below <see cref="Floor"/> (253 sat/kw,
/// the smallest rate that still meets a 1 sat/vB relay minimum after rounding).
/// </summary>
public readonly record struct FeeRatePerKw : IComparable<FeeRatePerKw>
{
    /// <summary>The floor every estimate is clamped to: 253 sat/kw.</summary>
    public const uint FloorSatPerKw = 253;

    /// <summary>The floor as a value.</summary>
    public static FeeRatePerKw Floor { get; } = new(FloorSatPerKw);

    /// <summary>Creates a rate; values under the floor are raised to it.</summary>
    public FeeRatePerKw(uint satPerKw) => SatPerKw = Math.Max(satPerKw, FloorSatPerKw);

    /// <summary>Satoshis per 1,000 weight units.</summary>
    public uint SatPerKw { get; }

    /// <summary>The same rate as NBitcoin's per-kilo-virtual-byte <see cref="FeeRate"/>.</summary>
    public FeeRate ToFeeRate() => new(Money.Satoshis((long)SatPerKw * 4));

    /// <summary>Converts an NBitcoin rate (sat/kvB) to sat/kw, rounding down and applying the floor.</summary>
    public static FeeRatePerKw FromFeeRate(FeeRate rate)
    {
        ArgumentNullException.ThrowIfNull(rate);
        var perKw = rate.FeePerK.Satoshi / 4;
        return new FeeRatePerKw((uint)Math.Clamp(perKw, 0, uint.MaxValue));
    }

    /// <summary>The fee for a transaction of the given weight, rounded down as BOLT 3 does.</summary>
    public Money FeeForWeight(long weight) => Money.Satoshis(SatPerKw * weight / 1000);

    /// <inheritdoc />
    public int CompareTo(FeeRatePerKw other) => SatPerKw.CompareTo(other.SatPerKw);

    /// <inheritdoc />
    public override string ToString() => $"{SatPerKw} sat/kw";
}

/// <summary>How soon a transaction must confirm; fee estimators map it to a block target.</summary>
public enum ConfirmationTarget
{
    /// <summary>Must confirm within a couple of blocks (HTLC claims, penalties): target 2.</summary>
    Urgent = 2,

    /// <summary>Normal payments and channel funding: target 6.</summary>
    Normal = 6,

    /// <summary>Sweeps that can wait: target 12.</summary>
    Economy = 12,

    /// <summary>Background consolidation: target 144.</summary>
    Background = 144,
}
