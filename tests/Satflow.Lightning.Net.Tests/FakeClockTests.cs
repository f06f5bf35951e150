using Microsoft.Extensions.Time.Testing;
using Satflow.Lightning.Messages;

namespace Satflow.Lightning.Net.Tests;

/// <summary>Timers driven by an injected <see cref="FakeTimeProvider"/>: nothing waits on the wall clock.</summary>
public sealed class FakeClockTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static (PeerManager Manager, RecordingHandler Handler) StartManager(FakeTimeProvider clock)
    {
        var handler = new RecordingHandler();
        var options = TestNode.FastOptions() with { PingInterval = TimeSpan.FromMinutes(1), PongTimeout = TimeSpan.FromSeconds(30) };
        var manager = new PeerManager(TestNode.NewKey(), options, handler, clock);
        manager.Start();
        return (manager, handler);
    }

    [Fact]
    public async Task Ping_and_pong_timeout_follow_the_injected_clock()
    {
        var clock = new FakeTimeProvider(Start);
        var (manager, handler) = StartManager(clock);
        await using var _m = manager;
        var node = new { Id = manager.LocalNodeId, EndPoint = manager.LocalEndPoint! };
        await using var peer = await RawPeer.ConnectTcpAsync(node.EndPoint);
        await peer.HandshakeAsync(node.Id);
        await peer.SendAsync(RawPeer.DefaultInit());
        Assert.IsType<Init>(await peer.ReceiveAsync());
        var connected = await handler.WaitForAsync<Connected>();
        Assert.Equal(Start, connected.Info.ConnectedSince);

        // The first ping is scheduled before the application hears of the peer: advancing the clock sends it.
        clock.Advance(TimeSpan.FromMinutes(1));
        var ping = Assert.IsType<Ping>(await peer.ReceiveAsync());
        Assert.Equal(16, ping.NumPongBytes);

        // We never answer: once the pong timeout elapses on the fake clock the manager warns and hangs up.
        clock.Advance(TimeSpan.FromSeconds(30));
        var rest = await peer.ReadUntilClosedAsync();
        Assert.IsType<Warning>(Assert.Single(rest));
        Assert.Equal(DisconnectReason.PingTimeout, (await handler.WaitForAsync<Disconnected>()).Reason);
    }
}
