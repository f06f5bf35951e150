using System.IO.Compression;
using CsCheck;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Tests.Messages;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Wire;

/// <summary>Random and mutated input never makes a decoder throw anything but <see cref="WireFormatException"/>.</summary>
public sealed class ParserFuzzTests
{
    private static readonly MessageDecodeOptions Legacy = new() { AllowLegacyZlib = true, MaxInflatedBytes = 64 * 1024 };
    private static readonly ushort[] KnownTypes = [.. typeof(MessageTypes).GetFields().Select(f => (ushort)f.GetValue(null)!)];
    private static readonly byte[][] Valid = [.. RandomMessages.EncodedSamples(4)];

    [Fact]
    public void Random_bytes_only_ever_raise_WireFormatException()
    {
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            DecodeChecked(bytes, MessageDecodeOptions.Default);
            DecodeChecked(bytes, Legacy);
        }, iter: 20_000);
    }

    [Fact]
    public void Random_payloads_of_every_known_type_only_ever_raise_WireFormatException()
    {
        Gen.Select(Gen.Int[0, KnownTypes.Length - 1], Gen.Byte.Array[0, 1600]).Sample((index, payload) =>
        {
            var bytes = new byte[payload.Length + 2];
            bytes[0] = (byte)(KnownTypes[index] >> 8);
            bytes[1] = (byte)KnownTypes[index];
            payload.CopyTo(bytes, 2);
            DecodeChecked(bytes, MessageDecodeOptions.Default);
            DecodeChecked(bytes, Legacy);
        }, iter: 20_000);
    }

    [Fact]
    public void Mutations_of_valid_messages_only_ever_raise_WireFormatException()
    {
        Gen.Select(Gen.Int[0, Valid.Length - 1], Gen.Int[0, 5], Gen.Int, Gen.Byte.Array[1, 16]).Sample((index, kind, position, extra) =>
        {
            var original = Valid[index];
            var mutated = Mutate(original, kind, position, extra);
            DecodeChecked(mutated, MessageDecodeOptions.Default);
            DecodeChecked(mutated, Legacy);
        }, iter: 30_000);
    }

    [Fact]
    public void Mutations_of_the_legacy_zlib_vectors_only_ever_raise_WireFormatException()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(Satflow.TestSupport.TestVectors.ReadText("bolts/bolt07/extended-queries.json"));
        byte[][] vectors = [.. doc.RootElement.EnumerateArray().Select(e => Convert.FromHexString(e.GetProperty("hex").GetString()!))];
        Gen.Select(Gen.Int[0, vectors.Length - 1], Gen.Int[0, 5], Gen.Int, Gen.Byte.Array[1, 8]).Sample((index, kind, position, extra) =>
        {
            var mutated = Mutate(vectors[index], kind, position, extra);
            DecodeChecked(mutated, Legacy);
            DecodeChecked(mutated, MessageDecodeOptions.Default);
        }, iter: 20_000);
    }

    [Fact]
    public void Every_truncation_of_every_valid_sample_is_refused_or_decodes_cleanly()
    {
        foreach (var bytes in RandomMessages.EncodedSamples(1))
        {
            for (var length = 0; length < bytes.Length; length++)
            {
                DecodeChecked(bytes.AsSpan(0, length).ToArray(), MessageDecodeOptions.Default);
            }
        }
    }

    [Fact]
    public void Random_tlv_streams_only_ever_raise_WireFormatException()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            try
            {
                var stream = TlvStream.Parse(bytes, t => t < 16);
                Assert.Equal(bytes, stream.ToBytes());
            }
            catch (WireFormatException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Length_fields_not_backed_by_input_allocate_nothing_proportional()
    {
        byte[][] inputs =
        [
            // commitment_signed claiming 65535 HTLC signatures.
            [0x00, 0x84, .. new byte[32], .. new byte[64], 0xFF, 0xFF, 0x01],
            // tx_signatures claiming 65535 witnesses.
            [0x00, 0x47, .. new byte[32], .. new byte[32], 0xFF, 0xFF, 0x00],
            // ping with byteslen 65535 and nothing behind it.
            [0x00, 0x12, 0x00, 0x00, 0xFF, 0xFF],
            // an extension TLV claiming 2^64-1 bytes.
            [0x00, 0x86, .. new byte[32], 0, 0, 0, 1, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ];
        foreach (var input in inputs)
        {
            DecodeChecked(input, MessageDecodeOptions.Default);
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode(input));
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 16 * 1024, $"allocated {allocated} bytes for a {input.Length}-byte input");
        }
    }

    [Fact]
    public void Legacy_zlib_is_bounded_against_decompression_bombs()
    {
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(new byte[1024 * 1024]);
        }
        var encoded = new byte[] { 1 }.Concat(compressed.ToArray()).ToArray();
        var writer = new WireWriter();
        writer.WriteUInt16(MessageTypes.QueryShortChannelIds).WriteBytes(ChainHash.Regtest.Value.ToArray()).WriteUInt16((ushort)encoded.Length).WriteBytes(encoded);
        var ex = Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode(writer.ToArray(), Legacy));
        Assert.Equal("zlib data too large", ex.Reason);
        Assert.Equal("zlib encoding not allowed", Assert.ThrowsAny<WireFormatException>(() => LightningMessage.Decode(writer.ToArray())).Reason);
    }

    private static byte[] Mutate(byte[] original, int kind, int position, byte[] extra)
    {
        var bytes = original.ToArray();
        var at = (int)((uint)position % (uint)Math.Max(1, bytes.Length));
        switch (kind)
        {
            case 0: // flip one bit
                if (bytes.Length > 0)
                {
                    bytes[at] ^= (byte)(1 << (extra[0] & 7));
                }
                return bytes;
            case 1: // truncate
                return bytes[..at];
            case 2: // append garbage
                return [.. bytes, .. extra];
            case 3: // overwrite a run
                for (var i = 0; i < extra.Length && at + i < bytes.Length; i++)
                {
                    bytes[at + i] = extra[i];
                }
                return bytes;
            case 4: // insert bytes
                return [.. bytes[..at], .. extra, .. bytes[at..]];
            default: // delete a run
                return [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + extra.Length)..]];
        }
    }

    private static void DecodeChecked(byte[] bytes, MessageDecodeOptions options)
    {
        LightningMessage decoded;
        try
        {
            decoded = LightningMessage.Decode(bytes, options);
        }
        catch (WireFormatException)
        {
            return;
        }
        // Whatever decodes must re-encode, and re-encoding is a fixed point.
        var encoded = decoded.Encode();
        Assert.Equal(encoded, LightningMessage.Decode(encoded).Encode());
    }
}
