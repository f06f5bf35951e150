using Microsoft.Extensions.Logging;
using Satflow.Lightning.Types;

namespace Satflow.Node;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Restored {Channels} channels, {Offered} offered and {Received} undecided received HTLCs")]
    public static partial void Restored(ILogger logger, int channels, int offered, int received);

    [LoggerMessage(2, LogLevel.Warning, "Peer {Peer} warned: {Text}")]
    public static partial void PeerWarning(ILogger logger, NodeId peer, string text);

    [LoggerMessage(3, LogLevel.Warning, "Peer {Peer} sent an error for {ChannelId}: {Text}")]
    public static partial void PeerError(ILogger logger, NodeId peer, ChannelId channelId, string text);

    [LoggerMessage(4, LogLevel.Warning, "Channel {ChannelId} with {Peer}: protocol violation, force closing: {Text}")]
    public static partial void ProtocolViolation(ILogger logger, ChannelId channelId, NodeId peer, string text);

    [LoggerMessage(5, LogLevel.Warning, "Broadcast of {TxId} ({Purpose}) failed: {Reason}")]
    public static partial void BroadcastFailed(ILogger logger, NBitcoin.uint256 txId, string purpose, string reason);

    [LoggerMessage(6, LogLevel.Information, "Channel {ChannelId} with {Peer} funded ({Capacity})")]
    public static partial void ChannelFunded(ILogger logger, ChannelId channelId, NodeId peer, NBitcoin.Money capacity);

    [LoggerMessage(7, LogLevel.Warning, "Opening with {Peer} failed: {Text}")]
    public static partial void OpeningFailed(ILogger logger, NodeId peer, string text);

    [LoggerMessage(8, LogLevel.Information, "Channel {ChannelId}: {Text}")]
    public static partial void ChannelNote(ILogger logger, ChannelId channelId, string text);
}
