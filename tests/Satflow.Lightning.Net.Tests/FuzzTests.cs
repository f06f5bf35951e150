using CsCheck;
using Satflow.Lightning.Messages;

namespace Satflow.Lightning.Net.Tests;

/// <summary>Random (authenticated) messages from a peer only ever cost that peer its connection.</summary>
public sealed class FuzzTests
{
    private static readonly ushort[] Types =
    [
        MessageTypes.Warning, MessageTypes.Init, MessageTypes.Error, MessageTypes.Ping, MessageTypes.Pong, MessageTypes.OpenChannel,
        MessageTypes.Shutdown, MessageTypes.UpdateAddHtlc, MessageTypes.CommitmentSigned, MessageTypes.ChannelReestablish,
        MessageTypes.ChannelAnnouncement, MessageTypes.ChannelUpdate, MessageTypes.QueryShortChannelIds, MessageTypes.ReplyChannelRange,
        MessageTypes.TxAddInput, 32766, 32767, 1000, 1001,
    ];

    [Fact]
    public async Task Random_messages_never_break_the_manager()
    {
        await using var node = TestNode.Start();
        await using var witness = TestNode.Start();
        await witness.Manager.ConnectAsync(node.Id, node.EndPoint);
        await node.Handler.WaitForAsync<Connected>();

        RawPeer? peer = null;
        var (survived, dropped) = (0, 0);
        var gen = Gen.Select(Gen.Int[0, Types.Length - 1], Gen.Byte.Array[0, 300]);
        await gen.SampleAsync(async (typeIndex, payload) =>
        {
            if (peer is null)
            {
                (peer, _) = await RawPeer.ConnectAsync(node);
            }
            var type = Types[typeIndex];
            await peer.SendPlaintextAsync([(byte)(type >> 8), (byte)type, .. payload]);
            // A probe ping: a 3-byte pong back means the connection survived; end of stream means it was dropped.
            await peer.SendAsync(Ping.Create(3));
            while (true)
            {
                var reply = await peer.ReceiveAsync();
                if (reply is null or Error or Warning)
                {
                    await peer.DisposeAsync();
                    peer = null;
                    dropped++;
                    return;
                }
                if (reply is Pong { Ignored.Length: 3 })
                {
                    survived++;
                    return;
                }
            }
        }, iter: 60, threads: 1);
        if (peer is not null)
        {
            await peer.DisposeAsync();
        }

        Assert.True(survived > 0 && dropped > 0, $"survived {survived}, dropped {dropped}");
        Assert.All(node.Handler.Events.OfType<Disconnected>(), d => Assert.Contains(d.Reason, new[]
        {
            DisconnectReason.UnknownEvenMessage, DisconnectReason.MalformedMessage, DisconnectReason.RemoteClosed,
        }));
        Assert.True(node.Manager.IsConnected(witness.Id));
        await witness.Manager.SendAsync(node.Id, new Warning(default, "still here"u8.ToArray()));
        await node.Handler.WaitForAsync<Received>(r => r.From == witness.Id);
    }
}
