using System.Buffers.Binary;
using System.Text;
using Satflow.Lightning.Types;

namespace Satflow.Payments;

/// <summary>Big-endian writer for the versioned binary records.</summary>
internal sealed class RecordWriter
{
    private readonly List<byte> _bytes = [];

    public void U8(byte value) => _bytes.Add(value);

    public void Bool(bool value) => _bytes.Add(value ? (byte)1 : (byte)0);

    public void U32(uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, value);
        _bytes.AddRange(buffer);
    }

    public void U64(ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(buffer, value);
        _bytes.AddRange(buffer);
    }

    public void I64(long value) => U64(unchecked((ulong)value));

    public void B32(Bytes32 value) => _bytes.AddRange(value.ToArray());

    public void Raw(ReadOnlySpan<byte> value) => _bytes.AddRange(value);

    public void OptionalU64(ulong? value)
    {
        Bool(value.HasValue);
        if (value is { } v)
        {
            U64(v);
        }
    }

    public void OptionalI64(long? value)
    {
        Bool(value.HasValue);
        if (value is { } v)
        {
            I64(v);
        }
    }

    public void OptionalB32(Bytes32? value)
    {
        Bool(value.HasValue);
        if (value is { } v)
        {
            B32(v);
        }
    }

    public void OptionalString(string? value)
    {
        Bool(value is not null);
        if (value is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            U32((uint)bytes.Length);
            _bytes.AddRange(bytes);
        }
    }

    public byte[] ToArray() => [.. _bytes];
}

/// <summary>Big-endian reader that turns every malformation into <see cref="PaymentRecordCorruptException"/>.</summary>
internal ref struct RecordReader
{
    /// <summary>Largest string a record may hold (BOLT 11 strings are far shorter).</summary>
    public const int MaxStringBytes = 64 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
    private readonly ReadOnlySpan<byte> _data;
    private int _offset;

    public RecordReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _offset = 0;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _data.Length - _offset < count)
        {
            throw new PaymentRecordCorruptException($"Record truncated: needed {count} more bytes at offset {_offset}, {_data.Length - _offset} left.");
        }
        var slice = _data.Slice(_offset, count);
        _offset += count;
        return slice;
    }

    public byte U8() => Take(1)[0];

    public bool Bool() => U8() switch
    {
        0 => false,
        1 => true,
        var b => throw new PaymentRecordCorruptException($"Invalid boolean byte 0x{b:x2} at offset {_offset - 1}."),
    };

    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public long I64() => unchecked((long)U64());

    public Bytes32 B32() => new(Take(32));

    public ReadOnlySpan<byte> Raw(int count) => Take(count);

    public ulong? OptionalU64() => Bool() ? U64() : null;

    public long? OptionalI64() => Bool() ? I64() : null;

    public Bytes32? OptionalB32() => Bool() ? B32() : null;

    public string? OptionalString()
    {
        if (!Bool())
        {
            return null;
        }
        var length = U32();
        if (length > MaxStringBytes)
        {
            throw new PaymentRecordCorruptException($"String of {length} bytes exceeds the {MaxStringBytes}-byte limit.");
        }
        var bytes = Take((int)length);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new PaymentRecordCorruptException("String is not valid UTF-8.", e);
        }
    }

    public readonly void End()
    {
        if (_offset != _data.Length)
        {
            throw new PaymentRecordCorruptException($"{_data.Length - _offset} unexpected trailing bytes.");
        }
    }

    public static DateTimeOffset Time(long unixMilliseconds)
    {
        if (unixMilliseconds < 0 || unixMilliseconds > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            throw new PaymentRecordCorruptException($"Timestamp {unixMilliseconds} ms is out of range.");
        }
        return DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);
    }

    public static MilliSatoshi Amount(ulong value)
    {
        if (value > MilliSatoshi.MaxMoney.Value)
        {
            throw new PaymentRecordCorruptException($"Amount {value} msat exceeds the 21M BTC supply.");
        }
        return new MilliSatoshi(value);
    }

    public static TEnum Enum<TEnum>(byte value)
        where TEnum : struct, Enum
    {
        var boxed = (TEnum)(object)(int)value;
        if (!System.Enum.IsDefined(boxed))
        {
            throw new PaymentRecordCorruptException($"Unknown {typeof(TEnum).Name} value {value}.");
        }
        return boxed;
    }
}
