using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;

namespace Satflow.Node;

/// <summary>One funded channel as the node holds it: the state machine, its monitor and the node's bookkeeping.</summary>
internal sealed class ChannelSlot
{
    private ChannelSlot(NodeId peer, uint keyIndex, LocalChannelKeys keys, Channel channel, ChannelMonitor monitor, ChannelId? temporaryChannelId)
    {
        TemporaryChannelId = temporaryChannelId;
        Peer = peer;
        KeyIndex = keyIndex;
        Keys = keys;
        Channel = channel;
        Monitor = monitor;
    }

    public NodeId Peer { get; }

    /// <summary>Set while the node settles or fails this channel's committed incoming HTLCs (guards re-entry).</summary>
    public bool DecidingReceived { get; set; }

    /// <summary>The temporary id of the opening (only while the node runs; not persisted).</summary>
    public ChannelId? TemporaryChannelId { get; }

    public uint KeyIndex { get; }

    public LocalChannelKeys Keys { get; }

    public Channel Channel { get; }

    public ChannelMonitor Monitor { get; }

    public ChannelId ChannelId => Channel.ChannelId;

    public int? FundingConfirmedHeight { get; set; }

    public ShortChannelId? ShortChannelId { get; set; }

    /// <summary>Whether the channel is public (<c>announce_channel</c>; persisted with the channel state).</summary>
    public bool IsPublic => Channel.AnnounceChannel;

    /// <summary>The funding transaction (funder only) until it confirms.</summary>
    public Transaction? FundingTransaction { get; set; }

    /// <summary>The monitor reported the channel fully resolved.</summary>
    public bool FullyResolved { get; set; }

    /// <summary>Writes waiting for the next channel write (local updates not sent yet).</summary>
    public List<Storage.KvOperation> DeferredOps { get; } = [];

    /// <summary>Messages of local updates not sent yet (sent after the next write).</summary>
    public List<Satflow.Lightning.Messages.LightningMessage> DeferredMessages { get; } = [];

    /// <summary>Transactions to broadcast after the next write.</summary>
    public List<MonitorBroadcast> DeferredBroadcasts { get; } = [];

    /// <summary>Whether the monitor changed since it was last written.</summary>
    public bool DeferredMonitorChange { get; set; }

    /// <summary>Whether anything waits in the outbox.</summary>
    public bool HasDeferred => DeferredOps.Count > 0 || DeferredMessages.Count > 0 || DeferredBroadcasts.Count > 0 || DeferredMonitorChange;

    /// <summary>The channel holds uncommitted peer updates that were not written (they need no write).</summary>
    public bool UnpersistedChanges { get; set; }

    public static ChannelSlot Create(NodeId peer, uint keyIndex, LocalChannelKeys keys, Channel channel, ChannelMonitor monitor, ChannelId temporaryChannelId) =>
        new(peer, keyIndex, keys, channel, monitor, temporaryChannelId);

    public static ChannelSlot Restore(ChannelRecord record, LocalChannelKeys keys, ReadOnlyMemory<byte> monitorBytes, IClaimFeeWallet? feeWallet)
    {
        Channel channel;
        ChannelMonitor monitor;
        try
        {
            channel = Channel.Deserialize(record.ChannelBytes.Span, keys);
        }
        catch (ChannelSerializationException e)
        {
            throw new NodeStateCorruptException($"A channel state is unreadable: {e.Message}", e);
        }
        try
        {
            monitor = ChannelMonitor.Deserialize(monitorBytes.Span, keys, feeWallet);
        }
        catch (ChannelMonitorException e)
        {
            throw new NodeStateCorruptException($"A channel monitor is unreadable: {e.Message}", e);
        }
        return new ChannelSlot(record.Peer, record.KeyIndex, keys, channel, monitor, null)
        {
            FundingConfirmedHeight = record.FundingConfirmedHeight,
            ShortChannelId = record.ShortChannelId,
            FundingTransaction = record.FundingTransaction,
        };
    }

    public ChannelRecord ToRecord() => new(Peer, KeyIndex, FundingConfirmedHeight, ShortChannelId, FundingTransaction, Channel.Serialize());

    /// <summary>The operations persisting the channel and, when it changed, the monitor.</summary>
    public IEnumerable<Storage.KvOperation> Persist(bool monitorChanged = true)
    {
        yield return NodeStore.WriteChannel(ChannelId, ToRecord().Encode());
        if (monitorChanged)
        {
            yield return NodeStore.WriteMonitor(ChannelId, Monitor.Serialize());
        }
    }
}
