using System.Buffers;
using System.Buffers.Binary;

namespace Satflow.Lightning.Wire;

/// <summary>Writes BOLT 1 fundamental types, big-endian, into a growable buffer.</summary>
public sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    /// <summary>Creates a writer with an initial capacity.</summary>
    public WireWriter(int initialCapacity = 256) => _buffer = new ArrayBufferWriter<byte>(Math.Max(1, initialCapacity));

    /// <summary>Bytes written so far.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>A copy of the bytes written.</summary>
    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    /// <summary>Writes a byte.</summary>
    public WireWriter WriteByte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    /// <summary>Writes a big-endian u16.</summary>
    public WireWriter WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
        return this;
    }

    /// <summary>Writes a big-endian u32.</summary>
    public WireWriter WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    /// <summary>Writes a big-endian u64.</summary>
    public WireWriter WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    /// <summary>Writes an s8 (two's complement byte).</summary>
    public WireWriter WriteSByte(sbyte value) => WriteByte(unchecked((byte)value));

    /// <summary>Writes a big-endian s16.</summary>
    public WireWriter WriteInt16(short value) => WriteUInt16(unchecked((ushort)value));

    /// <summary>Writes a big-endian s32.</summary>
    public WireWriter WriteInt32(int value) => WriteUInt32(unchecked((uint)value));

    /// <summary>Writes a big-endian s64.</summary>
    public WireWriter WriteInt64(long value) => WriteUInt64(unchecked((ulong)value));

    /// <summary>Writes a BigSize.</summary>
    public WireWriter WriteBigSize(ulong value)
    {
        var written = BigSize.Write(_buffer.GetSpan(9), value);
        _buffer.Advance(written);
        return this;
    }

    /// <summary>Writes a truncated unsigned integer: big-endian with leading zero bytes removed (zero is empty).</summary>
    public WireWriter WriteTruncatedUInt(ulong value)
    {
        Span<byte> full = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(full, value);
        var skip = 0;
        while (skip < 8 && full[skip] == 0)
        {
            skip++;
        }
        return WriteBytes(full[skip..]);
    }

    /// <summary>Writes raw bytes.</summary>
    public WireWriter WriteBytes(ReadOnlySpan<byte> bytes)
    {
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>Clears the buffer for reuse.</summary>
    public void Reset() => _buffer.ResetWrittenCount();
}
