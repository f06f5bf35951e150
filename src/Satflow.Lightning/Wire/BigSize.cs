using System.Buffers.Binary;

namespace Satflow.Lightning.Wire;

/// <summary>BOLT 1 BigSize: a big-endian variable-length unsigned integer that must be minimally encoded.</summary>
public static class BigSize
{
    /// <summary>The encoded length of <paramref name="value"/>: 1, 3, 5 or 9 bytes.</summary>
    public static int EncodedLength(ulong value) => value switch
    {
        < 0xFD => 1,
        <= 0xFFFF => 3,
        <= 0xFFFF_FFFF => 5,
        _ => 9,
    };

    /// <summary>Writes <paramref name="value"/> and returns the number of bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        switch (EncodedLength(value))
        {
            case 1:
                destination[0] = (byte)value;
                return 1;
            case 3:
                destination[0] = 0xFD;
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], (ushort)value);
                return 3;
            case 5:
                destination[0] = 0xFE;
                BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)value);
                return 5;
            default:
                destination[0] = 0xFF;
                BinaryPrimitives.WriteUInt64BigEndian(destination[1..], value);
                return 9;
        }
    }

    /// <summary>Encodes <paramref name="value"/> into a new array.</summary>
    public static byte[] Encode(ulong value)
    {
        var buffer = new byte[EncodedLength(value)];
        Write(buffer, value);
        return buffer;
    }

    /// <summary>Reads a BigSize from the start of <paramref name="source"/>.</summary>
    /// <param name="source">The bytes.</param>
    /// <param name="consumed">How many bytes the value took.</param>
    /// <exception cref="WireFormatException">On truncation (<c>unexpected EOF</c>) or a non-minimal encoding (<c>decoded bigsize is not canonical</c>).</exception>
    public static ulong Read(ReadOnlySpan<byte> source, out int consumed)
    {
        if (source.IsEmpty)
        {
            throw new WireFormatException("unexpected EOF", "bigsize");
        }
        switch (source[0])
        {
            case 0xFD:
                {
                    Require(source, 3);
                    ulong value = BinaryPrimitives.ReadUInt16BigEndian(source[1..]);
                    consumed = 3;
                    return value < 0xFD ? throw NonCanonical() : value;
                }
            case 0xFE:
                {
                    Require(source, 5);
                    ulong value = BinaryPrimitives.ReadUInt32BigEndian(source[1..]);
                    consumed = 5;
                    return value <= 0xFFFF ? throw NonCanonical() : value;
                }
            case 0xFF:
                {
                    Require(source, 9);
                    var value = BinaryPrimitives.ReadUInt64BigEndian(source[1..]);
                    consumed = 9;
                    return value <= 0xFFFF_FFFF ? throw NonCanonical() : value;
                }
            default:
                consumed = 1;
                return source[0];
        }
    }

    private static void Require(ReadOnlySpan<byte> source, int length)
    {
        if (source.Length < length)
        {
            throw new WireFormatException("unexpected EOF", "bigsize");
        }
    }

    private static WireFormatException NonCanonical() => new("decoded bigsize is not canonical");
}
