using System.Buffers.Binary;
using System.Numerics;

namespace Satflow.Lightning.Onion;

/// <summary>
/// The raw ChaCha20 stream cipher of RFC 8439 (32-byte key, 96-bit nonce, 32-bit block counter). .NET only exposes
/// the ChaCha20-Poly1305 AEAD, while BOLT 4 needs the bare key stream (zero nonce) to obfuscate onions and errors.
/// </summary>
public static class ChaCha20
{
    /// <summary>Key length in bytes.</summary>
    public const int KeyLength = 32;

    /// <summary>Nonce length in bytes.</summary>
    public const int NonceLength = 12;

    /// <summary>Block length in bytes.</summary>
    public const int BlockLength = 64;

    /// <summary>Computes one 64-byte ChaCha20 block (RFC 8439 section 2.3).</summary>
    /// <param name="key">The 32-byte key.</param>
    /// <param name="counter">The block counter.</param>
    /// <param name="nonce">The 12-byte nonce.</param>
    /// <param name="output">Receives the 64 key stream bytes.</param>
    /// <exception cref="ArgumentException">When a length is wrong.</exception>
    public static void Block(ReadOnlySpan<byte> key, uint counter, ReadOnlySpan<byte> nonce, Span<byte> output)
    {
        CheckLengths(key, nonce);
        if (output.Length < BlockLength)
        {
            throw new ArgumentException("The output must hold 64 bytes.", nameof(output));
        }
        Span<uint> state = stackalloc uint[16];
        InitState(state, key, nonce);
        state[12] = counter;
        Span<uint> working = stackalloc uint[16];
        ComputeBlock(state, working);
        for (var i = 0; i < 16; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output[(i * 4)..], working[i]);
        }
    }

    /// <summary>
    /// XORs <paramref name="input"/> with the key stream starting at block <paramref name="counter"/> into
    /// <paramref name="output"/> (encryption and decryption are the same operation). The spans may overlap exactly.
    /// </summary>
    /// <exception cref="ArgumentException">When a length is wrong.</exception>
    public static void Xor(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, uint counter, ReadOnlySpan<byte> input, Span<byte> output)
    {
        CheckLengths(key, nonce);
        if (output.Length < input.Length)
        {
            throw new ArgumentException("The output is shorter than the input.", nameof(output));
        }
        Span<uint> state = stackalloc uint[16];
        InitState(state, key, nonce);
        state[12] = counter;
        Span<uint> working = stackalloc uint[16];
        Span<byte> block = stackalloc byte[BlockLength];
        var offset = 0;
        while (offset < input.Length)
        {
            ComputeBlock(state, working);
            for (var i = 0; i < 16; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(block[(i * 4)..], working[i]);
            }
            var take = Math.Min(BlockLength, input.Length - offset);
            if (take == BlockLength)
            {
                var keyStream = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(block);
                var source = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(input.Slice(offset, BlockLength));
                var target = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(output.Slice(offset, BlockLength));
                for (var i = 0; i < 8; i++)
                {
                    target[i] = source[i] ^ keyStream[i];
                }
            }
            else
            {
                for (var i = 0; i < take; i++)
                {
                    output[offset + i] = (byte)(input[offset + i] ^ block[i]);
                }
            }
            offset += take;
            state[12]++;
        }
        block.Clear();
        working.Clear();
        state.Clear();
    }

    /// <summary>Writes <c>destination.Length</c> key stream bytes for <paramref name="key"/> with a zero nonce and counter 0.</summary>
    public static void KeyStream(ReadOnlySpan<byte> key, Span<byte> destination)
    {
        destination.Clear();
        Span<byte> nonce = stackalloc byte[NonceLength];
        Xor(key, nonce, 0, destination, destination);
    }

    /// <summary>A new array of <paramref name="length"/> key stream bytes (zero nonce, counter 0), as BOLT 4 uses.</summary>
    public static byte[] KeyStream(ReadOnlySpan<byte> key, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var result = new byte[length];
        KeyStream(key, result);
        return result;
    }

    /// <summary>XORs <paramref name="data"/> in place with the zero-nonce key stream of <paramref name="key"/>.</summary>
    public static void XorInPlace(ReadOnlySpan<byte> key, Span<byte> data)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        Xor(key, nonce, 0, data, data);
    }

    private static void CheckLengths(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException("ChaCha20 keys are 32 bytes.", nameof(key));
        }
        if (nonce.Length != NonceLength)
        {
            throw new ArgumentException("ChaCha20 nonces are 12 bytes.", nameof(nonce));
        }
    }

    private static void InitState(Span<uint> state, ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce)
    {
        state[0] = 0x61707865;
        state[1] = 0x3320646e;
        state[2] = 0x79622d32;
        state[3] = 0x6b206574;
        for (var i = 0; i < 8; i++)
        {
            state[4 + i] = BinaryPrimitives.ReadUInt32LittleEndian(key[(i * 4)..]);
        }
        state[12] = 0;
        for (var i = 0; i < 3; i++)
        {
            state[13 + i] = BinaryPrimitives.ReadUInt32LittleEndian(nonce[(i * 4)..]);
        }
    }

    private static void ComputeBlock(ReadOnlySpan<uint> state, Span<uint> output)
    {
        // Sixteen locals instead of span indexing: no bounds checks in the 80 quarter rounds.
        uint x0 = state[0], x1 = state[1], x2 = state[2], x3 = state[3];
        uint x4 = state[4], x5 = state[5], x6 = state[6], x7 = state[7];
        uint x8 = state[8], x9 = state[9], x10 = state[10], x11 = state[11];
        uint x12 = state[12], x13 = state[13], x14 = state[14], x15 = state[15];
        for (var round = 0; round < 10; round++)
        {
            QuarterRound(ref x0, ref x4, ref x8, ref x12);
            QuarterRound(ref x1, ref x5, ref x9, ref x13);
            QuarterRound(ref x2, ref x6, ref x10, ref x14);
            QuarterRound(ref x3, ref x7, ref x11, ref x15);
            QuarterRound(ref x0, ref x5, ref x10, ref x15);
            QuarterRound(ref x1, ref x6, ref x11, ref x12);
            QuarterRound(ref x2, ref x7, ref x8, ref x13);
            QuarterRound(ref x3, ref x4, ref x9, ref x14);
        }
        output[0] = x0 + state[0];
        output[1] = x1 + state[1];
        output[2] = x2 + state[2];
        output[3] = x3 + state[3];
        output[4] = x4 + state[4];
        output[5] = x5 + state[5];
        output[6] = x6 + state[6];
        output[7] = x7 + state[7];
        output[8] = x8 + state[8];
        output[9] = x9 + state[9];
        output[10] = x10 + state[10];
        output[11] = x11 + state[11];
        output[12] = x12 + state[12];
        output[13] = x13 + state[13];
        output[14] = x14 + state[14];
        output[15] = x15 + state[15];
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void QuarterRound(ref uint a, ref uint b, ref uint c, ref uint d)
    {
        a += b; d = BitOperations.RotateLeft(d ^ a, 16);
        c += d; b = BitOperations.RotateLeft(b ^ c, 12);
        a += b; d = BitOperations.RotateLeft(d ^ a, 8);
        c += d; b = BitOperations.RotateLeft(b ^ c, 7);
    }
}
