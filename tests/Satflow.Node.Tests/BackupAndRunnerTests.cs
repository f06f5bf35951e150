using CsCheck;
using Microsoft.Extensions.Time.Testing;
using NBitcoin;
using Satflow.Lightning.Backup;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class BackupAndRunnerTests
{
    [Fact]
    public async Task The_static_channel_backup_file_is_rewritten_on_open_and_close()
    {
        var directory = Directory.CreateTempSubdirectory("satflow-scb-").FullName;
        try
        {
            await using var h = await LightningHarness.CreateAsync(2, new HarnessOptions { BackupDirectory = directory });
            var (a, b) = (h[0], h[1]);
            var path = a.BackupPath(directory);
            Assert.False(File.Exists(path));

            var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(400_000));
            var backup = StaticChannelBackup.Decode(await File.ReadAllBytesAsync(path), a.Seed);
            var entry = Assert.Single(backup.Channels);
            Assert.Equal(b.NodeId, entry.PeerNodeId);
            Assert.Equal(channelId, entry.ChannelId);
            Assert.Single(StaticChannelBackup.Decode(await File.ReadAllBytesAsync(b.BackupPath(directory)), b.Seed).Channels);

            await a.Node.CloseChannelAsync(channelId, force: false);
            await h.SettleAsync();
            await h.MineBlocksAsync(7);
            Assert.Empty(StaticChannelBackup.Decode(await File.ReadAllBytesAsync(path), a.Seed).Channels);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_runner_feeds_new_blocks_to_the_node_and_stops_when_cancelled()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var node = h[0].Node;
        await h.Chain.MineAsync(5); // not fed by the harness
        Assert.Equal(h.Chain.Height - 5, node.BlockHeight);

        var time = new FakeTimeProvider();
        var runner = new NodeRunner(node, h.Chain.Devnet, time, TimeSpan.FromSeconds(1));
        Assert.Equal(5, await runner.RunOnceAsync());
        Assert.Equal(h.Chain.Height, node.BlockHeight);
        Assert.Equal(h.Chain.Devnet.Tip.Hash, node.BestBlock!.Value.Hash);

        using var stop = new CancellationTokenSource();
        var loop = runner.RunAsync(stop.Token);
        await h.Chain.MineAsync(2);
        time.Advance(TimeSpan.FromSeconds(1));
        await LightningHarness.WaitUntilAsync(() => node.BlockHeight == h.Chain.Height, "the loop connected the new blocks");
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_payment_whose_htlc_never_left_is_failed_on_restart_and_may_be_retried()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.OpenChannelAsync(a, b, Money.Satoshis(400_000));
        var invoice = await b.Node.CreateInvoiceAsync(new MilliSatoshi(2_000_000), "lost in a crash");
        var pending = await a.Node.PayInvoiceAsync(invoice.Bolt11);
        // Without AutoFlush the HTLC waits in the outbox: a crash now loses it before it was written or sent.
        await h.CrashAsync(a);
        await h.RestartAsync(a);
        var failed = await a.Node.LookupPaymentAsync(pending.PaymentHash);
        Assert.Equal(OutgoingPaymentState.Failed, failed!.State);
        Assert.Equal(PaymentFailureReason.Aborted, failed.FailureReason);

        await h.ConnectAsync(a, b);
        var retried = await h.PayAsync(a, b, new MilliSatoshi(1));
        Assert.Equal(OutgoingPaymentState.Succeeded, retried.State);
        await a.Node.PayInvoiceAsync(invoice.Bolt11);
        await h.SettleAsync();
        Assert.Equal(OutgoingPaymentState.Succeeded, (await a.Node.LookupPaymentAsync(pending.PaymentHash))!.State);
    }

    [Fact]
    public void Garbage_channel_and_received_htlc_records_are_typed_errors()
    {
        var valid = new ChannelRecord(NodeId.FromBytes(new Key(Enumerable.Repeat((byte)1, 32).ToArray()).PubKey.ToBytes()), 3, 120, new ShortChannelId(120, 1, 0), null, new byte[] { 1, 2, 3 });
        Assert.Equal(valid.ChannelBytes.ToArray(), ChannelRecord.Decode(valid.Encode()).ChannelBytes.ToArray());
        Assert.Equal(valid.ShortChannelId, ChannelRecord.Decode(valid.Encode()).ShortChannelId);
        var received = new ReceivedHtlcRecord(9, new MilliSatoshi(5), new PaymentHash(new Bytes32(new byte[32])), 700, new byte[] { 9, 9 });
        Assert.Equal(received.CltvExpiry, ReceivedHtlcRecord.Decode(received.Encode()).CltvExpiry);
        var encoded = valid.Encode();
        Gen.Byte.Array[0, 200].Sample(bytes => Typed(() => ChannelRecord.Decode(bytes)), iter: 300);
        Gen.Int[0, encoded.Length - 1].Select(Gen.Byte).Sample((i, v) =>
        {
            var mutated = (byte[])encoded.Clone();
            mutated[i] ^= (byte)(v | 1);
            Typed(() => ChannelRecord.Decode(mutated));
        }, iter: 300);
        Gen.Byte.Array[0, 120].Sample(bytes => Typed(() => ReceivedHtlcRecord.Decode(bytes)), iter: 300);
    }

    private static void Typed(Action decode)
    {
        try
        {
            decode();
        }
        catch (NodeStateCorruptException)
        {
        }
    }
}
