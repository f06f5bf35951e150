using System.Buffers.Binary;
using System.Security.Cryptography;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Onion;

/// <summary>
/// BOLT 4 attributable failures and hold times: the 920-byte <c>attribution_data</c> of <c>update_fail_htlc</c> and
/// <c>update_fulfill_htlc</c>: 20 big-endian u32 hold times (units of 100 ms) followed by 210 HMACs truncated to 4
/// bytes (20 for the nearest hop, 19 for the next, … 1), obfuscated at each hop with the <c>ammagext</c> stream.
/// </summary>
/// <remarks>
/// HMAC <c>j</c> of a hop assumes it is <c>19 - j</c> hops away from the erring node (or the final node for
/// successes) and covers the return packet before this hop's <c>ammag</c> layer, the first <c>y + 1</c> hold times
/// and the <c>y</c> downstream HMACs for the matching positions.
/// </remarks>
public static class AttributionData
{
    /// <summary>The maximum route length the data covers.</summary>
    public const int MaxHops = 20;

    /// <summary>Bytes per hold time.</summary>
    public const int HoldTimeLength = 4;

    /// <summary>Bytes per truncated HMAC.</summary>
    public const int HmacLength = 4;

    /// <summary>The serialized length: 80 bytes of hold times and 840 bytes of HMACs.</summary>
    public const int Length = (MaxHops * HoldTimeLength) + (MaxHops * (MaxHops + 1) / 2 * HmacLength);

    private const int HoldTimesLength = MaxHops * HoldTimeLength;

    /// <summary>
    /// Adds this hop's hold time and HMACs to the attribution data received from downstream (or to an all-zero block
    /// at the erring or final node) and obfuscates the result.
    /// </summary>
    /// <param name="previous">The 920 bytes received from downstream, or empty to start a new block.</param>
    /// <param name="returnPacket">The failure packet before this hop's <c>ammag</c> layer, or empty for a success.</param>
    /// <param name="holdTime">This hop's hold time in units of 100 ms.</param>
    /// <param name="sharedSecret">The shared secret of this hop's onion layer.</param>
    /// <exception cref="ArgumentException">When <paramref name="previous"/> is neither empty nor 920 bytes.</exception>
    public static byte[] Create(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> returnPacket, uint holdTime, Bytes32 sharedSecret)
    {
        if (!previous.IsEmpty && previous.Length != Length)
        {
            throw new ArgumentException($"Attribution data is {Length} bytes.", nameof(previous));
        }
        var prev = previous.IsEmpty ? new byte[Length] : previous.ToArray();
        var result = new byte[Length];
        BinaryPrimitives.WriteUInt32BigEndian(result, holdTime);
        prev.AsSpan(0, HoldTimesLength - HoldTimeLength).CopyTo(result.AsSpan(HoldTimeLength));
        // Blocks 1..19 are the previous blocks 0..18 without their first (now out of range) HMAC.
        for (var block = 1; block < MaxHops; block++)
        {
            var count = MaxHops - block;
            prev.AsSpan(HmacOffset(block - 1, 1), count * HmacLength).CopyTo(result.AsSpan(HmacOffset(block, 0)));
        }
        var um = SphinxCrypto.GenerateKey(SphinxCrypto.Um, sharedSecret).ToArray();
        Span<byte> mac = stackalloc byte[32];
        for (var i = 0; i < MaxHops; i++)
        {
            ComputeHmac(um, returnPacket, result, i, mac);
            mac[..HmacLength].CopyTo(result.AsSpan(HmacOffset(0, i)));
        }
        Cipher(result, sharedSecret);
        return result;
    }

    /// <summary>
    /// Converts a hold time to the unit of <c>htlc_hold_times</c> (100 ms, rounded down, saturating at
    /// <see cref="uint.MaxValue"/>; negative durations count as zero).
    /// </summary>
    public static uint ToHoldTimeUnits(TimeSpan holdTime)
    {
        if (holdTime <= TimeSpan.Zero)
        {
            return 0;
        }
        var units = holdTime.Ticks / (TimeSpan.TicksPerMillisecond * 100);
        return units >= uint.MaxValue ? uint.MaxValue : (uint)units;
    }

