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
            for (var i = 0; i < take; i++)
            {
                output[offset + i] = (byte)(input[offset + i] ^ block[i]);
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

    private static void ComputeBlock(ReadOnlySpan<uint> state, Span<uint> x)
    {
        state.CopyTo(x);
        for (var round = 0; round < 10; round++)
        {
            QuarterRound(x, 0, 4, 8, 12);
            QuarterRound(x, 1, 5, 9, 13);
            QuarterRound(x, 2, 6, 10, 14);
            QuarterRound(x, 3, 7, 11, 15);
            QuarterRound(x, 0, 5, 10, 15);
            QuarterRound(x, 1, 6, 11, 12);
            QuarterRound(x, 2, 7, 8, 13);
            QuarterRound(x, 3, 4, 9, 14);
        }
        for (var i = 0; i < 16; i++)
        {
            x[i] += state[i];
        }
    }

    private static void QuarterRound(Span<uint> x, int a, int b, int c, int d)
    {
        x[a] += x[b]; x[d] = BitOperations.RotateLeft(x[d] ^ x[a], 16);
        x[c] += x[d]; x[b] = BitOperations.RotateLeft(x[b] ^ x[c], 12);
        x[a] += x[b]; x[d] = BitOperations.RotateLeft(x[d] ^ x[a], 8);
        x[c] += x[d]; x[b] = BitOperations.RotateLeft(x[b] ^ x[c], 7);
    }
}
