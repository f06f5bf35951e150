using System.Net;
using Satflow.Lightning.Backup;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    private readonly Dictionary<ChannelId, (RecoveryRecord Record, RecoveryMonitor Monitor)> _recoveries = [];

    /// <summary>The channels being recovered from a static channel backup (until their funds are swept and buried).</summary>
    public IReadOnlyList<ChannelId> RecoveringChannels => [.. _recoveries.Keys];

    /// <summary>
    /// Recovers the funds of the channels in a static channel backup after the loss of the store (issue 4): for each
    /// channel the node does not hold, a <see cref="RecoveryMonitor"/> is persisted (sweeping to the funding wallet) and
    /// the peer is dialled; when it connects it gets a <c>channel_reestablish</c> with zero commitment numbers and an
    /// all-zero last secret, then an <c>error</c> for the channel (BOLT 2 data loss: we must not broadcast our stale
    /// commitment and ask the peer to fail the channel), so it force closes with its latest commitment, whose
    /// <c>to_remote</c> output the monitor sweeps. HTLCs in flight are not recoverable.
    /// </summary>
    /// <param name="backupFile">The backup file's bytes.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The channels put under recovery (channels held live or already recovering are skipped).</returns>
    /// <exception cref="StaticChannelBackupException">The file is not a backup, was made with another seed or was modified.</exception>
    public async Task<IReadOnlyList<ChannelId>> RestoreFromBackupAsync(byte[] backupFile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backupFile);
        var backup = StaticChannelBackup.Decode(backupFile, _seed);
        var feerate = await CurrentFeerateAsync(cancellationToken).ConfigureAwait(false);
        var added = new List<ChannelBackupEntry>();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var ops = new List<KvOperation>();
            foreach (var entry in backup.Channels)
            {
                if (_channels.ContainsKey(entry.ChannelId) || _recoveries.ContainsKey(entry.ChannelId))
                {
                    continue;
                }
                var destination = _deps.FundingWallet.GetSweepScript();
                var monitor = new RecoveryMonitor(entry, _seed, destination);
                if (_height >= 0)
                {
                    monitor.BlockConnected((uint)_height, _tipHash, [], feerate);
                }
                var salt = new byte[32];
                _random(salt);
                var record = new RecoveryRecord(new StaticChannelBackup([entry]).Encode(_seed, salt), destination, monitor.Serialize());
                _recoveries[entry.ChannelId] = (record, monitor);
                ops.Add(RecoveryRecord.Write(entry.ChannelId, record));
                added.Add(entry);
            }
            if (added.Count > 0)
            {
                // Never hand out a restored channel's key index again.
                var next = Math.Max(_nextKeyIndex, added.Max(e => e.ChannelKeyIndex) + 1);
                if (next != _nextKeyIndex)
                {
                    _nextKeyIndex = next;
                    ops.Add(NodeStore.WriteNextKeyIndex(next));
                }
                await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
        foreach (var entry in added)
        {
            Log.ChannelNote(_logger, entry.ChannelId, "under recovery from the static channel backup");
            await DialRecoveryPeerAsync(entry, cancellationToken).ConfigureAwait(false);
        }
        return [.. added.Select(e => e.ChannelId)];
    }

    private async Task DialRecoveryPeerAsync(ChannelBackupEntry entry, CancellationToken cancellationToken)
    {
        if (_deps.Transport.ListPeers().Any(p => p.NodeId == entry.PeerNodeId))
        {
            // Already connected: the peer connected callback has passed, so ask now.
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await SendRecoveryRequestsAsync(entry.PeerNodeId, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
            return;
        }
        var endPoints = entry.PeerAddresses.OfType<IPNetworkAddress>().Select(a => new IPEndPoint(a.Address, a.Port)).ToList<IPEndPoint?>();
        if (endPoints.Count == 0)
        {
            endPoints.Add(null); // transports that need no address (the in-memory network)
        }
        foreach (var endPoint in endPoints)
        {
            try
            {
                await _deps.Transport.ConnectAsync(entry.PeerNodeId, endPoint, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Lightning.Net.PeerConnectionException e)
            {
                Log.ChannelNote(_logger, entry.ChannelId, $"recovery peer unreachable at {endPoint}: {e.Message}");
            }
        }
    }

    /// <summary>Loads the channels under recovery (at start).</summary>
    private async Task RestoreRecoveriesAsync(CancellationToken cancellationToken)
    {
        foreach (var (key, value) in await _store.ReadAllAsync(RecoveryRecord.Namespace, cancellationToken).ConfigureAwait(false))
        {
            var channelId = NodeStore.ParseChannelKey(key);
            var record = RecoveryRecord.Decode(value.Span);
            try
            {
                var entry = StaticChannelBackup.Decode(record.Backup, _seed).Channels.Single();
                var monitor = RecoveryMonitor.Deserialize(record.Monitor, entry, _seed, record.Destination);
                if (entry.ChannelId != channelId)
                {
                    throw new NodeStateCorruptException($"Recovery record '{key}' holds channel {entry.ChannelId}.");
                }
                _recoveries[channelId] = (record, monitor);
            }
            catch (Exception e) when (e is Lightning.Wire.WireFormatException or InvalidOperationException)
            {
                throw new NodeStateCorruptException($"Recovery record '{key}' is unreadable: {e.Message}");
            }
        }
    }

    /// <summary>Asks a peer that just connected to force close every channel we recover with it (under the gate).</summary>
    private async Task SendRecoveryRequestsAsync(NodeId peer, CancellationToken cancellationToken)
    {
        foreach (var (channelId, (_, monitor)) in _recoveries.Where(r => r.Value.Monitor.Entry.PeerNodeId == peer).OrderBy(r => r.Key.Value.ToHex(), StringComparer.Ordinal).ToList())
        {
            if (monitor.IsFullyResolved)
            {
                continue;
            }
            var keys = LocalChannelKeys.Derive(_seed, monitor.Entry.ChannelKeyIndex);
            await SendAsync(peer, new ChannelReestablish(channelId, 0, 0, Bytes32.Zero, new Point(keys.PerCommitmentPoint(0))), cancellationToken).ConfigureAwait(false);
            await SendAsync(peer, new Error(channelId, "We lost channel state: please force close."u8.ToArray()), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Feeds a block to the recovery monitors (under the gate), persists them, broadcasts their sweeps and forgets resolved ones.</summary>
    private async Task FeedRecoveriesAsync(Func<RecoveryMonitor, MonitorOutput> feed, CancellationToken cancellationToken)
    {
        if (_recoveries.Count == 0)
        {
            return;
        }
        var ops = new List<KvOperation>();
        var results = new List<(ChannelId, MonitorOutput)>();
        foreach (var (channelId, (record, monitor)) in _recoveries.OrderBy(r => r.Key.Value.ToHex(), StringComparer.Ordinal).ToList())
        {
            var output = feed(monitor);
            results.Add((channelId, output));
            if (monitor.IsFullyResolved)
            {
                _recoveries.Remove(channelId);
                ops.Add(RecoveryRecord.Remove(channelId));
            }
            else
            {
                var updated = record with { Monitor = monitor.Serialize() };
                _recoveries[channelId] = (updated, monitor);
                ops.Add(RecoveryRecord.Write(channelId, updated));
            }
        }
        await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
        foreach (var (channelId, output) in results)
        {
            foreach (var broadcast in output.Broadcasts)
            {
                await BroadcastAsync(broadcast.Transaction, "recovery " + broadcast.Purpose, cancellationToken).ConfigureAwait(false);
            }
            foreach (var e in output.Events)
            {
                _monitorEvents.Add((channelId, e));
                if (e is ChannelFullyResolved)
                {
                    ClosedChannels.Add(channelId);
                    Log.ChannelNote(_logger, channelId, "recovered from the static channel backup; forgotten");
                }
            }
        }
    }
}
