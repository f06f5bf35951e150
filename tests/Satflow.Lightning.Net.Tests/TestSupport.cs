using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Transport;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net.Tests;

/// <summary>What a <see cref="RecordingHandler"/> saw.</summary>
internal abstract record PeerEvent(NodeId Peer);

internal sealed record Connected(PeerInfo Info) : PeerEvent(Info.NodeId);

internal sealed record Received(NodeId From, LightningMessage Message) : PeerEvent(From);

internal sealed record Disconnected(NodeId From, DisconnectReason Reason) : PeerEvent(From);

/// <summary>Records every callback and lets tests await one without sleeping.</summary>
internal sealed class RecordingHandler : IPeerMessageHandler
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly List<PeerEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Func<NodeId, LightningMessage, CancellationToken, ValueTask>? OnMessage { get; set; }

    public IReadOnlyList<PeerEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public ValueTask OnPeerConnectedAsync(PeerInfo peer, CancellationToken cancellationToken)
    {
        Add(new Connected(peer));
        return ValueTask.CompletedTask;
    }

    public async ValueTask OnMessageAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
    {
        Add(new Received(peer, message));
        if (OnMessage is { } callback)
        {
            await callback(peer, message, cancellationToken);
        }
    }

    public ValueTask OnPeerDisconnectedAsync(NodeId peer, DisconnectReason reason)
    {
        Add(new Disconnected(peer, reason));
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits for the <paramref name="occurrence"/>-th (1-based) event of type <typeparamref name="T"/> matching the predicate.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool>? predicate = null, int occurrence = 1, TimeSpan? timeout = null)
        where T : PeerEvent
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultWait);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                var matches = _events.OfType<T>().Where(e => predicate?.Invoke(e) ?? true).ToList();
                if (matches.Count >= occurrence)
                {
                    return matches[occurrence - 1];
                }
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No {typeof(T).Name} #{occurrence} in time; saw: {string.Join(", ", Events)}");
            }
        }
    }

    private void Add(PeerEvent e)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _events.Add(e);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }
}

/// <summary>A started manager on 127.0.0.1 with its key and recording handler.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(ECPrivKey key, PeerManager manager, RecordingHandler handler)
    {
        Key = key;
        Manager = manager;
        Handler = handler;
    }

    public ECPrivKey Key { get; }

    public PeerManager Manager { get; }

    public RecordingHandler Handler { get; }

    public NodeId Id => Manager.LocalNodeId;

    public IPEndPoint EndPoint => Manager.LocalEndPoint!;

    /// <summary>Timeouts short enough for tests yet roomy for a loaded CI box; pings effectively off unless a test turns them on.</summary>
    public static PeerManagerOptions FastOptions(int port = 0) => new()
    {
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, port),
        HandshakeTimeout = TimeSpan.FromSeconds(5),
        InitTimeout = TimeSpan.FromSeconds(5),
        PingInterval = TimeSpan.FromMinutes(10),
        PongTimeout = TimeSpan.FromSeconds(5),
        SendStallTimeout = TimeSpan.FromSeconds(5),
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(300),
    };

    public static TestNode Start(Func<PeerManagerOptions, PeerManagerOptions>? configure = null, ECPrivKey? key = null, int port = 0)
    {
        key ??= NewKey();
        var options = FastOptions(port);
        options = configure?.Invoke(options) ?? options;
        var handler = new RecordingHandler();
        var manager = new PeerManager(key, options, handler);
        manager.Start();
        return new TestNode(key, manager, handler);
    }

    public static ECPrivKey NewKey()
    {
        var bytes = RandomNumberGenerator.GetBytes(32);
        return ECPrivKey.Create(bytes);
    }

    public ValueTask DisposeAsync() => Manager.DisposeAsync();
}

/// <summary>A hand-driven peer: raw TCP plus the library's BOLT 8 state machine, to misbehave on purpose.</summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly Queue<byte[]> _pending = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private LightningTransport? _transport;
    private TransportMessageReader? _reader;

    private RawPeer(TcpClient client, ECPrivKey key)
    {
        _client = client;
        _stream = client.GetStream();
        Key = key;
    }

    public ECPrivKey Key { get; }

    public NodeId Id => NodeId.FromBytes(Key.CreatePubKey().ToBytes(true));

    public static async Task<RawPeer> ConnectTcpAsync(IPEndPoint endPoint, int? receiveBufferSize = null)
    {
        var client = new TcpClient(AddressFamily.InterNetwork);
        if (receiveBufferSize is { } size)
        {
            client.ReceiveBufferSize = size;
        }
        await client.ConnectAsync(endPoint);
        return new RawPeer(client, TestNode.NewKey());
    }

    /// <summary>Connects, runs the handshake as initiator and exchanges init (ours defaults to the manager's defaults).</summary>
    public static async Task<(RawPeer Peer, Init TheirInit)> ConnectAsync(TestNode node, Init? ourInit = null, int? receiveBufferSize = null)
    {
        var peer = await ConnectTcpAsync(node.EndPoint, receiveBufferSize);
        await peer.HandshakeAsync(node.Id);
        await peer.SendAsync(ourInit ?? DefaultInit());
        var theirs = await peer.ReceiveAsync();
        return (peer, Assert.IsType<Init>(theirs));
    }

    public static Init DefaultInit(ChainHash? chain = null) =>
        new(Features.FeatureBits.Empty, PeerManagerOptions.DefaultFeatures) { Networks = [chain ?? ChainHash.Regtest] };

    public async Task HandshakeAsync(NodeId remote)
    {
        var handshake = NoiseHandshake.Initiator(Key, remote);
        await _stream.WriteAsync(handshake.WriteActOne());
        var actTwo = new byte[NoiseHandshake.ActTwoLength];
        await _stream.ReadExactlyAsync(actTwo).AsTask().WaitAsync(RecordingHandler.DefaultWait);
        await _stream.WriteAsync(handshake.ReadActTwo(actTwo));
        _transport = handshake.CreateTransport();
        _reader = _transport.CreateReader();
    }

    public Task SendAsync(LightningMessage message) => SendPlaintextAsync(message.Encode());

    public async Task SendPlaintextAsync(byte[] plaintext) => await _stream.WriteAsync(_transport!.Encrypt(plaintext));

    public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>The next message, or null at end of stream (or when the connection was reset).</summary>
    public async Task<LightningMessage?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? RecordingHandler.DefaultWait);
        while (_pending.Count == 0)
        {
            int read;
            try
            {
                read = await _stream.ReadAsync(_buffer, cts.Token);
            }
            catch (IOException)
            {
                return null;
            }
            if (read == 0)
            {
                return null;
            }
            if (_reader is null)
            {
                continue;
            }
            foreach (var m in _reader.Push(_buffer.AsSpan(0, read)))
            {
                _pending.Enqueue(m);
            }
        }
        return LightningMessage.Decode(_pending.Dequeue());
    }

    /// <summary>Reads until the manager closes the connection; returns what arrived before.</summary>
    public async Task<List<LightningMessage>> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var messages = new List<LightningMessage>();
        while (await ReceiveAsync(timeout) is { } message)
        {
            messages.Add(message);
        }
        return messages;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
        _transport?.Dispose();
    }
}
