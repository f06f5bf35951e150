using System.Text;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Monitor;

public sealed partial class ChannelMonitor
{
    /// <summary>
    /// The monitor's state: a version byte, the static parameters, the updates it keeps, revocation secrets,
    /// preimages, the recorded chain and the reported events. Secrets of our own keys are not included (they are
    /// re-derived from the node seed), but revocation secrets and preimages are: store it as private data.
    /// </summary>
    public byte[] Serialize()
    {
        var w = new WireWriter(1024);
        w.WriteByte(SerializationVersion);
        WriteParameters(w, Parameters);
        WriteBytes16(w, Destination.ToBytes(true));
        w.WriteUInt64(LastUpdateId);
        w.WriteByte(_local is null ? (byte)0 : (byte)1);
        if (_local is { } local)
        {
            w.WriteUInt64(local.UpdateId).WriteUInt64(local.CommitmentNumber).WriteUInt32(local.FeeratePerKw);
            w.WriteUInt64(local.ToLocal.Value).WriteUInt64(local.ToRemote.Value);
            WriteHtlcs(w, local.Htlcs);
            w.WriteBytes(local.RemoteCommitmentSignature.ToCompact());
            w.WriteUInt16((ushort)local.RemoteHtlcSignatures.Count);
            foreach (var s in local.RemoteHtlcSignatures)
            {
                w.WriteBytes(s.ToCompact());
            }
        }
        w.WriteByte((byte)_remotes.Count);
        foreach (var r in _remotes)
        {
            w.WriteUInt64(r.UpdateId).WriteUInt64(r.CommitmentNumber).WriteBytes(r.PerCommitmentPoint.Compress().ToBytes()).WriteUInt32(r.FeeratePerKw);
            w.WriteUInt64(r.RemoteToLocal.Value).WriteUInt64(r.RemoteToRemote.Value);
            WriteHtlcs(w, r.Htlcs);
        }
        WriteHtlcs32(w, _peerHtlcs.Values.OrderBy(h => h.Direction).ThenBy(h => h.Id).ToList());
        var secrets = _secrets.Snapshot();
        w.WriteByte((byte)secrets.Count);
        foreach (var (index, secret) in secrets)
        {
            w.WriteUInt64(index).WriteBytes(secret.ToArray());
        }
        w.WriteUInt32((uint)_preimages.Count);
        foreach (var p in _preimages.Values)
        {
            w.WriteBytes(p.Value.ToArray());
        }
        w.WriteUInt16((ushort)_cooperative.Count);
        foreach (var c in _cooperative)
        {
            w.WriteBytes(c.ToBytes());
        }
        w.WriteByte(_forceCloseReason is null ? (byte)0 : (byte)1);
        if (_forceCloseReason is not null)
        {
            WriteBytes16(w, Encoding.UTF8.GetBytes(_forceCloseReason));
        }
        w.WriteUInt32(_lastFeerate);
        _log.Write(w);
        WriteStrings(w, _claimFeerates.Keys, k => w.WriteUInt32(_claimFeerates[k]));
        WriteStrings(w, _reported, _ => { });
        return w.ToArray();
    }

    /// <summary>Restores a monitor from <see cref="Serialize"/>.</summary>
    /// <param name="data">The serialized monitor.</param>
    /// <param name="keys">Our channel keys (re-derived from the node seed and the channel key index).</param>
    /// <param name="feeWallet">The fee wallet seam (see the constructor).</param>
    /// <exception cref="ChannelMonitorFormatException">When the data is corrupt, truncated, of an unknown version or of another channel's keys.</exception>
    public static ChannelMonitor Deserialize(ReadOnlySpan<byte> data, LocalChannelKeys keys, IClaimFeeWallet? feeWallet = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        try
        {
            return Read(data, keys, feeWallet);
        }
        catch (ChannelMonitorFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or OverflowException
            or IndexOutOfRangeException or PerCommitmentSecretException or ChannelMonitorException or EndOfStreamException or NotSupportedException)
        {
            throw new ChannelMonitorFormatException("corrupt channel monitor", e.Message, e);
        }
    }