    /// <summary>
    /// Removes one hop's layer at the origin and verifies that hop's HMACs for every position it may hold.
    /// </summary>
    /// <param name="encrypted">The 920 bytes as received for this hop.</param>
    /// <param name="returnPacket">The failure packet with this hop's <c>ammag</c> layer removed, or empty for a success.</param>
    /// <param name="sharedSecret">The hop's shared secret.</param>
    /// <param name="remainingHops">How many positions to verify: <see cref="VerifiablePositions"/> (1 to 20).</param>
    /// <param name="holdTime">The hop's reported hold time (units of 100 ms).</param>
    /// <param name="next">The attribution data for the next hop.</param>
    /// <returns>True when the HMACs verify.</returns>
    public static bool TryUnwrap(ReadOnlySpan<byte> encrypted, ReadOnlySpan<byte> returnPacket, Bytes32 sharedSecret, int remainingHops, out uint holdTime, out byte[] next)
    {
        holdTime = 0;
        next = [];
        if (encrypted.Length != Length || remainingHops < 1 || remainingHops > MaxHops)
        {
            return false;
        }
        var bytes = encrypted.ToArray();
        Cipher(bytes, sharedSecret);
        var um = SphinxCrypto.GenerateKey(SphinxCrypto.Um, sharedSecret).ToArray();
        Span<byte> mac = stackalloc byte[32];
        var valid = true;
        for (var i = MaxHops - remainingHops; i < MaxHops; i++)
        {
            ComputeHmac(um, returnPacket, bytes, i, mac);
            valid &= CryptographicOperations.FixedTimeEquals(mac[..HmacLength], bytes.AsSpan(HmacOffset(0, i), HmacLength));
        }
        if (!valid)
        {
            return false;
        }
        holdTime = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        var result = new byte[Length];
        bytes.AsSpan(HoldTimeLength, HoldTimesLength - HoldTimeLength).CopyTo(result);
        // Block k-1 of the next hop is a zero HMAC followed by block k of this hop.
        for (var block = 1; block < MaxHops; block++)
        {
            var count = MaxHops - block;
            bytes.AsSpan(HmacOffset(block, 0), count * HmacLength).CopyTo(result.AsSpan(HmacOffset(block - 1, 1)));
        }
        next = result;
        return true;
    }

    /// <summary>
    /// Reads the hold times of a success (<c>update_fulfill_htlc</c>) at the origin, verifying each hop in turn.
    /// </summary>
    /// <param name="attributionData">The 920 bytes received from the first hop.</param>
    /// <param name="sharedSecrets">The route's shared secrets.</param>
    /// <param name="failedAtHop">The first hop whose HMACs did not verify, or null.</param>
    /// <returns>The verified hold times in route order (units of 100 ms).</returns>
    public static IReadOnlyList<uint> UnwrapSuccess(ReadOnlySpan<byte> attributionData, IReadOnlyList<Bytes32> sharedSecrets, out int? failedAtHop)
    {
        ArgumentNullException.ThrowIfNull(sharedSecrets);
        failedAtHop = null;
        var holdTimes = new List<uint>();
        var current = attributionData.ToArray();
        var hops = Math.Min(sharedSecrets.Count, MaxHops);
        for (var i = 0; i < hops; i++)
        {
            if (!TryUnwrap(current, [], sharedSecrets[i], VerifiablePositions(i, sharedSecrets.Count), out var holdTime, out var next))
            {
                failedAtHop = i;
                break;
            }
            holdTimes.Add(holdTime);
            current = next;
        }
        return holdTimes;
    }

    /// <summary>
    /// How many of hop <paramref name="hopIndex"/>'s HMACs the origin can check on a route of
    /// <paramref name="routeLength"/> hops: positions beyond the end of the route cannot occur, and each upstream hop
    /// pruned one position.
    /// </summary>
    public static int VerifiablePositions(int hopIndex, int routeLength) =>
        Math.Min(routeLength - hopIndex, MaxHops - hopIndex);

    private static int HmacOffset(int block, int index) =>
        HoldTimesLength + (((MaxHops * block) - (block * (block - 1) / 2) + index) * HmacLength);

    /// <summary>HMAC <paramref name="i"/> of block 0: assumes the hop is <c>19 - i</c> hops from the erring node.</summary>
    private static void ComputeHmac(byte[] um, ReadOnlySpan<byte> returnPacket, byte[] data, int i, Span<byte> mac)
    {
        var y = MaxHops - i;
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, um);
        hmac.AppendData(returnPacket);
        hmac.AppendData(data.AsSpan(0, y * HoldTimeLength));
        for (var j = 0; j < y - 1; j++)
        {
            hmac.AppendData(data.AsSpan(HmacOffset(j + 1, i), HmacLength));
        }
        hmac.GetHashAndReset(mac);
    }

    private static void Cipher(Span<byte> data, Bytes32 sharedSecret) =>
        ChaCha20.XorInPlace(SphinxCrypto.GenerateKey(SphinxCrypto.AmmagExt, sharedSecret).ToArray(), data);
}
