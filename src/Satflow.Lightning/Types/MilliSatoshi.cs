using System.Globalization;

namespace Satflow.Lightning.Types;

/// <summary>An amount in millisatoshis (1/1000 of a satoshi), the unit of Lightning amounts.</summary>
/// <param name="Value">The amount in millisatoshis.</param>
public readonly record struct MilliSatoshi(ulong Value) : IComparable<MilliSatoshi>
{
    /// <summary>The total supply of bitcoin in millisatoshis; no valid amount exceeds it.</summary>
    public static MilliSatoshi MaxMoney { get; } = new(21_000_000UL * 100_000_000UL * 1000UL);

    /// <summary>Zero.</summary>
    public static MilliSatoshi Zero => default;

    /// <summary>Converts whole satoshis.</summary>
    public static MilliSatoshi FromSatoshis(ulong satoshis) => new(checked(satoshis * 1000));

    /// <summary>The amount in whole satoshis, rounded down (as BOLT 3 does for outputs).</summary>
    public ulong TruncateToSatoshis() => Value / 1000;

    /// <summary>Adds, failing on overflow.</summary>
    public static MilliSatoshi operator +(MilliSatoshi a, MilliSatoshi b) => new(checked(a.Value + b.Value));

    /// <summary>Subtracts, failing on underflow.</summary>
    public static MilliSatoshi operator -(MilliSatoshi a, MilliSatoshi b) => new(checked(a.Value - b.Value));

    /// <summary>Compares.</summary>
    public static bool operator <(MilliSatoshi a, MilliSatoshi b) => a.Value < b.Value;

    /// <summary>Compares.</summary>
    public static bool operator >(MilliSatoshi a, MilliSatoshi b) => a.Value > b.Value;

    /// <summary>Compares.</summary>
    public static bool operator <=(MilliSatoshi a, MilliSatoshi b) => a.Value <= b.Value;

    /// <summary>Compares.</summary>
    public static bool operator >=(MilliSatoshi a, MilliSatoshi b) => a.Value >= b.Value;

    /// <inheritdoc />
    public int CompareTo(MilliSatoshi other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture) + " msat";
}
