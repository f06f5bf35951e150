using System.Net;
using Microsoft.Extensions.Logging;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Listening for Lightning peers on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Peer {NodeId} connected ({Direction}, {EndPoint})")]
    public static partial void PeerConnected(ILogger logger, NodeId nodeId, PeerDirection direction, EndPoint endPoint);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Peer {NodeId} disconnected: {Reason}")]
    public static partial void PeerDisconnected(ILogger logger, NodeId nodeId, DisconnectReason reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Connection with {EndPoint} failed: {Reason} ({Detail})")]
    public static partial void ConnectionFailed(ILogger logger, EndPoint? endPoint, DisconnectReason reason, string detail);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Closing peer {NodeId}: {Reason} ({Detail})")]
    public static partial void ClosingPeer(ILogger logger, NodeId nodeId, DisconnectReason reason, string detail);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "The message handler failed for peer {NodeId}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, NodeId nodeId);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Ignoring message type {Type} from {NodeId}")]
    public static partial void IgnoredMessage(ILogger logger, ushort type, NodeId nodeId);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Reconnecting to {NodeId} at {EndPoint} in {Delay}")]
    public static partial void Reconnecting(ILogger logger, NodeId nodeId, EndPoint endPoint, TimeSpan delay);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "Unexpected failure in the connection with {NodeId}")]
    public static partial void LoopFailed(ILogger logger, Exception exception, NodeId nodeId);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Accept loop failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);
}