    private static ChannelMonitor Read(ReadOnlySpan<byte> data, LocalChannelKeys keys, IClaimFeeWallet? feeWallet)
    {
        var r = new WireReader(data);
        if (r.IsEnd)
        {
            throw new ChannelMonitorFormatException("unexpected EOF", "empty channel monitor");
        }
        var version = r.ReadByte();
        if (version != SerializationVersion)
        {
            throw new ChannelMonitorFormatException("unknown version", $"channel monitor version {version}");
        }
        var parameters = ReadParameters(ref r);
        if (parameters.Local != keys.Basepoints)
        {
            throw new ChannelMonitorFormatException("wrong keys", "the channel keys do not match the monitor's local basepoints");
        }
        var destination = new Script(ReadBytes16(ref r));
        var monitor = new ChannelMonitor(parameters, keys, destination, feeWallet) { LastUpdateId = r.ReadUInt64() };
        if (ReadFlag(ref r))
        {
            var updateId = r.ReadUInt64();
            var number = r.ReadUInt64();
            var feerate = r.ReadUInt32();
            var toLocal = new MilliSatoshi(r.ReadUInt64());
            var toRemote = new MilliSatoshi(r.ReadUInt64());
            var htlcs = ReadHtlcs(ref r);
            var signature = ReadSignature(ref r);
            var count = r.ReadUInt16();
            var htlcSignatures = new List<ECDSASignature>();
            for (var i = 0; i < count; i++)
            {
                htlcSignatures.Add(ReadSignature(ref r));
            }
            var local = new LocalCommitmentUpdate(updateId, number, feerate, toLocal, toRemote, htlcs, signature, htlcSignatures);
            monitor._local = local;
            monitor._localTx = monitor.BuildLocal(local);
            if (!Bolt3Signing.VerifyCommitment(monitor._localTx, signature, parameters.Remote.FundingPubKey))
            {
                throw new ChannelMonitorFormatException("corrupt channel monitor", "the stored commitment signature does not verify");
            }
        }
        var remotes = r.ReadByte();
        if (remotes > 2)
        {
            throw new ChannelMonitorFormatException("corrupt channel monitor", "more than two unrevoked peer commitments");
        }
        for (var i = 0; i < remotes; i++)
        {
            var update = new RemoteCommitmentUpdate(r.ReadUInt64(), r.ReadUInt64(), ReadPubKey(ref r), r.ReadUInt32(), new MilliSatoshi(r.ReadUInt64()), new MilliSatoshi(r.ReadUInt64()), ReadHtlcs(ref r));
            monitor._remotes.Add(update);
            monitor._remoteTxs[update.CommitmentNumber] = monitor.BuildRemote(update.CommitmentNumber, update.PerCommitmentPoint, update.FeeratePerKw, update.RemoteToLocal, update.RemoteToRemote, update.Htlcs);
        }
        foreach (var htlc in ReadHtlcs32(ref r))
        {
            monitor._peerHtlcs[(htlc.Direction, htlc.Id)] = htlc;
        }
        var secretCount = r.ReadByte();
        var secrets = new List<(ulong, Bytes32)>();
        for (var i = 0; i < secretCount; i++)
        {
            secrets.Add((r.ReadUInt64(), new Bytes32(r.ReadSpan(32))));
        }
        monitor._secrets = PerCommitmentSecretStore.Restore(secrets);
        var preimages = r.ReadUInt32();
        for (var i = 0u; i < preimages; i++)
        {
            var p = PaymentPreimage.FromBytes(r.ReadSpan(32));
            monitor._preimages[p.Hash] = p;
        }
        var cooperative = r.ReadUInt16();
        for (var i = 0; i < cooperative; i++)
        {
            monitor._cooperative.Add(new uint256(r.ReadSpan(32)));
        }
        if (ReadFlag(ref r))
        {
            monitor._forceCloseReason = Encoding.UTF8.GetString(ReadBytes16(ref r));
        }
        monitor._lastFeerate = r.ReadUInt32();
        monitor._log.ReadFrom(ref r);
        var feerates = r.ReadUInt32();
        for (var i = 0u; i < feerates; i++)
        {
            var key = ReadString(ref r);
            monitor._claimFeerates[key] = r.ReadUInt32();
        }
        var reported = r.ReadUInt32();
        for (var i = 0u; i < reported; i++)
        {
            monitor._reported.Add(ReadString(ref r));
        }
        r.EnsureEnd("channel monitor");
        return monitor;
    }

    private static bool ReadFlag(ref WireReader r) => r.ReadByte() switch
    {
        0 => false,
        1 => true,
        var b => throw new ChannelMonitorFormatException("corrupt channel monitor", $"flag byte {b}"),
    };

    private static ECDSASignature ReadSignature(ref WireReader r) =>
        ECDSASignature.TryParseFromCompact(r.ReadSpan(64), out var signature) && signature is not null
            ? signature
            : throw new ChannelMonitorFormatException("corrupt channel monitor", "invalid signature");

    private static void WriteBytes16(WireWriter w, ReadOnlySpan<byte> bytes)
    {
        w.WriteUInt16(checked((ushort)bytes.Length));
        w.WriteBytes(bytes);
    }

    private static byte[] ReadBytes16(ref WireReader r) => r.ReadBytes(r.ReadUInt16());

    private static void WriteStrings(WireWriter w, IEnumerable<string> strings, Action<string> after)
    {
        var list = strings.Order(StringComparer.Ordinal).ToList();
        w.WriteUInt32((uint)list.Count);
        foreach (var s in list)
        {
            WriteBytes16(w, Encoding.UTF8.GetBytes(s));
            after(s);
        }
    }

