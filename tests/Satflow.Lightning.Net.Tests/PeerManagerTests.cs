using System.Net;
using Xunit.Abstractions;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net.Tests;

public sealed class PeerManagerTests(ITestOutputHelper output)
{
    private static Shutdown SampleMessage(byte tag) =>
        new(new ChannelId(new Bytes32(Enumerable.Repeat(tag, 32).ToArray())), new byte[] { 0x00, 0x14, tag, tag });

    private static void AssertSameShutdown(Shutdown expected, LightningMessage actual)
    {
        var shutdown = Assert.IsType<Shutdown>(actual);
        Assert.Equal(expected.ChannelId, shutdown.ChannelId);
        Assert.Equal(expected.ScriptPubKey.ToArray(), shutdown.ScriptPubKey.ToArray());
    }

    [Fact]
    public async Task Two_managers_connect_and_exchange_init()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();

        var info = await a.Manager.ConnectAsync(b.Id, b.EndPoint);

        Assert.Equal(b.Id, info.NodeId);
        Assert.Equal(PeerDirection.Outbound, info.Direction);
        Assert.Equal(PeerManagerOptions.DefaultFeatures, info.Features);
        Assert.False(info.IsPersistent);
        var atA = await a.Handler.WaitForAsync<Connected>();
        var atB = await b.Handler.WaitForAsync<Connected>();
        Assert.Equal(b.Id, atA.Info.NodeId);
        Assert.Equal(a.Id, atB.Info.NodeId);
        Assert.Equal(PeerDirection.Inbound, atB.Info.Direction);
        Assert.Equal(IPAddress.Loopback, atB.Info.RemoteEndPoint.Address);
        Assert.Equal(b.Id, Assert.Single(a.Manager.ListPeers()).NodeId);
        Assert.Equal(a.Id, Assert.Single(b.Manager.ListPeers()).NodeId);
        Assert.True(a.Manager.IsConnected(b.Id));
    }

    [Fact]
    public async Task Manager_init_carries_features_and_networks()
    {
        await using var node = TestNode.Start();
        var (peer, theirs) = await RawPeer.ConnectAsync(node);
        await using var _ = peer;

        Assert.Equal(PeerManagerOptions.DefaultFeatures, theirs.Features);
        Assert.All(theirs.GlobalFeatures, bit => Assert.True(bit < 14));
        Assert.Equal([ChainHash.Regtest], theirs.Networks);
        // BOLT 1: never a private address as remote_addr (we are on loopback).
        Assert.Null(theirs.RemoteAddress);
        var connected = await node.Handler.WaitForAsync<Connected>();
        Assert.Equal(peer.Id, connected.Info.NodeId);
    }

    [Fact]
    public async Task Application_messages_round_trip_both_ways()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();
        await a.Manager.ConnectAsync(b.Id, b.EndPoint);
        await b.Handler.WaitForAsync<Connected>();

        var toB = SampleMessage(1);
        await a.Manager.SendAsync(b.Id, toB);
        var atB = await b.Handler.WaitForAsync<Received>();
        Assert.Equal(a.Id, atB.From);
        AssertSameShutdown(toB, atB.Message);

        var toA = SampleMessage(2);
        await b.Manager.SendAsync(a.Id, toA);
        var atA = await a.Handler.WaitForAsync<Received>();
        Assert.Equal(b.Id, atA.From);
        AssertSameShutdown(toA, atA.Message);

        // Many messages keep their order.
        for (byte i = 10; i < 60; i++)
        {
            await a.Manager.SendAsync(b.Id, SampleMessage(i));
        }
        await b.Handler.WaitForAsync<Received>(occurrence: 51);
        var ordered = b.Handler.Events.OfType<Received>().Skip(1).Select(r => ((Shutdown)r.Message).ChannelId.Value.ToArray()[0]).ToArray();
        Assert.Equal(Enumerable.Range(10, 50).Select(i => (byte)i).ToArray(), ordered);
    }

    [Fact]
    public async Task Sending_to_an_unknown_peer_throws_PeerNotConnected()
    {
        await using var a = TestNode.Start();
        var stranger = NodeId.FromBytes(TestNode.NewKey().CreatePubKey().ToBytes(true));
        var e = await Assert.ThrowsAsync<PeerNotConnectedException>(async () => await a.Manager.SendAsync(stranger, SampleMessage(1)));
        Assert.Equal(stranger, e.Peer);
    }

    [Fact]
    public async Task Manager_pings_answers_pings_and_honours_the_no_reply_threshold()
    {
        await using var node = TestNode.Start(o => o with { PingInterval = TimeSpan.FromMilliseconds(50), PingPongBytes = 16 });
        var (peer, _) = await RawPeer.ConnectAsync(node);
        await using var _p = peer;

        // The manager pings us; we answer with the requested length, and it keeps pinging (still connected).
        for (var i = 0; i < 2; i++)
        {
            var ping = await ReceiveSkippingAsync<Ping>(peer);
            Assert.Equal(16, ping.NumPongBytes);
            await peer.SendAsync(new Pong(new byte[ping.NumPongBytes]));
        }

        // We ping: 65532 is "no reply", then 7 bytes must come back as a 7-byte pong.
        await peer.SendAsync(Ping.Create(Ping.NoReplyThreshold));
        await peer.SendAsync(Ping.Create(7, paddingLength: 3));
        var pong = await ReceiveSkippingAsync<Pong>(peer, answerPings: true);
        Assert.Equal(7, pong.Ignored.Length);
        Assert.True(node.Manager.IsConnected(peer.Id));
        Assert.Empty(node.Handler.Events.OfType<Disconnected>());
    }

    [Fact]
    public async Task Missing_pong_disconnects_with_PingTimeout()
    {
        await using var node = TestNode.Start(o => o with { PingInterval = TimeSpan.FromMilliseconds(50), PongTimeout = TimeSpan.FromMilliseconds(200) });
        var (peer, _) = await RawPeer.ConnectAsync(node);
        await using var _p = peer;

        var received = await peer.ReadUntilClosedAsync();

        Assert.Contains(received, m => m is Ping);
        Assert.Contains(received, m => m is Warning);
        var disconnected = await node.Handler.WaitForAsync<Disconnected>();
        Assert.Equal(DisconnectReason.PingTimeout, disconnected.Reason);
        Assert.False(node.Manager.IsConnected(peer.Id));
    }

    [Fact]
    public async Task Pong_of_the_wrong_length_does_not_count()
    {
        await using var node = TestNode.Start(o => o with { PingInterval = TimeSpan.FromMilliseconds(50), PongTimeout = TimeSpan.FromMilliseconds(200) });
        var (peer, _) = await RawPeer.ConnectAsync(node);
        await using var _p = peer;

        var ping = await ReceiveSkippingAsync<Ping>(peer);
        await peer.SendAsync(new Pong(new byte[ping.NumPongBytes + 1]));

        await peer.ReadUntilClosedAsync();
        Assert.Equal(DisconnectReason.PingTimeout, (await node.Handler.WaitForAsync<Disconnected>()).Reason);
    }

    [Fact]
    public async Task Garbage_before_the_handshake_is_dropped_and_good_peers_keep_working()
    {
        await using var node = TestNode.Start();
        await using var good = TestNode.Start();
        await good.Manager.ConnectAsync(node.Id, node.EndPoint);
        await node.Handler.WaitForAsync<Connected>();

        var random = new Random(8);
        foreach (var length in new[] { 1, 49, 50, 51, 200, 1000 })
        {
            var garbage = new byte[length];
            random.NextBytes(garbage);
            await using var raw = await RawPeer.ConnectTcpAsync(node.EndPoint);
            await raw.SendRawAsync(garbage);
            if (length >= 50)
            {
                // A full (bad) act one must make the manager hang up; shorter input waits for the handshake timeout.
                Assert.Empty(await raw.ReadUntilClosedAsync());
            }
        }

        var message = SampleMessage(3);
        await good.Manager.SendAsync(node.Id, message);
        AssertSameShutdown(message, (await node.Handler.WaitForAsync<Received>()).Message);
        await node.Manager.SendAsync(good.Id, message);
        AssertSameShutdown(message, (await good.Handler.WaitForAsync<Received>()).Message);
        Assert.Empty(node.Handler.Events.OfType<Disconnected>());
    }

    [Fact]
    public async Task Inbound_connections_beyond_the_pending_handshake_limit_are_shed()
    {
        await using var node = TestNode.Start(o => o with { MaxPendingInboundHandshakes = 1, HandshakeTimeout = TimeSpan.FromSeconds(30), InitTimeout = TimeSpan.FromSeconds(30) });
        await using var other = TestNode.Start();

        // The first peer finishes the handshake but holds its init: it occupies the only slot.
        await using var first = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await first.HandshakeAsync(node.Id);
        // The second is reset right after accept (the reset may even reach the client's connect call).
        try
        {
            await using var shed = await RawPeer.ConnectTcpAsync(node.EndPoint);
            Assert.Empty(await shed.ReadUntilClosedAsync());
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
            // Shed before the connect call returned.
        }

        // Once its init arrives the slot is free again (released before the peer is reported connected).
        await first.SendAsync(RawPeer.DefaultInit());
        await node.Handler.WaitForAsync<Connected>(c => c.Info.NodeId == first.Id);
        await other.Manager.ConnectAsync(node.Id, node.EndPoint);
        await node.Handler.WaitForAsync<Connected>(c => c.Info.NodeId == other.Id);
        Assert.Equal(2, node.Manager.ListPeers().Count);
    }

    [Fact]
    public async Task Cancelling_a_dial_throws_OperationCanceled()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.Manager.ConnectAsync(b.Id, b.EndPoint, cancellationToken: cts.Token));
    }

    [Fact]
    public async Task Silent_client_is_dropped_at_the_handshake_timeout()
    {
        await using var node = TestNode.Start(o => o with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        await using var raw = await RawPeer.ConnectTcpAsync(node.EndPoint);
        Assert.Empty(await raw.ReadUntilClosedAsync());
        Assert.Empty(node.Handler.Events);
    }

    [Fact]
    public async Task Garbage_after_the_handshake_fails_decryption_and_disconnects_only_that_peer()
    {
        await using var node = TestNode.Start();
        await using var good = TestNode.Start();
        await good.Manager.ConnectAsync(node.Id, node.EndPoint);
        await node.Handler.WaitForAsync<Connected>(c => c.Info.NodeId == good.Id);

        var (bad, _) = await RawPeer.ConnectAsync(node);
        await using var _b = bad;
        await node.Handler.WaitForAsync<Connected>(c => c.Info.NodeId == bad.Id);
        var garbage = new byte[100];
        new Random(5).NextBytes(garbage);
        await bad.SendRawAsync(garbage);

        await bad.ReadUntilClosedAsync();
        var disconnected = await node.Handler.WaitForAsync<Disconnected>();
        Assert.Equal(bad.Id, disconnected.Peer);
        Assert.Equal(DisconnectReason.DecryptionFailed, disconnected.Reason);

        var message = SampleMessage(4);
        await good.Manager.SendAsync(node.Id, message);
        AssertSameShutdown(message, (await node.Handler.WaitForAsync<Received>()).Message);
        Assert.Equal(good.Id, Assert.Single(node.Manager.ListPeers()).NodeId);
    }

    [Fact]
    public async Task Unknown_even_message_gets_an_error_and_a_disconnect_unknown_odd_is_ignored()
    {
        await using var node = TestNode.Start();
        var (peer, _) = await RawPeer.ConnectAsync(node);
        await using var _p = peer;

        await peer.SendPlaintextAsync([0x7f, 0xff, 1, 2, 3]); // unknown odd 32767: ignored
        await peer.SendAsync(Ping.Create(4));
        Assert.IsType<Pong>(await peer.ReceiveAsync());

        await peer.SendPlaintextAsync([0x7f, 0xfe, 1, 2, 3]); // unknown even 32766
        var received = await peer.ReadUntilClosedAsync();

        var error = Assert.IsType<Error>(Assert.Single(received));
        Assert.Contains("unknown even message type 32766", error.PrintableText, StringComparison.Ordinal);
        Assert.Equal(DisconnectReason.UnknownEvenMessage, (await node.Handler.WaitForAsync<Disconnected>()).Reason);
        Assert.Empty(node.Handler.Events.OfType<Received>());
    }

    [Fact]
    public async Task Malformed_known_message_gets_a_warning_and_a_disconnect()
    {
        await using var node = TestNode.Start();
        var (peer, _) = await RawPeer.ConnectAsync(node);
        await using var _p = peer;

        await peer.SendPlaintextAsync([0x00, 0x26, 0x01]); // shutdown, truncated

        var received = await peer.ReadUntilClosedAsync();
        Assert.IsType<Warning>(Assert.Single(received));
        Assert.Equal(DisconnectReason.MalformedMessage, (await node.Handler.WaitForAsync<Disconnected>()).Reason);
    }

    [Fact]
    public async Task First_message_other_than_init_is_refused()
    {
        await using var node = TestNode.Start();
        await using var peer = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await peer.HandshakeAsync(node.Id);
        await peer.SendAsync(Ping.Create(1));

        var received = await peer.ReadUntilClosedAsync();
        Assert.IsType<Init>(received[0]);
        Assert.IsType<Warning>(received[1]);
        Assert.Empty(node.Handler.Events);
    }

    [Fact]
    public async Task Peer_that_never_sends_init_is_dropped_at_the_init_timeout()
    {
        await using var node = TestNode.Start(o => o with { InitTimeout = TimeSpan.FromMilliseconds(200) });
        await using var peer = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await peer.HandshakeAsync(node.Id);

        var received = await peer.ReadUntilClosedAsync();
        Assert.IsType<Init>(Assert.Single(received));
        Assert.Empty(node.Handler.Events);
    }

    [Fact]
    public async Task Oversized_message_is_refused_before_queueing()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();
        await a.Manager.ConnectAsync(b.Id, b.EndPoint);

        var tooBig = new UnknownMessage(32769, new byte[65534]); // 2 + 65534 = 65536 bytes
        await Assert.ThrowsAsync<ArgumentException>(async () => await a.Manager.SendAsync(b.Id, tooBig));
        var largest = new UnknownMessage(32769, new byte[65533]);
        await a.Manager.SendAsync(b.Id, largest); // exactly 65535: accepted (and ignored by b, unknown odd)
        await a.Manager.SendAsync(b.Id, SampleMessage(7));
        AssertSameShutdown(SampleMessage(7), (await b.Handler.WaitForAsync<Received>()).Message);
    }

    [Fact]
    public async Task Unknown_compulsory_feature_is_refused()
    {
        await using var node = TestNode.Start();
        var init = RawPeer.DefaultInit() with { Features = PeerManagerOptions.DefaultFeatures.With(100) };
        await using var peer = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await peer.HandshakeAsync(node.Id);
        await peer.SendAsync(init);

        var received = await peer.ReadUntilClosedAsync();
        Assert.IsType<Init>(received[0]);
        var warning = Assert.IsType<Warning>(received[1]);
        Assert.Contains("unknown compulsory feature bit 100", warning.PrintableText, StringComparison.Ordinal);
        Assert.Empty(node.Handler.Events);
        Assert.Empty(node.Manager.ListPeers());
    }

    [Fact]
    public async Task Dialling_a_peer_with_an_incompatible_required_feature_fails()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start(o => o with { LocalFeatures = PeerManagerOptions.DefaultFeatures.With(200) });

        var e = await Assert.ThrowsAsync<PeerConnectionException>(() => a.Manager.ConnectAsync(b.Id, b.EndPoint));

        Assert.Equal(DisconnectReason.IncompatibleFeatures, e.Reason);
        Assert.Empty(a.Manager.ListPeers());
        Assert.Empty(a.Handler.Events);
    }

    [Fact]
    public async Task Peer_lacking_a_feature_we_require_is_refused()
    {
        var requireAnchors = PeerManagerOptions.DefaultFeatures.Without(FeatureRegistry.Anchors.OddBit).With(FeatureRegistry.Anchors.EvenBit);
        await using var node = TestNode.Start(o => o with { LocalFeatures = requireAnchors });
        var init = RawPeer.DefaultInit() with { Features = PeerManagerOptions.DefaultFeatures.Without(FeatureRegistry.Anchors.OddBit) };
        await using var peer = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await peer.HandshakeAsync(node.Id);
        await peer.SendAsync(init);

        var received = await peer.ReadUntilClosedAsync();
        var warning = Assert.IsType<Warning>(received[1]);
        Assert.Contains("option_anchors", warning.PrintableText, StringComparison.Ordinal);
        Assert.Empty(node.Handler.Events);
    }

    [Fact]
    public async Task Wrong_chain_is_refused_both_ways()
    {
        await using var node = TestNode.Start();
        await using var peer = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await peer.HandshakeAsync(node.Id);
        await peer.SendAsync(RawPeer.DefaultInit(ChainHash.Bitcoin));
        var received = await peer.ReadUntilClosedAsync();
        Assert.Contains("no common chain", Assert.IsType<Warning>(received[1]).PrintableText, StringComparison.Ordinal);

        await using var mainnet = TestNode.Start(o => o with { Chain = ChainHash.Bitcoin });
        var e = await Assert.ThrowsAsync<PeerConnectionException>(() => mainnet.Manager.ConnectAsync(node.Id, node.EndPoint));
        Assert.Equal(DisconnectReason.IncompatibleChain, e.Reason);
        Assert.Empty(node.Handler.Events);
    }

    [Fact]
    public async Task Init_without_networks_is_accepted()
    {
        await using var node = TestNode.Start();
        var (peer, _) = await RawPeer.ConnectAsync(node, RawPeer.DefaultInit() with { Networks = null });
        await using var _p = peer;
        Assert.Equal(peer.Id, (await node.Handler.WaitForAsync<Connected>()).Info.NodeId);
    }

    [Fact]
    public async Task Dialling_the_wrong_node_id_fails_the_handshake()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();
        var wrong = NodeId.FromBytes(TestNode.NewKey().CreatePubKey().ToBytes(true));

        var e = await Assert.ThrowsAsync<PeerConnectionException>(() => a.Manager.ConnectAsync(wrong, b.EndPoint));
        Assert.Equal(DisconnectReason.HandshakeFailed, e.Reason);
    }

    [Fact]
    public async Task Dialling_a_closed_port_fails_with_ConnectFailed()
    {
        await using var a = TestNode.Start();
        int port;
        await using (var b = TestNode.Start())
        {
            port = b.EndPoint.Port;
        }
        var nobody = NodeId.FromBytes(TestNode.NewKey().CreatePubKey().ToBytes(true));
        var e = await Assert.ThrowsAsync<PeerConnectionException>(() => a.Manager.ConnectAsync(nobody, new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Equal(DisconnectReason.ConnectFailed, e.Reason);
        await Assert.ThrowsAsync<ArgumentException>(() => a.Manager.ConnectAsync(a.Id, a.EndPoint));
    }

    [Fact]
    public async Task DisconnectAsync_closes_both_sides()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();
        await a.Manager.ConnectAsync(b.Id, b.EndPoint);
        await b.Handler.WaitForAsync<Connected>();

        Assert.True(await a.Manager.DisconnectAsync(b.Id));

        Assert.Equal(DisconnectReason.LocalRequest, (await a.Handler.WaitForAsync<Disconnected>()).Reason);
        Assert.Equal(DisconnectReason.RemoteClosed, (await b.Handler.WaitForAsync<Disconnected>()).Reason);
        Assert.Empty(a.Manager.ListPeers());
        Assert.False(await a.Manager.DisconnectAsync(b.Id));
        await Assert.ThrowsAsync<PeerNotConnectedException>(async () => await a.Manager.SendAsync(b.Id, SampleMessage(1)));
    }

    [Fact]
    public async Task Second_connection_to_the_same_node_replaces_the_first()
    {
        await using var a = TestNode.Start();
        await using var b = TestNode.Start();
        await a.Manager.ConnectAsync(b.Id, b.EndPoint);
        await b.Handler.WaitForAsync<Connected>();

        await a.Manager.ConnectAsync(b.Id, b.EndPoint);

        // The old connection ends here (replaced) or at b first, which replaced it on its side (a then sees it close).
        Assert.Contains((await a.Handler.WaitForAsync<Disconnected>()).Reason, new[] { DisconnectReason.Replaced, DisconnectReason.RemoteClosed });
        await a.Handler.WaitForAsync<Connected>(occurrence: 2);
        await b.Handler.WaitForAsync<Connected>(occurrence: 2);
        await b.Handler.WaitForAsync<Disconnected>();
        var kinds = a.Handler.Events.Select(e => e.GetType().Name).ToArray();
        Assert.Equal(["Connected", "Disconnected", "Connected"], kinds);
        Assert.Single(a.Manager.ListPeers());
        Assert.Single(b.Manager.ListPeers());

        var message = SampleMessage(9);
        await a.Manager.SendAsync(b.Id, message);
        AssertSameShutdown(message, (await b.Handler.WaitForAsync<Received>()).Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Crossed_dials_keep_the_connection_dialled_by_the_smaller_node_id(bool firstDiallerIsSmaller)
    {
        await using var x = TestNode.Start();
        await using var y = TestNode.Start();
        var (a, b) = (x.Id < y.Id) == firstDiallerIsSmaller ? (x, y) : (y, x);

        await a.Manager.ConnectAsync(b.Id, b.EndPoint);
        await b.Handler.WaitForAsync<Connected>();
        var second = await b.Manager.ConnectAsync(a.Id, a.EndPoint);

        // Both sides agree on the surviving connection: the one dialled by the smaller id.
        var expectedAtA = firstDiallerIsSmaller ? PeerDirection.Outbound : PeerDirection.Inbound;
        var expectedAtB = firstDiallerIsSmaller ? PeerDirection.Inbound : PeerDirection.Outbound;
        Assert.Equal(expectedAtB, second.Direction);
        if (!firstDiallerIsSmaller)
        {
            // The old connection ends either here (replaced) or at b first (a then sees it close).
            Assert.Contains((await a.Handler.WaitForAsync<Disconnected>()).Reason, new[] { DisconnectReason.Replaced, DisconnectReason.RemoteClosed });
            await a.Handler.WaitForAsync<Connected>(occurrence: 2);
        }
        Assert.Equal(expectedAtA, Assert.Single(a.Manager.ListPeers()).Direction);
        Assert.Equal(expectedAtB, Assert.Single(b.Manager.ListPeers()).Direction);

        var message = SampleMessage(5);
        await a.Manager.SendAsync(b.Id, message);
        AssertSameShutdown(message, (await b.Handler.WaitForAsync<Received>()).Message);
        await b.Manager.SendAsync(a.Id, message);
        AssertSameShutdown(message, (await a.Handler.WaitForAsync<Received>()).Message);
        Assert.Equal(expectedAtA, Assert.Single(a.Manager.ListPeers()).Direction);
        Assert.Equal(expectedAtB, Assert.Single(b.Manager.ListPeers()).Direction);
    }

    [Fact]
    public async Task Persistent_peer_is_redialled_after_the_remote_restarts()
    {
        var bKey = TestNode.NewKey();
        await using var a = TestNode.Start();
        var b = TestNode.Start(key: bKey);
        var port = b.EndPoint.Port;
        var info = await a.Manager.ConnectAsync(b.Id, b.EndPoint, persistent: true);
        Assert.True(info.IsPersistent);
        Assert.True((await a.Handler.WaitForAsync<Connected>()).Info.IsPersistent);

        await b.DisposeAsync();
        var dropped = await a.Handler.WaitForAsync<Disconnected>();
        Assert.NotEqual(DisconnectReason.LocalRequest, dropped.Reason);

        var firstRestart = TestNode.Start(key: bKey, port: port);
        var again = await a.Handler.WaitForAsync<Connected>(occurrence: 2);
        Assert.Equal(bKey.CreatePubKey().ToBytes(true), again.Info.NodeId.ToArray());
        await firstRestart.Handler.WaitForAsync<Connected>();

        // And again: every drop of a redialled connection schedules the next redial.
        await firstRestart.DisposeAsync();
        await a.Handler.WaitForAsync<Disconnected>(occurrence: 2);
        await using var restarted = TestNode.Start(key: bKey, port: port);
        await a.Handler.WaitForAsync<Connected>(occurrence: 3);
        await restarted.Handler.WaitForAsync<Connected>();
        Assert.True(Assert.Single(a.Manager.ListPeers()).IsPersistent);

        // DisconnectAsync forgets the peer: no further redial.
        await a.Manager.DisconnectAsync(restarted.Id);
        await restarted.Handler.WaitForAsync<Disconnected>();
        Assert.Empty(a.Manager.ListPeers());
    }

    [Fact]
    public async Task Persistent_peer_that_is_down_at_first_is_dialled_once_it_comes_up()
    {
        var bKey = TestNode.NewKey();
        int port;
        await using (var probe = TestNode.Start())
        {
            port = probe.EndPoint.Port;
        }
        await using var a = TestNode.Start();
        var bId = NodeId.FromBytes(bKey.CreatePubKey().ToBytes(true));

        var e = await Assert.ThrowsAsync<PeerConnectionException>(() => a.Manager.ConnectAsync(bId, new IPEndPoint(IPAddress.Loopback, port), persistent: true));
        Assert.Equal(DisconnectReason.ConnectFailed, e.Reason);

        await using var b = TestNode.Start(key: bKey, port: port);
        Assert.Equal(bId, (await a.Handler.WaitForAsync<Connected>()).Info.NodeId);
        Assert.True(Assert.Single(a.Manager.ListPeers()).IsPersistent);
    }

    [Fact]
    public async Task Non_persistent_peer_is_not_redialled()
    {
        await using var a = TestNode.Start();
        var b = TestNode.Start();
        await a.Manager.ConnectAsync(b.Id, b.EndPoint);
        await b.DisposeAsync();
        await a.Handler.WaitForAsync<Disconnected>();
        Assert.Empty(a.Manager.ListPeers());
        Assert.Single(a.Handler.Events.OfType<Connected>());
    }

    [Fact]
    public async Task Peer_that_stops_reading_blocks_senders_then_is_disconnected()
    {
        const int capacity = 4;
        await using var node = TestNode.Start(o => o with
        {
            SendQueueCapacity = capacity,
            SocketSendBufferSize = 16 * 1024,
            SendStallTimeout = TimeSpan.FromMilliseconds(500),
        });
        var (peer, _) = await RawPeer.ConnectAsync(node, receiveBufferSize: 16 * 1024);
        await using var _p = peer;
        await node.Handler.WaitForAsync<Connected>();

        // The raw peer never reads again. 60 kB messages: without backpressure these 1000 sends would queue 60 MB.
        var big = new UnknownMessage(32769, new byte[60_000]);
        var completed = 0;
        var sawBlockedSend = false;
        var failure = await Assert.ThrowsAsync<PeerNotConnectedException>(async () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                var send = node.Manager.SendAsync(peer.Id, big);
                if (!send.IsCompleted)
                {
                    sawBlockedSend = true;
                }
                await send;
                completed++;
            }
        });

        output.WriteLine($"sends completed before the stalled peer was dropped: {completed} (queue capacity {capacity})");
        Assert.NotNull(failure);
        Assert.True(sawBlockedSend, "a send should have waited for queue space");
        // Queue + the frame in the writer + what the 16 kB socket buffers absorb: a handful, not 1000.
        Assert.InRange(completed, capacity, capacity + 10);
        Assert.Equal(DisconnectReason.SendStalled, (await node.Handler.WaitForAsync<Disconnected>()).Reason);
    }

    [Fact]
    public async Task Slow_handler_does_not_block_other_peers()
    {
        await using var node = TestNode.Start();
        await using var slow = TestNode.Start();
        await using var fast = TestNode.Start();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        node.Handler.OnMessage = async (from, _, ct) =>
        {
            if (from == slow.Id)
            {
                await release.Task.WaitAsync(ct);
            }
        };
        await slow.Manager.ConnectAsync(node.Id, node.EndPoint);
        await fast.Manager.ConnectAsync(node.Id, node.EndPoint);

        await slow.Manager.SendAsync(node.Id, SampleMessage(1));
        await node.Handler.WaitForAsync<Received>(r => r.From == slow.Id);
        await fast.Manager.SendAsync(node.Id, SampleMessage(2));
        await node.Handler.WaitForAsync<Received>(r => r.From == fast.Id);
        release.SetResult();
    }

    [Fact]
    public async Task Handler_exceptions_are_contained()
    {
        await using var node = TestNode.Start();
        await using var other = TestNode.Start();
        node.Handler.OnMessage = (_, _, _) => throw new InvalidOperationException("application bug");
        await other.Manager.ConnectAsync(node.Id, node.EndPoint);

        await other.Manager.SendAsync(node.Id, SampleMessage(1));
        await other.Manager.SendAsync(node.Id, SampleMessage(2));
        await node.Handler.WaitForAsync<Received>(occurrence: 2);
        Assert.True(node.Manager.IsConnected(other.Id));
    }

    [Fact]
    public async Task Disposing_the_manager_reports_ManagerStopped()
    {
        var a = TestNode.Start();
        await using var b = TestNode.Start();
        await a.Manager.ConnectAsync(b.Id, b.EndPoint);

        await a.DisposeAsync();

        Assert.Equal(DisconnectReason.ManagerStopped, Assert.Single(a.Handler.Events.OfType<Disconnected>()).Reason);
        await b.Handler.WaitForAsync<Disconnected>();
        Assert.Empty(b.Manager.ListPeers());
    }

    private static async Task<T> ReceiveSkippingAsync<T>(RawPeer peer, bool answerPings = false)
        where T : LightningMessage
    {
        while (true)
        {
            var message = await peer.ReceiveAsync() ?? throw new InvalidOperationException("connection closed");
            if (message is T wanted)
            {
                return wanted;
            }
            if (answerPings && message is Ping ping && ping.CreateReply() is { } pong)
            {
                await peer.SendAsync(pong);
            }
        }
    }
}
