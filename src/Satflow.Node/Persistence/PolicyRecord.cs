using System.Buffers.Binary;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Node.Persistence;

/// <summary>
/// A channel's own forwarding policy, stored under <c>node/policies/&lt;channel id hex&gt;</c>: version, base fee (u64),
/// proportional fee (u32), CLTV delta (u16), HTLC minimum (u64), then a flag and the HTLC maximum (u64).
/// </summary>
public static class PolicyRecord
{
    /// <summary>Secondary namespace (under <see cref="NodeStore.PrimaryNamespace"/>) of per-channel policies.</summary>
    public const string Namespace = "policies";

    private const byte Version = 1;

    private const int Length = 1 + 8 + 4 + 2 + 8 + 1 + 8;

    /// <summary>An operation writing a channel's policy.</summary>
    /// <param name="channelId">The channel.</param>
    /// <param name="policy">Its policy.</param>
    public static KvOperation Write(ChannelId channelId, ForwardingPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var bytes = new byte[Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(1), policy.BaseFee.Value);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(9), policy.FeeProportionalMillionths);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(13), policy.CltvExpiryDelta);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(15), policy.HtlcMinimum.Value);
        bytes[23] = policy.HtlcMaximum is null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(24), policy.HtlcMaximum?.Value ?? 0);
        return KvOperation.Write(NodeStore.PrimaryNamespace, Namespace, NodeStore.KeyOf(channelId), bytes);
    }

    /// <summary>An operation removing a channel's policy (the channel is gone).</summary>
    /// <param name="channelId">The channel.</param>
    public static KvOperation Remove(ChannelId channelId) => KvOperation.Remove(NodeStore.PrimaryNamespace, Namespace, NodeStore.KeyOf(channelId));

    /// <summary>Decodes a stored policy.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Wrong length, version or flag.</exception>
    public static ForwardingPolicy Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length != Length || data[0] != Version || data[23] > 1)
        {
            throw new NodeStateCorruptException($"A channel policy record must be {Length} bytes of version {Version}.");
        }
        return new ForwardingPolicy(
            new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[1..])),
            BinaryPrimitives.ReadUInt32BigEndian(data[9..]),
            BinaryPrimitives.ReadUInt16BigEndian(data[13..]),
            new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[15..])),
            data[23] == 1 ? new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[24..])) : null);
    }
}