    private static string ReadString(ref WireReader r) => new UTF8Encoding(false, true).GetString(ReadBytes16(ref r));

    private static void WriteHtlcs(WireWriter w, IReadOnlyList<CommitmentHtlc> htlcs)
    {
        w.WriteUInt16(checked((ushort)htlcs.Count));
        WriteHtlcItems(w, htlcs);
    }

    private static void WriteHtlcs32(WireWriter w, IReadOnlyList<CommitmentHtlc> htlcs)
    {
        w.WriteUInt32((uint)htlcs.Count);
        WriteHtlcItems(w, htlcs);
    }

    private static List<CommitmentHtlc> ReadHtlcs(ref WireReader r) => ReadHtlcItems(ref r, r.ReadUInt16());

    private static List<CommitmentHtlc> ReadHtlcs32(ref WireReader r) => ReadHtlcItems(ref r, r.ReadUInt32());

    private static void WriteHtlcItems(WireWriter w, IReadOnlyList<CommitmentHtlc> htlcs)
    {
        foreach (var h in htlcs)
        {
            w.WriteUInt64(h.Id).WriteByte((byte)h.Direction).WriteUInt64(h.Amount.Value).WriteBytes(h.PaymentHash.Value.ToArray()).WriteUInt32(h.CltvExpiry);
        }
    }

    private static List<CommitmentHtlc> ReadHtlcItems(ref WireReader r, uint count)
    {
        var htlcs = new List<CommitmentHtlc>((int)Math.Min(count, (uint)(r.Remaining / 53)));
        for (var i = 0u; i < count; i++)
        {
            var id = r.ReadUInt64();
            var direction = r.ReadByte() switch
            {
                0 => HtlcDirection.Offered,
                1 => HtlcDirection.Received,
                var b => throw new ChannelMonitorFormatException("corrupt channel monitor", $"HTLC direction {b}"),
            };
            htlcs.Add(new CommitmentHtlc(id, direction, new MilliSatoshi(r.ReadUInt64()), PaymentHash.FromBytes(r.ReadSpan(32)), r.ReadUInt32()));
        }
        return htlcs;
    }

    private static void WriteParameters(WireWriter w, ChannelStaticParameters p)
    {
        w.WriteByte((byte)p.Format);
        w.WriteBytes(p.FundingOutPoint.Hash.ToBytes()).WriteUInt32(p.FundingOutPoint.N);
        w.WriteInt64(p.FundingAmount.Satoshi);
        w.WriteByte(p.LocalIsFunder ? (byte)1 : (byte)0);
        WriteBasepoints(w, p.Local);
        WriteBasepoints(w, p.Remote);
        w.WriteUInt16(p.LocalToSelfDelay).WriteUInt16(p.RemoteToSelfDelay);
        w.WriteInt64(p.LocalDustLimit.Satoshi).WriteInt64(p.RemoteDustLimit.Satoshi);
    }

    private static ChannelStaticParameters ReadParameters(ref WireReader r)
    {
        var format = r.ReadByte() switch
        {
            0 => CommitmentFormat.StaticRemoteKey,
            1 => CommitmentFormat.AnchorOutputs,
            var b => throw new ChannelMonitorFormatException("corrupt channel monitor", $"commitment format {b}"),
        };
        var outPoint = new OutPoint(new uint256(r.ReadSpan(32)), r.ReadUInt32());
        var amount = ReadAmount(ref r);
        var localIsFunder = ReadFlag(ref r);
        var local = ReadBasepoints(ref r);
        var remote = ReadBasepoints(ref r);
        return new ChannelStaticParameters(format, outPoint, amount, localIsFunder, local, remote, r.ReadUInt16(), r.ReadUInt16(), ReadAmount(ref r), ReadAmount(ref r));
    }

    private static Money ReadAmount(ref WireReader r)
    {
        var value = r.ReadInt64();
        return value is >= 0 and <= 21_000_000L * 100_000_000L ? Money.Satoshis(value) : throw new ChannelMonitorFormatException("corrupt channel monitor", $"amount {value}");
    }

    private static void WriteBasepoints(WireWriter w, ChannelBasepoints b)
    {
        foreach (var k in new[] { b.FundingPubKey, b.RevocationBasepoint, b.PaymentBasepoint, b.DelayedPaymentBasepoint, b.HtlcBasepoint })
        {
            w.WriteBytes(k.Compress().ToBytes());
        }
    }

    private static ChannelBasepoints ReadBasepoints(ref WireReader r) =>
        new(ReadPubKey(ref r), ReadPubKey(ref r), ReadPubKey(ref r), ReadPubKey(ref r), ReadPubKey(ref r));

    private static PubKey ReadPubKey(ref WireReader r) =>
        PubKey.TryCreatePubKey(r.ReadSpan(33).ToArray(), out var key) && key is not null ? key : throw new ChannelMonitorFormatException("corrupt channel monitor", "invalid public key");
}
