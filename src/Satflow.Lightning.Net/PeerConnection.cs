using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Transport;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Net;

/// <summary>
/// One TCP connection: the BOLT 8 handshake and <c>init</c> exchange (<see cref="EstablishAsync"/>), then a reader
/// loop, a writer loop draining a bounded queue and a ping loop (<see cref="Start"/>). The first
/// <see cref="Close"/> wins; <see cref="Completion"/> ends when every loop has stopped and the socket is closed.
/// </summary>
internal sealed class PeerConnection
{
    /// <summary>How long a closing connection may spend flushing its final message.</summary>
    private static readonly TimeSpan FlushBound = TimeSpan.FromSeconds(1);

    private static readonly ChannelId AllChannels = new(Bytes32.Zero);

    /// <summary>A write batch is closed once it holds this many bytes.</summary>
    private const int BatchBytes = 64 * 1024;

    private readonly PeerManagerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IPeerMessageHandler _handler;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly CancellationTokenSource _cts;
    private readonly Channel<byte[]> _outbound;
    private readonly Queue<byte[]> _pendingMessages = new();
    private readonly byte[] _readBuffer = new byte[16 * 1024];
    private readonly TaskCompletionSource<DisconnectReason> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _pingLock = new();
    private LightningTransport? _transport;
    private TransportMessageReader? _reader;
    private TaskCompletionSource? _pongWaiter;
    private int _expectedPongBytes;
    private int _closing;
    private DisconnectReason _reason;
    private Task _writerTask = Task.CompletedTask;
    private Task _readerTask = Task.CompletedTask;
    private Task _pingTask = Task.CompletedTask;

