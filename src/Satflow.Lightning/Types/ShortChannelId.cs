using System.Globalization;

namespace Satflow.Lightning.Types;

/// <summary>
/// A channel's position on chain (BOLT 7): block height (3 bytes), transaction index (3 bytes) and output index
/// (2 bytes), packed into 8 bytes big-endian. The text form is <c>539268x845x1</c>.
/// </summary>
/// <param name="Value">The packed 64-bit value.</param>
public readonly record struct ShortChannelId(ulong Value) : IComparable<ShortChannelId>
{
    /// <summary>Packs the three parts.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When a part does not fit its field.</exception>
    public ShortChannelId(uint blockHeight, uint txIndex, ushort outputIndex)
        : this(Pack(blockHeight, txIndex, outputIndex))
    {
    }

    /// <summary>Block height of the funding transaction.</summary>
    public uint BlockHeight => (uint)(Value >> 40);

    /// <summary>Index of the funding transaction in its block.</summary>
    public uint TxIndex => (uint)((Value >> 16) & 0xFFFFFF);

    /// <summary>Index of the funding output.</summary>
    public ushort OutputIndex => (ushort)(Value & 0xFFFF);

    /// <summary>Parses <c>BLOCKxTXxOUT</c>.</summary>
    /// <exception cref="FormatException">When the text is not in that form or a part is out of range.</exception>
    public static ShortChannelId Parse(string text) =>
        TryParse(text, out var scid) ? scid : throw new FormatException($"'{text}' is not a short channel id (expected BLOCKxTXxOUTPUT, e.g. 539268x845x1).");

    /// <summary>Parses <c>BLOCKxTXxOUT</c> without throwing.</summary>
    public static bool TryParse(string? text, out ShortChannelId value)
    {
        value = default;
        if (text is null)
        {
            return false;
        }
        var parts = text.Split('x');
        if (parts.Length != 3
            || !uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var block) || block > 0xFFFFFF
            || !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var tx) || tx > 0xFFFFFF
            || !ushort.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var output))
        {
            return false;
        }
        value = new ShortChannelId(block, tx, output);
        return true;
    }

    private static ulong Pack(uint blockHeight, uint txIndex, ushort outputIndex)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockHeight, 0xFFFFFFu);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(txIndex, 0xFFFFFFu);
        return ((ulong)blockHeight << 40) | ((ulong)txIndex << 16) | outputIndex;
    }

    /// <inheritdoc />
    public int CompareTo(ShortChannelId other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{BlockHeight}x{TxIndex}x{OutputIndex}");
}
