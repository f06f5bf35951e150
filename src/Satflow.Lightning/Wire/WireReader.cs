using System.Buffers.Binary;

namespace Satflow.Lightning.Wire;

/// <summary>
/// Reads BOLT 1 fundamental types from a span, big-endian. Every read checks the remaining length first, so a
/// length field can never make the reader allocate more than the input holds; short input throws
/// <see cref="WireFormatException"/>.
/// </summary>
public ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Starts reading at the beginning of <paramref name="data"/>.</summary>
    public WireReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>Bytes not yet read.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>Bytes read so far.</summary>
    public readonly int Position => _position;

    /// <summary>True when every byte has been read.</summary>
    public readonly bool IsEnd => _position == _data.Length;

    /// <summary>The unread bytes, without consuming them.</summary>
    public readonly ReadOnlySpan<byte> RemainingSpan => _data[_position..];

    /// <summary>Reads a byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>Reads a big-endian u16.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    /// <summary>Reads a big-endian u32.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    /// <summary>Reads a big-endian u64.</summary>
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    /// <summary>Reads an s8 (two's complement byte).</summary>
    public sbyte ReadSByte() => unchecked((sbyte)Take(1)[0]);

    /// <summary>Reads a big-endian s16.</summary>
    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    /// <summary>Reads a big-endian s32.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    /// <summary>Reads a big-endian s64.</summary>
    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    /// <summary>Reads a BigSize.</summary>
    public ulong ReadBigSize()
    {
        var value = BigSize.Read(_data[_position..], out var consumed);
        _position += consumed;
        return value;
    }

    /// <summary>
    /// Reads a truncated unsigned integer (<c>tu16</c>/<c>tu32</c>/<c>tu64</c>) that fills the rest of the input:
    /// minimal big-endian with no leading zero byte.
    /// </summary>
    /// <param name="maxBytes">2, 4 or 8.</param>
    public ulong ReadTruncatedUInt(int maxBytes)
    {
        var bytes = RemainingSpan;
        if (bytes.Length > maxBytes)
        {
            throw new WireFormatException("truncated integer too long", $"{bytes.Length} bytes for a {maxBytes}-byte integer");
        }
        if (bytes.Length > 0 && bytes[0] == 0)
        {
            throw new WireFormatException("truncated integer not minimal");
        }
        ulong value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }
        _position = _data.Length;
        return value;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes into a new array.</summary>
    public byte[] ReadBytes(int count) => Take(count).ToArray();

    /// <summary>Reads exactly <paramref name="count"/> bytes as a span over the input (no copy).</summary>
    public ReadOnlySpan<byte> ReadSpan(int count) => Take(count);

    /// <summary>Reads everything left.</summary>
    public ReadOnlySpan<byte> ReadToEnd() => Take(Remaining);

    /// <summary>Throws unless every byte has been read.</summary>
    public readonly void EnsureEnd(string what)
    {
        if (!IsEnd)
        {
            throw new WireFormatException("trailing bytes", what);
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
        {
            throw new WireFormatException("unexpected EOF", $"wanted {count} bytes, {Remaining} left");
        }
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}