    public PeerConnection(Socket socket, PeerDirection direction, NodeId? expectedRemote, PeerManagerOptions options, IPeerMessageHandler handler,
        TimeProvider time, ILogger logger, CancellationToken stopping)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Direction = direction;
        NodeId = expectedRemote ?? default;
        RemoteEndPoint = socket.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        _options = options;
        _handler = handler;
        _time = time;
        _logger = logger;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(options.SendQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    public PeerDirection Direction { get; }

    /// <summary>The peer's node id: known up front when we dial, learnt from act three when it dials us.</summary>
    public NodeId NodeId { get; private set; }

    public IPEndPoint RemoteEndPoint { get; }

    public Init? RemoteInit { get; private set; }

    public PeerInfo? Info { get; private set; }

    /// <summary>Ends with the reason once the connection is fully closed.</summary>
    public Task<DisconnectReason> Completion => _completion.Task;

    /// <summary>Set by the manager: ends after the application was told of the disconnection.</summary>
    public Task MonitorTask { get; set; } = Task.CompletedTask;

    /// <summary>Runs the BOLT 8 handshake and the <c>init</c> exchange; on failure closes the socket and throws.</summary>
    /// <exception cref="PeerConnectionException">With the reason of the failure.</exception>
    public async Task EstablishAsync(ECPrivKey nodeKey, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
        await HandshakeAsync(nodeKey, linked.Token).ConfigureAwait(false);
        await ExchangeInitAsync(linked.Token).ConfigureAwait(false);
    }

    private async Task HandshakeAsync(ECPrivKey nodeKey, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        try
        {
            NoiseHandshake handshake;
            if (Direction == PeerDirection.Outbound)
            {
                handshake = NoiseHandshake.Initiator(nodeKey, NodeId);
                await _stream.WriteAsync(handshake.WriteActOne(), token).ConfigureAwait(false);
                var actTwo = new byte[NoiseHandshake.ActTwoLength];
                await _stream.ReadExactlyAsync(actTwo, token).ConfigureAwait(false);
                await _stream.WriteAsync(handshake.ReadActTwo(actTwo), token).ConfigureAwait(false);
            }
            else
            {
                handshake = NoiseHandshake.Responder(nodeKey);
                var actOne = new byte[NoiseHandshake.ActOneLength];
                await _stream.ReadExactlyAsync(actOne, token).ConfigureAwait(false);
                await _stream.WriteAsync(handshake.ReadActOne(actOne), token).ConfigureAwait(false);
                var actThree = new byte[NoiseHandshake.ActThreeLength];
                await _stream.ReadExactlyAsync(actThree, token).ConfigureAwait(false);
                handshake.ReadActThree(actThree);
                NodeId = handshake.RemoteStatic!.Value;
            }
            _transport = handshake.CreateTransport();
            _reader = _transport.CreateReader();
        }
        catch (TransportException e)
        {
            throw await FailAsync(DisconnectReason.HandshakeFailed, e.Message, e).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw await FailAsync(DisconnectReason.HandshakeTimeout, "the handshake did not finish in time", e).ConfigureAwait(false);
        }
        catch (OperationCanceledException e)
        {
            throw await FailAsync(DisconnectReason.ManagerStopped, "cancelled", e).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            throw await FailAsync(DisconnectReason.HandshakeFailed, "the connection dropped during the handshake: " + e.Message, e).ConfigureAwait(false);
        }
    }

    private async Task ExchangeInitAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.InitTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        byte[]? first;
        try
        {
            await WriteFrameAsync(InitPolicy.BuildInit(_options, RemoteEndPoint, Direction).Encode(), token).ConfigureAwait(false);
            first = await ReadMessageAsync(token).ConfigureAwait(false);
        }
        catch (TransportException e)
        {
            throw await FailAsync(DisconnectReason.DecryptionFailed, e.Message, e).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw await FailAsync(DisconnectReason.InitTimeout, "no init in time", e).ConfigureAwait(false);
        }
        catch (OperationCanceledException e)
        {
            throw await FailAsync(DisconnectReason.ManagerStopped, "cancelled", e).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw await FailAsync(DisconnectReason.IoError, e.Message, e).ConfigureAwait(false);
        }
        if (first is null)
        {
            throw await FailAsync(DisconnectReason.RemoteClosed, "closed before init", null).ConfigureAwait(false);
        }
        LightningMessage message;
        try
        {
            message = LightningMessage.Decode(first);
        }
        catch (WireFormatException e)
        {
            await TrySendDirectAsync(new Warning(AllChannels, Encoding.ASCII.GetBytes("malformed init: " + e.Reason))).ConfigureAwait(false);
            throw await FailAsync(DisconnectReason.InitProtocolViolation, "malformed first message: " + e.Message, e).ConfigureAwait(false);
        }
        if (message is not Init init)
        {
            await TrySendDirectAsync(new Warning(AllChannels, Encoding.ASCII.GetBytes("expected init"))).ConfigureAwait(false);
            throw await FailAsync(DisconnectReason.InitProtocolViolation, $"first message has type {message.Type}, not init", null).ConfigureAwait(false);
        }
        if (InitPolicy.Check(_options, init) is { } problem)
        {
            await TrySendDirectAsync(new Warning(AllChannels, Encoding.ASCII.GetBytes(problem.Detail))).ConfigureAwait(false);
            throw await FailAsync(problem.Reason, problem.Detail, null).ConfigureAwait(false);
        }
        RemoteInit = init;
        Info = new PeerInfo(NodeId, RemoteEndPoint, Direction, init.CombinedFeatures, _time.GetUtcNow(), IsPersistent: false);
    }

    /// <summary>Starts the reader, writer and ping loops of an established connection.</summary>
    /// <param name="isPersistent">Whether the manager redials this peer, as reported to the handler.</param>
    public void Start(bool isPersistent)
    {
        Info = Info! with { IsPersistent = isPersistent };
        _cts.Token.Register(() => Close(DisconnectReason.ManagerStopped, null, "stopping"));
        _writerTask = Task.Run(WriterLoopAsync);
        // Run synchronously up to its first timer so the first ping is scheduled before the application hears of the peer.
        _pingTask = PingLoopAsync();
        _readerTask = Task.Run(ReaderLoopAsync);
        _ = FinishWhenStoppedAsync();
    }

    /// <summary>Queues an encoded message; waits while the queue is full.</summary>
    /// <exception cref="PeerNotConnectedException">When the connection is closing or closed.</exception>
    public async ValueTask SendAsync(byte[] message, CancellationToken cancellationToken)
    {
        try
        {
            await _outbound.Writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            throw new PeerNotConnectedException($"Peer {NodeId} is disconnecting.", e);
        }
    }

