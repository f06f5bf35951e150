using CsCheck;
using NBitcoin;
using Satflow.Lightning.Backup;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Node.Tests;

public sealed class RecoveryTests
{
    [Fact]
    public async Task A_node_that_lost_its_store_recovers_its_channel_balance_from_the_static_channel_backup()
    {
        var directory = Directory.CreateTempSubdirectory("satflow-recovery-").FullName;
        try
        {
            await using var h = await LightningHarness.CreateAsync(2, new HarnessOptions { BackupDirectory = directory });
            var (a, b) = (h[0], h[1]);
            var capacity = Money.Satoshis(1_000_000);
            var channelId = await h.OpenChannelAsync(a, b, capacity);
            Assert.Equal(Satflow.Payments.OutgoingPaymentState.Succeeded, (await h.PayAsync(a, b, MilliSatoshi.FromSatoshis(300_000))).State);
            Assert.Equal(Satflow.Payments.OutgoingPaymentState.Succeeded, (await h.PayAsync(b, a, MilliSatoshi.FromSatoshis(120_000))).State);
            var backupFile = await File.ReadAllBytesAsync(a.BackupPath(directory));
            var aBalanceAtB = b.Node.GetChannel(channelId)!.RemoteBalance;
            var entry = Assert.Single(StaticChannelBackup.Decode(backupFile, a.Seed).Channels);

            // A loses its whole store; it restarts empty with the same seed and restores from the backup.
            await h.CrashAsync(a);
            await h.RestartAsync(a, new InMemoryKeyValueStore());
            Assert.Null(a.Node.GetChannel(channelId));
            var walletBefore = a.WalletBalance;
            Assert.Equal([channelId], await a.Node.RestoreFromBackupAsync(backupFile));
            Assert.Empty(await a.Node.RestoreFromBackupAsync(backupFile)); // idempotent
            await h.SettleAsync();

            // B (a Satflow node) force closed with its latest commitment on our request.
            var commitmentId = b.Node.GetClosingTransactionId(channelId);
            Assert.NotNull(commitmentId);

            // A crashes again before anything confirms: the recovery is persisted.
            await h.CrashAsync(a);
            await h.MineBlocksAsync(1);
            await h.RestartAsync(a);
            Assert.Equal([channelId], a.Node.RecoveringChannels);
            await h.MineUntilMempoolEmptyAsync();
            await h.MineBlocksAsync((int)Lightning.Monitor.ChannelMonitor.AntiReorgDelay + 1);
            Assert.Empty(a.Node.RecoveringChannels);
            Assert.Empty(await a.Store.ListAsync(Persistence.NodeStore.PrimaryNamespace, Persistence.RecoveryRecord.Namespace));

            var commitment = FindTransaction(h, commitmentId!);
            Assert.Equal(entry.FundingOutPoint, Assert.Single(commitment.Inputs).PrevOut);
            var keys = LocalChannelKeys.Derive(a.Seed, entry.ChannelKeyIndex);
            var toRemoteScript = entry.Format == CommitmentFormat.AnchorOutputs
                ? Bolt3Scripts.ToRemoteAnchors(keys.PaymentBasepointSecret.PubKey).WitHash.ScriptPubKey
                : keys.PaymentBasepointSecret.PubKey.Compress().WitHash.ScriptPubKey;
            var toRemoteIndex = commitment.Outputs.FindIndex(o => o.ScriptPubKey == toRemoteScript);
            Assert.True(toRemoteIndex >= 0);
            // A funded the channel: its output in B's commitment is its balance minus the commitment fee (and anchors).
            var anchors = entry.Format == CommitmentFormat.AnchorOutputs ? Bolt3Fees.AnchorAmount * 2 : Money.Zero;
            var expected = Money.Satoshis((long)aBalanceAtB.TruncateToSatoshis()) - Bolt3Fees.CommitmentFee(entry.Format, h.Options.FeeRate.SatPerKw, 0) - anchors;
            Assert.Equal(expected, commitment.Outputs[toRemoteIndex].Value);
            Assert.Equal(820_000L, (long)aBalanceAtB.TruncateToSatoshis());

            var sweep = FindSpender(h, new OutPoint(commitment, toRemoteIndex));
            var received = a.WalletBalance - walletBefore;
            var sweepFee = commitment.Outputs[toRemoteIndex].Value - sweep.TotalOut;
            Assert.True(sweepFee > Money.Zero && sweepFee < Money.Satoshis(2_000));
            Assert.Equal(sweep.TotalOut, received);
            Assert.Contains(a.Node.MonitorEvents, e => e.ChannelId == channelId && e.Event is Lightning.Monitor.ChannelFullyResolved);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Restoring_a_backup_of_another_seed_or_a_modified_one_fails_with_a_typed_error_and_changes_nothing()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        await h.OpenChannelAsync(a, b, Money.Satoshis(300_000));
        var backup = a.Node.CreateStaticChannelBackup();

        var wrongSeed = await Assert.ThrowsAsync<StaticChannelBackupException>(() => c.Node.RestoreFromBackupAsync(backup));
        Assert.Equal(StaticChannelBackupError.WrongKey, wrongSeed.Error);
        var tampered = backup.ToArray();
        tampered[^1] ^= 1;
        var modified = await Assert.ThrowsAsync<StaticChannelBackupException>(() => a.Node.RestoreFromBackupAsync(tampered));
        Assert.Equal(StaticChannelBackupError.Tampered, modified.Error);
        Assert.Empty(c.Node.RecoveringChannels);

        // A channel the node still holds is never put under recovery.
        Assert.Empty(await a.Node.RestoreFromBackupAsync(backup));
        Assert.Empty(a.Node.RecoveringChannels);
    }

    [Fact]
    public void A_recovery_record_round_trips_and_random_or_cut_bytes_give_only_the_typed_error()
    {
        var record = new Persistence.RecoveryRecord([1, 2, 3], new Script(OpcodeType.OP_TRUE), [9, 8]);
        var decoded = Persistence.RecoveryRecord.Decode(record.Encode());
        Assert.Equal(record.Backup, decoded.Backup);
        Assert.Equal(record.Destination, decoded.Destination);
        Assert.Equal(record.Monitor, decoded.Monitor);
        var valid = record.Encode();
        Gen.Byte.Array[0, 200].Sample(bytes => Decodes(bytes));
        Gen.Int[0, valid.Length].Sample(cut => Decodes(valid[..cut]));
        Gen.Int[0, valid.Length - 1].Select(Gen.Byte).Sample((i, b) =>
        {
            var mutated = valid.ToArray();
            mutated[i] = b;
            Decodes(mutated);
        });

        static void Decodes(byte[] bytes)
        {
            try
            {
                Persistence.RecoveryRecord.Decode(bytes);
            }
            catch (Persistence.NodeStateCorruptException)
            {
                // the only error allowed
            }
        }
    }

    [Fact]
    public async Task A_corrupt_recovery_record_stops_the_start_with_the_typed_error()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(300_000));
        var backup = a.Node.CreateStaticChannelBackup();
        await h.CrashAsync(a);
        var store = new InMemoryKeyValueStore();
        await h.RestartAsync(a, store);
        Assert.Equal([channelId], await a.Node.RestoreFromBackupAsync(backup));
        await h.CrashAsync(a);
        var key = Persistence.NodeStore.KeyOf(channelId);
        var bytes = (await store.ReadAsync(Persistence.NodeStore.PrimaryNamespace, Persistence.RecoveryRecord.Namespace, key))!.Value.ToArray();
        bytes[^1] ^= 0xff; // inside the monitor state
        await store.WriteAsync(Persistence.NodeStore.PrimaryNamespace, Persistence.RecoveryRecord.Namespace, key, bytes);
        await Assert.ThrowsAsync<Persistence.NodeStateCorruptException>(() => h.RestartAsync(a));
    }

    private static Transaction FindTransaction(LightningHarness h, uint256 txId) =>
        AllTransactions(h).FirstOrDefault(t => t.GetHash() == txId) ?? throw new InvalidOperationException($"{txId} is not mined.");

    private static Transaction FindSpender(LightningHarness h, OutPoint outPoint) =>
        AllTransactions(h).FirstOrDefault(t => t.Inputs.Any(i => i.PrevOut == outPoint)) ?? throw new InvalidOperationException($"{outPoint} is not spent.");

    private static IEnumerable<Transaction> AllTransactions(LightningHarness h)
    {
        for (var height = h.Chain.Height; height >= 0; height--)
        {
            foreach (var tx in h.Chain.Devnet.GetBlockInfo(h.Chain.Devnet.GetBlockHash(height)!)!.Block.Transactions)
            {
                yield return tx;
            }
        }
    }
}
