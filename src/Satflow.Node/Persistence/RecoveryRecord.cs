using System.Buffers.Binary;
using NBitcoin;
using Satflow.Lightning.Backup;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Node.Persistence;

/// <summary>
/// A channel being recovered from a static channel backup, as stored under <c>node/recovery/&lt;channel id hex&gt;</c>:
/// the backup entry (as a one-entry backup file, encrypted with the node seed), the sweep destination and the
/// <see cref="RecoveryMonitor"/> state.
/// </summary>
/// <param name="Backup">The one-entry encrypted backup of the channel.</param>
/// <param name="Destination">Where recovered funds go.</param>
/// <param name="Monitor">The serialized recovery monitor.</param>
public sealed record RecoveryRecord(byte[] Backup, Script Destination, byte[] Monitor)
{
    /// <summary>Secondary namespace (under <see cref="NodeStore.PrimaryNamespace"/>) of channels being recovered.</summary>
    public const string Namespace = "recovery";

    /// <summary>The record's bytes: u32 backup length, backup, u32 script length, script, monitor.</summary>
    public byte[] Encode()
    {
        var script = Destination.ToBytes(true);
        var bytes = new byte[8 + Backup.Length + script.Length + Monitor.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Backup.Length);
        Backup.CopyTo(bytes, 4);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + Backup.Length), (uint)script.Length);
        script.CopyTo(bytes, 8 + Backup.Length);
        Monitor.CopyTo(bytes, 8 + Backup.Length + script.Length);
        return bytes;
    }

    /// <summary>Parses a stored record.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <exception cref="NodeStateCorruptException">When the lengths do not fit the data.</exception>
    public static RecoveryRecord Decode(ReadOnlySpan<byte> data)
    {
        var backup = Slice(ref data, "backup");
        var script = Slice(ref data, "destination");
        return new RecoveryRecord(backup, new Script(script), data.ToArray());
    }

    private static byte[] Slice(ref ReadOnlySpan<byte> data, string what)
    {
        if (data.Length < 4 || BinaryPrimitives.ReadUInt32BigEndian(data) > (uint)(data.Length - 4))
        {
            throw new NodeStateCorruptException($"The recovery record's {what} is truncated.");
        }
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
        var slice = data.Slice(4, length).ToArray();
        data = data[(4 + length)..];
        return slice;
    }

    /// <summary>An operation writing a recovery record.</summary>
    /// <param name="channelId">The channel.</param>
    /// <param name="record">The record.</param>
    public static KvOperation Write(ChannelId channelId, RecoveryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return KvOperation.Write(NodeStore.PrimaryNamespace, Namespace, NodeStore.KeyOf(channelId), record.Encode());
    }

    /// <summary>An operation removing a recovery record (the channel is fully resolved).</summary>
    /// <param name="channelId">The channel.</param>
    public static KvOperation Remove(ChannelId channelId) => KvOperation.Remove(NodeStore.PrimaryNamespace, Namespace, NodeStore.KeyOf(channelId));
}
