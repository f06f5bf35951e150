using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Backup;

/// <summary>
/// Recovers the funds of a channel known only from its <see cref="ChannelBackupEntry"/> (data loss): the node connects to
/// the peer and sends <c>channel_reestablish</c> with zero commitment numbers, which makes the peer force close with its
/// latest commitment; this monitor watches the funding output and sweeps our <c>to_remote</c> output of that commitment
/// (the P2WPKH of our payment basepoint with static remote key, the 1-block CSV P2WSH with anchors) to the destination.
/// HTLCs in flight and a commitment of ours are not recoverable: their scripts need per-commitment data the backup does
/// not hold. Pure: no threads, no clock, no I/O; reorgs are handled like <see cref="ChannelMonitor"/>.
/// </summary>
public sealed class RecoveryMonitor
{
    private readonly Key _paymentKey;
    private readonly Script _anchorsToRemote;
    private readonly Script _staticToRemote;
    private readonly ChainLog _log;
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private const byte SerializationVersion = 1;
    private const string ResolvedKey = "resolved";
    private uint _feeratePerKw = ChannelMonitor.MinimumFeeratePerKw;

    /// <summary>Creates the recovery monitor of one backed-up channel.</summary>
    /// <param name="entry">The backup entry.</param>
    /// <param name="nodeSeed">The node seed (re-derives the channel keys at <see cref="ChannelBackupEntry.ChannelKeyIndex"/>).</param>
    /// <param name="destination">The wallet script receiving the recovered funds.</param>
    public RecoveryMonitor(ChannelBackupEntry entry, ReadOnlySpan<byte> nodeSeed, Script destination)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(destination);
        Entry = entry;
        Destination = destination;
        _paymentKey = LocalChannelKeys.Derive(nodeSeed, entry.ChannelKeyIndex).PaymentBasepointSecret;
        _anchorsToRemote = Bolt3Scripts.ToRemoteAnchors(_paymentKey.PubKey).WitHash.ScriptPubKey;
        _staticToRemote = _paymentKey.PubKey.Compress().WitHash.ScriptPubKey;
        _log = new ChainLog(entry.FundingOutPoint);
    }

    /// <summary>The backed-up channel.</summary>
    public ChannelBackupEntry Entry { get; }

    /// <summary>Where recovered funds go.</summary>
    public Script Destination { get; }

    /// <summary>Whether our output is swept and buried (or there was none) <see cref="ChannelMonitor.AntiReorgDelay"/> blocks deep.</summary>
    public bool IsFullyResolved { get; private set; }

    /// <summary>A block was connected (a height at or below the tip replaces the blocks from there).</summary>
    /// <param name="height">The block height.</param>
    /// <param name="blockHash">The block hash.</param>
    /// <param name="transactions">Its transactions in block order.</param>
    /// <param name="feeratePerKw">The fee estimate for the sweep, in sat per 1000 weight units.</param>
    public MonitorOutput BlockConnected(uint height, uint256 blockHash, IReadOnlyList<Transaction> transactions, uint feeratePerKw)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        ArgumentNullException.ThrowIfNull(transactions);
        _feeratePerKw = Math.Max(feeratePerKw, ChannelMonitor.MinimumFeeratePerKw);
        _log.Connect(height, blockHash, transactions);
        return Analyze();
    }

    /// <summary>The block at <paramref name="height"/> was disconnected.</summary>
    /// <param name="height">Its height.</param>
    /// <param name="blockHash">Its hash.</param>
    public MonitorOutput BlockDisconnected(uint height, uint256 blockHash)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        _log.Disconnect(height);
        return Analyze();
    }

    /// <summary>The recovery state (version byte, funding outpoint, recorded chain, reported events) to persist across restarts.</summary>
    public byte[] Serialize()
    {
        var w = new WireWriter(512);
        w.WriteByte(SerializationVersion);
        w.WriteBytes(Entry.FundingOutPoint.Hash.ToBytes()).WriteUInt32(Entry.FundingOutPoint.N);
        w.WriteUInt32(_feeratePerKw);
        _log.Write(w);
        var reported = _reported.Order(StringComparer.Ordinal).ToList();
        w.WriteUInt16((ushort)reported.Count);
        foreach (var key in reported)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(key);
            w.WriteUInt16((ushort)bytes.Length).WriteBytes(bytes);
        }
        return w.ToArray();
    }

    /// <summary>Restores a recovery monitor saved with <see cref="Serialize"/>.</summary>
    /// <param name="data">The saved state.</param>
    /// <param name="entry">The backup entry it watches.</param>
    /// <param name="nodeSeed">The node seed.</param>
    /// <param name="destination">Where recovered funds go.</param>
    /// <exception cref="ChannelMonitorFormatException">When the data is corrupt, truncated, of an unknown version or of another channel.</exception>
    public static RecoveryMonitor Deserialize(ReadOnlySpan<byte> data, ChannelBackupEntry entry, ReadOnlySpan<byte> nodeSeed, Script destination)
    {
        var monitor = new RecoveryMonitor(entry, nodeSeed, destination);
        try
        {
            var r = new WireReader(data);
            var version = r.ReadByte();
            if (version != SerializationVersion)
            {
                throw new ChannelMonitorFormatException("unknown version", $"recovery monitor version {version}");
            }
            if (new OutPoint(new uint256(r.ReadSpan(32)), r.ReadUInt32()) != entry.FundingOutPoint)
            {
                throw new ChannelMonitorFormatException("wrong channel", "the saved state watches another funding output");
            }
            monitor._feeratePerKw = r.ReadUInt32();
            monitor._log.ReadFrom(ref r);
            var count = r.ReadUInt16();
            for (var i = 0; i < count; i++)
            {
                monitor._reported.Add(new System.Text.UTF8Encoding(false, true).GetString(r.ReadSpan(r.ReadUInt16())));
            }
            r.EnsureEnd("recovery monitor");
        }
        catch (ChannelMonitorFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or InvalidOperationException or IndexOutOfRangeException or EndOfStreamException or NotSupportedException)
        {
            throw new ChannelMonitorFormatException("corrupt recovery monitor", e.Message, e);
        }
        monitor.IsFullyResolved = monitor._reported.Contains(ResolvedKey);
        return monitor;
    }

    private MonitorOutput Analyze()
    {
        var facts = new Dictionary<string, MonitorEvent>(StringComparer.Ordinal);
        var broadcasts = new List<MonitorBroadcast>();
        var resolved = false;
        if (_log.SpendOf(Entry.FundingOutPoint) is { } funding)
        {
            var commit = funding.Tx;
            var tx = commit.Transaction;
            var ours = false;
            var allBuried = true;
            var factor = Entry.LocalIsFunder
                ? CommitmentNumberObscuring.Factor(_paymentKey.PubKey, Entry.RemotePaymentBasepoint)
                : CommitmentNumberObscuring.Factor(Entry.RemotePaymentBasepoint, _paymentKey.PubKey);
            for (var i = 0; i < tx.Outputs.Count; i++)
            {
                var anchors = tx.Outputs[i].ScriptPubKey == _anchorsToRemote;
                if (!anchors && tx.Outputs[i].ScriptPubKey != _staticToRemote)
                {
                    continue;
                }
                ours = true;
                var op = new OutPoint(commit.TxId, i);
                if (_log.SpendOf(op) is { } spend)
                {
                    allBuried &= _log.Confirmations(spend.Tx.Height) >= ChannelMonitor.AntiReorgDelay;
                    continue;
                }
                allBuried = false;
                // The anchors output's 1-block CSV is met by any block after the commitment's: the tip is at least its block.
                var amount = tx.Outputs[i].Value;
                var input = anchors ? SweepInput.ToRemoteAnchors(op, amount, _paymentKey) : SweepInput.P2wpkh(op, amount, _paymentKey);
                try
                {
                    var sweep = SweepTransactionBuilder.Build([input], Destination, _feeratePerKw);
                    broadcasts.Add(new MonitorBroadcast(sweep.Transaction, ClaimPurpose.ClaimToRemote, sweep.SpentOutputs));
                }
                catch (SweepException e) when (e.Reason == SweepFailure.OutputBelowDust)
                {
                    // Not worth sweeping at this feerate; tried again next block.
                }
            }
            var number = tx.Inputs.Count == 1 ? CommitmentNumberObscuring.Recover(tx.LockTime, tx.Inputs[0].Sequence, factor) : null;
            facts[$"commit:{commit.TxId}:{commit.Height}"] = new CommitmentConfirmed(ours ? CommitmentKind.Remote : CommitmentKind.Unknown, commit.TxId, commit.Height, number);
            foreach (var seen in _log.Seen.Where(s => s.TxId != commit.TxId && s.Transaction.Inputs.All(i => _log.FindTx(i.PrevOut.Hash) is not null)))
            {
                var swept = seen.Transaction.Outputs.Where(o => o.ScriptPubKey == Destination).Select(o => o.Value).Sum();
                if (swept > Money.Zero)
                {
                    facts[$"swept:{seen.TxId}"] = new FundsSwept(swept, seen.TxId);
                }
            }
            resolved = allBuried && _log.Confirmations(commit.Height) >= ChannelMonitor.AntiReorgDelay;
            if (resolved)
            {
                facts[ResolvedKey] = new ChannelFullyResolved(_log.TipHeight);
            }
        }
        IsFullyResolved = resolved;
        var events = facts.Where(f => !_reported.Contains(f.Key)).Select(f => f.Value).ToList();
        _reported.Clear();
        _reported.UnionWith(facts.Keys);
        return new MonitorOutput(broadcasts, events);
    }
}