    /// <summary>
    /// Starts closing (the first call wins): queues <paramref name="finalMessage"/> when there is room, lets the writer
    /// flush for a bounded time, then closes the socket.
    /// </summary>
    public void Close(DisconnectReason reason, LightningMessage? finalMessage, string detail)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }
        _reason = reason;
        if (reason is not (DisconnectReason.LocalRequest or DisconnectReason.ManagerStopped or DisconnectReason.RemoteClosed))
        {
            Log.ClosingPeer(_logger, NodeId, reason, detail);
        }
        if (finalMessage is not null)
        {
            _outbound.Writer.TryWrite(finalMessage.Encode());
        }
        _outbound.Writer.TryComplete();
        lock (_pingLock)
        {
            _pongWaiter?.TrySetCanceled();
        }
        _ = Task.Run(async () =>
        {
            // When the peer does not read, give up on the final message after the bound.
            await _writerTask.WaitAsync(FlushBound, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var flushed = _writerTask.IsCompleted;
            try
            {
                await _cts.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // Already finished.
            }
            CloseSocket(abortive: !flushed || _reason == DisconnectReason.SendStalled);
        });
    }

    /// <summary>
    /// Closes the socket: gracefully (FIN, so the peer reads our last message and a clean end of stream), or abortively
    /// (RST) for a peer that stopped reading, so unsent data is not kept in the kernel.
    /// </summary>
    private void CloseSocket(bool abortive)
    {
        try
        {
            if (abortive)
            {
                _socket.Close(0);
                return;
            }
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
        _socket.Close();
    }

    private static DisconnectReason ReasonOf(Exception e) =>
        (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted
            ? DisconnectReason.RemoteClosed
            : DisconnectReason.IoError;

    private async Task FinishWhenStoppedAsync()
    {
        // Loops report their own reasons through Close; this only waits for them.
        await Task.WhenAll(_writerTask, _readerTask, _pingTask).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Close(DisconnectReason.IoError, null, "loops ended");
        await _stream.DisposeAsync().ConfigureAwait(false);
        _transport?.Dispose();
        _cts.Dispose();
        _completion.TrySetResult(_reason);
    }

    private async Task WriterLoopAsync()
    {
        try
        {
            // Frames queued together are encrypted into one buffer and written with one call (up to ~64 KiB per batch).
            var batch = new ArrayBufferWriter<byte>(BatchBytes + LightningTransport.MaxMessageLength + LightningTransport.HeaderLength + LightningTransport.MacLength);
            var reader = _outbound.Reader;
            while (await reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
            {
                batch.ResetWrittenCount();
                while (batch.WrittenCount < BatchBytes && reader.TryRead(out var message))
                {
                    batch.Write(_transport!.Encrypt(message));
                }
                using var stall = new CancellationTokenSource(_options.SendStallTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stall.Token, _cts.Token);
                try
                {
                    await _stream.WriteAsync(batch.WrittenMemory, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stall.IsCancellationRequested && !_cts.IsCancellationRequested)
                {
                    Close(DisconnectReason.SendStalled, null, "a write did not complete within the stall bound");
                    await _cts.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Closing.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Close(ReasonOf(e), null, e.Message);
        }
#pragma warning disable CA1031 // Safety net: a bug here must cost this peer its connection, never hang it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.LoopFailed(_logger, e, NodeId);
            Close(DisconnectReason.IoError, null, e.Message);
        }
    }

    private async Task ReaderLoopAsync()
    {
        var token = _cts.Token;
        try
        {
            await CallHandlerAsync(() => _handler.OnPeerConnectedAsync(Info!, token)).ConfigureAwait(false);
            while (true)
            {
                var bytes = await ReadMessageAsync(token).ConfigureAwait(false);
                if (bytes is null)
                {
                    Close(DisconnectReason.RemoteClosed, null, "end of stream");
                    return;
                }
                LightningMessage message;
                try
                {
                    message = LightningMessage.Decode(bytes);
                }
                catch (UnknownEvenMessageTypeException e)
                {
                    Close(DisconnectReason.UnknownEvenMessage, new Error(AllChannels, Encoding.ASCII.GetBytes($"unknown even message type {e.MessageType}")), e.Message);
                    return;
                }
                catch (WireFormatException e)
                {
                    Close(DisconnectReason.MalformedMessage, new Warning(AllChannels, Encoding.ASCII.GetBytes("malformed message: " + e.Reason)), e.Message);
                    return;
                }
                if (!await DispatchAsync(message, token).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (TransportException e)
        {
            // BOLT 8: a failed MAC check ends the connection; nothing more can be trusted on it.
            Close(DisconnectReason.DecryptionFailed, null, e.Message);
        }
        catch (OperationCanceledException)
        {
            // Closing.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Close(ReasonOf(e), null, e.Message);
        }
#pragma warning disable CA1031 // Safety net: a bug here must cost this peer its connection, never hang it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.LoopFailed(_logger, e, NodeId);
            Close(DisconnectReason.IoError, null, e.Message);
        }
    }

    /// <summary>Handles one message; false when the reader must stop.</summary>
    private async ValueTask<bool> DispatchAsync(LightningMessage message, CancellationToken token)
    {
        switch (message)
        {
            case Ping ping:
                if (ping.CreateReply() is { } reply)
                {
                    try
                    {
                        await _outbound.Writer.WriteAsync(reply.Encode(), token).ConfigureAwait(false);
                    }
                    catch (ChannelClosedException)
                    {
                        return false;
                    }
                }
                return true;
            case Pong pong:
                lock (_pingLock)
                {
                    if (_pongWaiter is not null && pong.Ignored.Length == _expectedPongBytes)
                    {
                        _pongWaiter.TrySetResult();
                        _pongWaiter = null;
                    }
                }
                return true;
            case Init or UnknownMessage:
                Log.IgnoredMessage(_logger, message.Type, NodeId);
                return true;
            default:
                await CallHandlerAsync(() => _handler.OnMessageAsync(NodeId, message, token)).ConfigureAwait(false);
                return true;
        }
    }

    private async Task PingLoopAsync()
    {
        var token = _cts.Token;
        try
        {
            while (true)
            {
                await Task.Delay(_options.PingInterval, _time, token).ConfigureAwait(false);
                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_pingLock)
                {
                    _pongWaiter = waiter;
                    _expectedPongBytes = _options.PingPongBytes;
                }
                // The deadline starts before the ping is queued, so it can never be scheduled after the pong arrived.
                var deadline = waiter.Task.WaitAsync(_options.PongTimeout, _time, token);
                try
                {
                    await _outbound.Writer.WriteAsync(Ping.Create(_options.PingPongBytes).Encode(), token).ConfigureAwait(false);
                }
                catch (ChannelClosedException)
                {
                    return;
                }
                try
                {
                    await deadline.ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    Close(DisconnectReason.PingTimeout, new Warning(AllChannels, Encoding.ASCII.GetBytes("no pong in time")), "no pong in time");
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Closing.
        }
    }

    private async ValueTask CallHandlerAsync(Func<ValueTask> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // An application bug must not take the peer layer down; it is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(_logger, e, NodeId);
        }
    }

    private async ValueTask WriteFrameAsync(byte[] message, CancellationToken token) =>
        await _stream.WriteAsync(_transport!.Encrypt(message), token).ConfigureAwait(false);

    /// <summary>Sends a message before the writer loop runs (init phase), ignoring failures; used right before closing.</summary>
    private async ValueTask TrySendDirectAsync(LightningMessage message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(FlushBound, _time);
            await WriteFrameAsync(message.Encode(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Best effort.
        }
    }

    private async ValueTask<byte[]?> ReadMessageAsync(CancellationToken token)
    {
        while (_pendingMessages.Count == 0)
        {
            var read = await _stream.ReadAsync(_readBuffer, token).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }
            foreach (var message in _reader!.Push(_readBuffer.AsSpan(0, read)))
            {
                _pendingMessages.Enqueue(message);
            }
        }
        return _pendingMessages.Dequeue();
    }

    /// <summary>Drops an established connection that was never started (it lost the duplicate tie-break).</summary>
    public void Abandon(DisconnectReason reason)
    {
        Interlocked.Exchange(ref _closing, 1);
        _reason = reason;
        CloseSocket(abortive: false);
        _stream.Dispose();
        _transport?.Dispose();
        _cts.Dispose();
        _completion.TrySetResult(reason);
    }

    private async ValueTask<PeerConnectionException> FailAsync(DisconnectReason reason, string detail, Exception? inner)
    {
        Interlocked.Exchange(ref _closing, 1);
        _reason = reason;
        await _stream.DisposeAsync().ConfigureAwait(false);
        _transport?.Dispose();
        _cts.Dispose();
        _completion.TrySetResult(reason);
        return new PeerConnectionException(reason, $"Connection with {RemoteEndPoint} failed: {reason}: {detail}", inner);
    }
}
