using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;

namespace Satflow.Node;

/// <summary>A channel as the node reports it.</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Peer">The peer.</param>
/// <param name="State">The state machine's state.</param>
/// <param name="IsOffline">Whether the peer is disconnected.</param>
/// <param name="IsFunder">Whether we opened it.</param>
/// <param name="Capacity">The funding amount.</param>
/// <param name="FundingOutPoint">The funding outpoint.</param>
/// <param name="ShortChannelId">The short channel id, once the funding transaction confirmed.</param>
/// <param name="LocalBalance">Our balance in our latest commitment (HTLCs excluded).</param>
/// <param name="RemoteBalance">The peer's balance in our latest commitment (HTLCs excluded).</param>
/// <param name="AvailableToSend">What we could send now.</param>
/// <param name="PendingHtlcs">HTLCs in flight.</param>
public sealed record NodeChannel(
    ChannelId ChannelId,
    NodeId Peer,
    ChannelState State,
    bool IsOffline,
    bool IsFunder,
    Money Capacity,
    OutPoint FundingOutPoint,
    ShortChannelId? ShortChannelId,
    MilliSatoshi LocalBalance,
    MilliSatoshi RemoteBalance,
    MilliSatoshi AvailableToSend,
    int PendingHtlcs)
{
    /// <summary>Whether the channel is public (announced to the network once 6 blocks deep) rather than private.</summary>
    public bool IsPublic { get; init; }
}

/// <summary>The node's identity and counters.</summary>
/// <param name="NodeId">Our node id.</param>
/// <param name="Alias">Our alias.</param>
/// <param name="Network">The network.</param>
/// <param name="BlockHeight">The last block height seen (-1 before the first).</param>
/// <param name="PeerCount">Connected peers.</param>
/// <param name="ChannelCount">Known channels (open or closing).</param>
/// <param name="ActiveChannelCount">Channels in the normal state with their peer online.</param>
public sealed record NodeStatus(NodeId NodeId, string Alias, Lightning.Invoices.Bolt11Network Network, int BlockHeight, int PeerCount, int ChannelCount, int ActiveChannelCount);

public sealed partial class LightningNode
{
    /// <summary>The node's identity and counters.</summary>
    public NodeStatus GetInfo()
    {
        var channels = ListChannels();
        return new NodeStatus(NodeId, _options.Alias, _options.Network, _height, ListPeers().Count, channels.Count, channels.Count(c => c.State == ChannelState.Normal && !c.IsOffline));
    }

    /// <summary>Every channel the node holds (open, closing, or closed and not yet resolved on chain).</summary>
    public IReadOnlyList<NodeChannel> ListChannels()
    {
        _gate.Wait();
        try
        {
            return [.. _channels.Values.OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).Select(Describe)];
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>One channel, or null.</summary>
    /// <param name="channelId">The channel id.</param>
    public NodeChannel? GetChannel(ChannelId channelId)
    {
        _gate.Wait();
        try
        {
            return _channels.TryGetValue(channelId, out var slot) ? Describe(slot) : null;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The transaction closing a channel, once known: the cooperative closing transaction, or our commitment after a force close.</summary>
    /// <param name="channelId">The channel id.</param>
    public uint256? GetClosingTransactionId(ChannelId channelId)
    {
        _gate.Wait();
        try
        {
            if (!_channels.TryGetValue(channelId, out var slot))
            {
                return null;
            }
            return slot.Channel.ClosingTransaction?.GetHash() ?? (slot.Monitor.IsForceClosed ? slot.Monitor.LocalCommitmentTxId : null);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The HTLCs of a channel (empty for an unknown channel).</summary>
    /// <param name="channelId">The channel id.</param>
    public IReadOnlyList<ChannelHtlc> GetHtlcs(ChannelId channelId)
    {
        _gate.Wait();
        try
        {
            return _channels.TryGetValue(channelId, out var slot) ? slot.Channel.Htlcs : [];
        }
        finally
        {
            _gate.Release();
        }
    }

    private static NodeChannel Describe(ChannelSlot s)
    {
        var c = s.Channel;
        return new NodeChannel(
            s.ChannelId, s.Peer, c.State, c.IsOffline, c.Parameters.LocalIsFunder, c.Parameters.FundingAmount, c.Parameters.FundingOutPoint,
            s.ShortChannelId ?? c.ShortChannelId, c.LocalBalance, c.RemoteBalance, c.AvailableToSend, c.Htlcs.Count)
        {
            IsPublic = s.IsPublic,
        };
    }

    /// <summary>
    /// Closes a channel: cooperatively (our <c>shutdown</c>, pending HTLCs settle, then the closing negotiation; the
    /// closing transaction is broadcast when agreed), or by force (the monitor broadcasts our latest commitment and
    /// sweeps our outputs as they mature).
    /// </summary>
    /// <param name="channelId">The channel.</param>
    /// <param name="force">Force close.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="NodeOperationRefusedException">Unknown channel, or a cooperative close the channel refuses now.</exception>
    public async Task CloseChannelAsync(ChannelId channelId, bool force, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_channels.TryGetValue(channelId, out var slot))
            {
                throw new NodeOperationRefusedException(NodeErrorReason.NotFound, $"No channel {channelId}.");
            }
            ChannelOutput output;
            if (force)
            {
                output = slot.Channel.ForceClose("closed by the operator");
            }
            else
            {
                if (slot.Channel.IsOffline)
                {
                    throw new NodeOperationRefusedException(NodeErrorReason.PeerNotConnected, $"A cooperative close needs the peer {slot.Peer} online.");
                }
                try
                {
                    output = slot.Channel.Shutdown(_deps.FundingWallet.GetSweepScript());
                }
                catch (ChannelUpdateRefusedException e)
                {
                    throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The channel cannot start closing now: " + e.Message, e);
                }
            }
            await ApplyAsync(slot, output, [], cancellationToken).ConfigureAwait(false);
            await WriteBackupAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
