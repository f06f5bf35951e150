using System.Globalization;
using NBitcoin;

namespace Satflow.Lightning.Messages.Primitives;

/// <summary>An unsigned on-wire amount in satoshis (BOLT 2 <c>*_satoshis</c> fields are <c>u64</c>).</summary>
/// <param name="Value">The amount in satoshis.</param>
public readonly record struct Satoshis(ulong Value) : IComparable<Satoshis>
{
    /// <summary>The amount as NBitcoin money.</summary>
    /// <exception cref="OverflowException">When the value does not fit a signed 64-bit amount.</exception>
    public Money ToMoney() => Money.Satoshis(checked((long)Value));

    /// <summary>The amount in millisatoshis.</summary>
    /// <exception cref="OverflowException">When the value overflows.</exception>
    public Types.MilliSatoshi ToMilliSatoshi() => Types.MilliSatoshi.FromSatoshis(Value);

    /// <inheritdoc />
    public int CompareTo(Satoshis other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture) + " sat";
}
