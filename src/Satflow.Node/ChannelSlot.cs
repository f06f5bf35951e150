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

    /// <summary>The temporary id of the opening (only while the node runs; not persisted).</summary>
    public ChannelId? TemporaryChannelId { get; }

    public uint KeyIndex { get; }

    public LocalChannelKeys Keys { get; }

    public Channel Channel { get; }

    public ChannelMonitor Monitor { get; }

    public ChannelId ChannelId => Channel.ChannelId;

    public int? FundingConfirmedHeight { get; set; }

    public ShortChannelId? ShortChannelId { get; set; }

    /// <summary>The funding transaction (funder only) until it confirms.</summary>
    public Transaction? FundingTransaction { get; set; }

    /// <summary>The closing or commitment transaction that closed the channel, once seen.</summary>
    public bool FullyResolved { get; set; }

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
