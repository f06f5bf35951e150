using NBitcoin;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Gossip;

public sealed partial class GossipStore
{
    private const byte RecordVersion = 1;
    private const byte ChannelRecordType = 1;
    private const byte NodeRecordType = 2;

    /// <summary>
    /// The persisted form of a stored channel (version 1): its announcement, capacity, funding outpoint, announcement
    /// time and both updates, as the wire encodings.
    /// </summary>
    /// <param name="shortChannelId">A stored channel.</param>
    /// <exception cref="KeyNotFoundException">When the channel is not stored.</exception>
    public byte[] EncodeChannel(ShortChannelId shortChannelId)
    {
        var c = _channels[shortChannelId];
        var w = new WireWriter(800).WriteByte(RecordVersion).WriteByte(ChannelRecordType);
        WriteMessage(w, c.Announcement);
        w.WriteUInt64((ulong)c.Capacity.Satoshi).WriteBytes(c.FundingOutPoint.Hash.ToBytes()).WriteUInt32(c.FundingOutPoint.N).WriteUInt32(c.AnnouncedAt);
        foreach (var update in new[] { c.Update1, c.Update2 })
        {
            w.WriteByte(update is null ? (byte)0 : (byte)1);
            if (update is not null)
            {
                WriteMessage(w, update);
            }
        }
        return w.ToArray();
    }

    /// <summary>The persisted form of a stored node announcement (version 1).</summary>
    /// <param name="nodeId">A node with a stored announcement.</param>
    /// <exception cref="KeyNotFoundException">When no announcement is stored.</exception>
    public byte[] EncodeNode(NodeId nodeId)
    {
        var w = new WireWriter(200).WriteByte(RecordVersion).WriteByte(NodeRecordType);
        WriteMessage(w, _nodes[nodeId]);
        return w.ToArray();
    }

    /// <summary>
    /// Restores a store from persisted records (<see cref="EncodeChannel"/>, <see cref="EncodeNode"/>). The records are
    /// trusted (they were validated when received); only their format is checked. Nothing is marked changed.
    /// </summary>
    /// <param name="chainHash">The chain.</param>
    /// <param name="channelRecords">The channel records.</param>
    /// <param name="nodeRecords">The node records.</param>
    /// <param name="graph">The graph to fill (a new one when null).</param>
    /// <param name="options">Policy.</param>
    /// <exception cref="GossipStoreFormatException">A record is unreadable.</exception>
    public static GossipStore Restore(ChainHash chainHash, IEnumerable<ReadOnlyMemory<byte>> channelRecords, IEnumerable<ReadOnlyMemory<byte>> nodeRecords, Routing.NetworkGraph? graph = null, GossipOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(channelRecords);
        ArgumentNullException.ThrowIfNull(nodeRecords);
        var store = new GossipStore(chainHash, graph, options);
        foreach (var record in channelRecords)
        {
            var channel = DecodeChannel(record.Span);
            if (channel.Announcement.ChainHash != chainHash)
            {
                throw new GossipStoreFormatException($"channel {channel.ShortChannelId} is for another chain");
            }
            store.Insert(channel);
        }
        foreach (var record in nodeRecords)
        {
            var node = DecodeNode(record.Span);
            store._nodes[node.NodeId] = node;
            store.Graph.AddNode(node.NodeId);
        }
        store.TakeChanges();
        return store;
    }

    /// <summary>Decodes a channel record.</summary>
    /// <param name="record">The bytes of <see cref="EncodeChannel"/>.</param>
    /// <exception cref="GossipStoreFormatException">The record is unreadable.</exception>
    public static GossipChannel DecodeChannel(ReadOnlySpan<byte> record)
    {
        try
        {
            var r = new WireReader(record);
            ReadHeader(ref r, ChannelRecordType);
            var announcement = ReadMessage<ChannelAnnouncement>(ref r);
            var capacity = r.ReadUInt64();
            if (capacity > 21_000_000UL * 100_000_000UL)
            {
                throw new GossipStoreFormatException("capacity out of range");
            }
            var outPoint = new OutPoint(new uint256(r.ReadSpan(32)), r.ReadUInt32());
            var announcedAt = r.ReadUInt32();
            var updates = new ChannelUpdate?[2];
            for (var d = 0; d < 2; d++)
            {
                updates[d] = r.ReadByte() switch
                {
                    0 => null,
                    1 => ReadMessage<ChannelUpdate>(ref r),
                    var other => throw new GossipStoreFormatException($"bad update marker {other}"),
                };
                if (updates[d] is { } u && (u.Direction != d || u.ShortChannelId != announcement.ShortChannelId))
                {
                    throw new GossipStoreFormatException("update stored under the wrong channel or direction");
                }
            }
            r.EnsureEnd("gossip channel record");
            if (announcement.NodeId1.CompareTo(announcement.NodeId2) >= 0)
            {
                throw new GossipStoreFormatException("node ids not ordered");
            }
            return new GossipChannel(announcement, Money.Satoshis((long)capacity), outPoint, announcedAt, updates[0], updates[1]);
        }
        catch (GossipStoreFormatException)
        {
            throw;
        }
        catch (WireFormatException e)
        {
            throw new GossipStoreFormatException(e.Message, e);
        }
    }

    /// <summary>Decodes a node record.</summary>
    /// <param name="record">The bytes of <see cref="EncodeNode"/>.</param>
    /// <exception cref="GossipStoreFormatException">The record is unreadable.</exception>
    public static NodeAnnouncement DecodeNode(ReadOnlySpan<byte> record)
    {
        try
        {
            var r = new WireReader(record);
            ReadHeader(ref r, NodeRecordType);
            var node = ReadMessage<NodeAnnouncement>(ref r);
            r.EnsureEnd("gossip node record");
            return node;
        }
        catch (GossipStoreFormatException)
        {
            throw;
        }
        catch (WireFormatException e)
        {
            throw new GossipStoreFormatException(e.Message, e);
        }
    }

    private static void ReadHeader(ref WireReader r, byte type)
    {
        var version = r.ReadByte();
        if (version != RecordVersion)
        {
            throw new GossipStoreFormatException($"unknown record version {version}");
        }
        var actual = r.ReadByte();
        if (actual != type)
        {
            throw new GossipStoreFormatException($"record type {actual}, expected {type}");
        }
    }

    private static void WriteMessage(WireWriter w, LightningMessage message)
    {
        var bytes = message.Encode();
        w.WriteUInt16(checked((ushort)bytes.Length)).WriteBytes(bytes);
    }

    private static T ReadMessage<T>(ref WireReader r)
        where T : LightningMessage
    {
        var bytes = r.ReadSpan(r.ReadUInt16());
        return LightningMessage.Decode(bytes) as T ?? throw new GossipStoreFormatException($"expected a {typeof(T).Name}");
    }
}
