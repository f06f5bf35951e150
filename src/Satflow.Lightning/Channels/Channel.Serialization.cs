using System.Buffers.Binary;
using System.Collections.Immutable;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

using UpdateFeeMessage = Satflow.Lightning.Messages.UpdateFee;

namespace Satflow.Lightning.Channels;

public sealed partial class Channel
{
    /// <summary>
    /// Version 2 appends, after the secrets, <see cref="ChannelOptions.MaxDustHtlcExposure"/> and the fundee's
    /// funding wait start height; version 1 records still load (with the default limit and an unknown start height).
    /// </summary>
    private const byte SerializationVersion = 2;

    /// <summary>
    /// The complete channel state (version byte first): parameters, limits, both commitments, every pending update per
    /// side with its stage, HTLC ids, the peer's per-commitment points and revealed secrets, the monitor update counter
    /// and the shutdown/closing state. Persist it before sending an operation's messages.
    /// </summary>
    public byte[] Serialize()
    {
        var w = new StateWriter();
        w.U8(SerializationVersion);
        var p = _funded.Parameters;
        w.U8((byte)p.Format);
        w.Bytes32(p.FundingOutPoint.Hash.ToBytes());
        w.U32(p.FundingOutPoint.N);
        w.I64(p.FundingAmount.Satoshi);
        w.Bool(p.LocalIsFunder);
        WriteBasepoints(w, p.Local);
        WriteBasepoints(w, p.Remote);
        w.U16(p.LocalToSelfDelay);
        w.U16(p.RemoteToSelfDelay);
        w.I64(p.LocalDustLimit.Satoshi);
        w.I64(p.RemoteDustLimit.Satoshi);
        w.Bytes32(_funded.TemporaryChannelId.Value.ToArray());
        WriteLimits(w, _funded.LocalLimits);
        WriteLimits(w, _funded.RemoteLimits);
        w.U32(_funded.FeeratePerKw);
        w.U64(_funded.LocalBalance.Value);
        w.U64(_funded.RemoteBalance.Value);
        w.Point(_funded.RemoteFirstPerCommitmentPoint);
        w.Signature(_funded.RemoteSignatureOfLocalCommitment);
        w.U32(_funded.MinimumDepth);
        w.Blob(_funded.ChannelType.ToBytes());
        w.OptionalScript(_funded.LocalShutdownScript);
        w.OptionalScript(_funded.RemoteShutdownScript);
        w.Bool(_funded.AnnounceChannel);

        w.U32(_options.MinFeeratePerKw);
        w.U32(_options.MaxFeeratePerKw);
        w.OptionalScript(_options.ShutdownScript);
        w.Bool(_options.AllowAnySegwitShutdown);
        w.U32(_options.ClosingFeeratePerKw);

        var s = _s;
        w.U8((byte)s.State);
        w.Bool(s.Offline);
        w.U64(s.NextMonitorUpdateId);
        w.U64(s.Local.Index);
        WriteSpec(w, s.Local.Spec);
        w.Signature(s.Local.RemoteSignature);
        w.U16((ushort)s.Local.RemoteHtlcSignatures.Count);
        foreach (var sig in s.Local.RemoteHtlcSignatures)
        {
            w.Signature(sig);
        }
        WriteRemoteCommit(w, s.Remote);
        w.Bool(s.RemoteNext is not null);
        if (s.RemoteNext is { } rn)
        {
            WriteRemoteCommit(w, rn);
            w.U64(s.RemoteNextSentAfterLocalIndex);
        }
        w.Bool(s.RemoteNextPoint is not null);
        if (s.RemoteNextPoint is { } np)
        {
            w.Point(np);
        }
        foreach (var list in new[] { s.LocalProposed, s.LocalSigned, s.LocalAcked, s.RemoteProposed, s.RemoteAcked, s.RemoteSigned })
        {
            w.U32((uint)list.Count);
            foreach (var update in list)
            {
                w.Blob(update.Encode());
            }
        }
        w.U64(s.LocalNextHtlcId);
        w.U64(s.RemoteNextHtlcId);
        w.Bool(s.ShortChannelId is not null);
        if (s.ShortChannelId is { } scid)
        {
            w.U64(scid.Value);
        }
        w.Bool(s.ReadySent);
        w.Bool(s.ReadyReceived);
        w.OptionalScript(s.LocalShutdownScript);
        w.OptionalScript(s.RemoteShutdownScript);
        w.OptionalScript(s.DeferredShutdownScript);
        w.Bool(s.ClosingTransaction is not null);
        if (s.ClosingTransaction is { } tx)
        {
            w.Blob(tx.ToBytes());
        }
        w.Bool(s.DataLossRemotePoint is not null);
        if (s.DataLossRemotePoint is { } dl)
        {
            w.Point(dl);
        }
        w.U16((ushort)s.ClosingReceived.Count);
        foreach (var closing in s.ClosingReceived)
        {
            w.Blob(closing.Encode());
        }
        var secrets = _secrets.Snapshot();
        w.U8((byte)secrets.Count);
        foreach (var (index, secret) in secrets)
        {
            w.U64(index);
            w.Bytes32(secret.ToArray());
        }
        // Version 2.
        w.U64(_options.MaxDustHtlcExposure.Value);
        w.Bool(s.FundingWaitStartHeight is not null);
        if (s.FundingWaitStartHeight is { } start)
        {
            w.U32(start);
        }
        return w.ToArray();
    }

    /// <summary>Restores a channel from <see cref="Serialize"/>'s bytes.</summary>
    /// <param name="bytes">The persisted state.</param>
    /// <param name="keys">Our channel keys (must match the persisted local basepoints).</param>
    /// <exception cref="ChannelSerializationException">When the bytes are corrupt, of an unknown version, or not for these keys.</exception>
    public static Channel Deserialize(ReadOnlySpan<byte> bytes, LocalChannelKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        try
        {
            return Read(bytes.ToArray(), keys);
        }
        catch (Exception e) when (e is WireFormatException or ArgumentException or FormatException or OverflowException
            or PerCommitmentSecretException or InvalidOperationException or IndexOutOfRangeException or NotSupportedException or Closing.ClosingException)
        {
            throw new ChannelSerializationException("Corrupt channel state: " + e.Message, e);
        }
    }

    private static Channel Read(byte[] bytes, LocalChannelKeys keys)
    {
        var r = new StateReader(bytes);
        var version = r.U8();
        if (version is not (1 or SerializationVersion))
        {
            throw new ChannelSerializationException($"Unknown channel state version {version}.");
        }
        var format = r.U8() switch
        {
            0 => CommitmentFormat.StaticRemoteKey,
            1 => CommitmentFormat.AnchorOutputs,
            var f => throw new ChannelSerializationException($"Unknown commitment format {f}."),
        };
        var outPoint = new OutPoint(new uint256(r.Bytes(32)), r.U32());
        var amount = Money.Satoshis(r.I64());
        var localIsFunder = r.Bool();
        var local = ReadBasepoints(r);
        var remote = ReadBasepoints(r);
        var parameters = new ChannelStaticParameters(format, outPoint, amount, localIsFunder, local, remote, r.U16(), r.U16(), Money.Satoshis(r.I64()), Money.Satoshis(r.I64()));
        if (keys.Basepoints != local)
        {
            throw new ChannelSerializationException("The channel keys do not match the persisted local basepoints.");
        }
        var funded = new FundedChannel(
            parameters,
            new ChannelId(new Bytes32(r.Bytes(32))),
            ReadLimits(r),
            ReadLimits(r),
            r.U32(),
            new MilliSatoshi(r.U64()),
            new MilliSatoshi(r.U64()),
            r.Point(),
            r.Signature(),
            r.U32(),
            FeatureBits.FromBytes(r.Blob()),
            r.OptionalScript(),
            r.OptionalScript(),
            r.Bool());
        var options = new ChannelOptions(r.U32(), r.U32(), r.OptionalScript(), r.Bool(), r.U32());

        var state = r.U8();
        if (state > (byte)ChannelState.LocalDataLoss)
        {
            throw new ChannelSerializationException($"Unknown channel state {state}.");
        }
        var offline = r.Bool();
        var nextUpdateId = r.U64();
        var localIndex = r.U64();
        var localSpec = ReadSpec(r);
        var localSig = r.Signature();
        var htlcSigCount = r.U16();
        var htlcSigs = ImmutableList.CreateBuilder<ECDSASignature>();
        for (var i = 0; i < htlcSigCount; i++)
        {
            htlcSigs.Add(r.Signature());
        }
        var remoteCommit = ReadRemoteCommit(r);
        RemoteCommit? remoteNext = null;
        ulong sentAfter = 0;
        if (r.Bool())
        {
            remoteNext = ReadRemoteCommit(r);
            sentAfter = r.U64();
        }
        var remoteNextPoint = r.Bool() ? r.Point() : null;
        var lists = new ImmutableList<LightningMessage>[6];
        for (var l = 0; l < lists.Length; l++)
        {
            var count = r.U32();
            if (count > 100_000)
            {
                throw new ChannelSerializationException("Too many updates.");
            }
            var builder = ImmutableList.CreateBuilder<LightningMessage>();
            for (var i = 0; i < count; i++)
            {
                var message = LightningMessage.Decode(r.Blob());
                if (message is not (UpdateAddHtlc or UpdateFulfillHtlc or UpdateFailHtlc or UpdateFailMalformedHtlc or UpdateFeeMessage))
                {
                    throw new ChannelSerializationException($"Message type {message.Type} is not an update.");
                }
                builder.Add(message);
            }
            lists[l] = builder.ToImmutable();
        }
        var data = new ChannelData
        {
            State = (ChannelState)state,
            Offline = offline,
            NextMonitorUpdateId = nextUpdateId,
            Local = new LocalCommit(localIndex, localSpec, localSig, htlcSigs.ToImmutable()),
            Remote = remoteCommit,
            RemoteNext = remoteNext,
            RemoteNextSentAfterLocalIndex = sentAfter,
            RemoteNextPoint = remoteNextPoint,
            LocalProposed = lists[0],
            LocalSigned = lists[1],
            LocalAcked = lists[2],
            RemoteProposed = lists[3],
            RemoteAcked = lists[4],
            RemoteSigned = lists[5],
            LocalNextHtlcId = r.U64(),
            RemoteNextHtlcId = r.U64(),
            ShortChannelId = r.Bool() ? new ShortChannelId(r.U64()) : null,
            ReadySent = r.Bool(),
            ReadyReceived = r.Bool(),
            LocalShutdownScript = r.OptionalScript(),
            RemoteShutdownScript = r.OptionalScript(),
            DeferredShutdownScript = r.OptionalScript(),
            ClosingTransaction = r.Bool() ? Transaction.Load(r.Blob(), Network.Main) : null,
            DataLossRemotePoint = r.Bool() ? r.Point() : null,
            ClosingReceived = ReadClosing(r),
        };
        var secretCount = r.U8();
        if (secretCount > 49)
        {
            throw new ChannelSerializationException("Too many secrets.");
        }
        var entries = new List<(ulong, Bytes32)>();
        for (var i = 0; i < secretCount; i++)
        {
            entries.Add((r.U64(), new Bytes32(r.Bytes(32))));
        }
        var secrets = PerCommitmentSecretStore.Restore(entries);
        if (version >= 2)
        {
            options = options with { MaxDustHtlcExposure = new MilliSatoshi(r.U64()) };
            data = data with { FundingWaitStartHeight = r.Bool() ? r.U32() : null };
        }
        if (!r.AtEnd)
        {
            throw new ChannelSerializationException("Trailing bytes after the channel state.");
        }
        var capacity = MilliSatoshi.FromSatoshis((ulong)amount.Satoshi).Value;
        foreach (var spec in new[] { localSpec, remoteCommit.Spec, remoteNext?.Spec }.OfType<CommitmentSpec>())
        {
            var total = spec.Htlcs.Aggregate(spec.ToLocal.Value + spec.ToRemote.Value, (sum, h) => checked(sum + h.Add.AmountMsat.Value));
            if (total != capacity)
            {
                throw new ChannelSerializationException("A persisted commitment does not add up to the channel capacity.");
            }
        }
        if (remoteCommit.Index > 0 && !secrets.TryGetSecret(PerCommitmentSecrets.IndexOfCommitment(remoteCommit.Index - 1), out _))
        {
            throw new ChannelSerializationException("The peer's last revealed secret is missing.");
        }
        var channel = new Channel(funded, keys, options, data, secrets);
        if (data.State == ChannelState.NegotiatingClose && !data.Offline)
        {
            if (data.LocalShutdownScript is null || data.RemoteShutdownScript is null)
            {
                throw new ChannelSerializationException("A closing negotiation without both shutdown scripts.");
            }
            channel._closing = channel.RebuildNegotiation(data);
        }
        return channel;
    }

    private static ImmutableList<ClosingSigned> ReadClosing(StateReader r)
    {
        var count = r.U16();
        var builder = ImmutableList.CreateBuilder<ClosingSigned>();
        for (var i = 0; i < count; i++)
        {
            builder.Add(LightningMessage.Decode(r.Blob()) as ClosingSigned ?? throw new ChannelSerializationException("Not a closing_signed."));
        }
        return builder.ToImmutable();
    }

    private static void WriteBasepoints(StateWriter w, ChannelBasepoints b)
    {
        w.Point(b.FundingPubKey);
        w.Point(b.RevocationBasepoint);
        w.Point(b.PaymentBasepoint);
        w.Point(b.DelayedPaymentBasepoint);
        w.Point(b.HtlcBasepoint);
    }

    private static ChannelBasepoints ReadBasepoints(StateReader r) => new(r.Point(), r.Point(), r.Point(), r.Point(), r.Point());

    private static void WriteLimits(StateWriter w, ChannelLimits l)
    {
        w.I64(l.DustLimit.Satoshi);
        w.U64(l.MaxHtlcValueInFlight.Value);
        w.I64(l.ChannelReserve.Satoshi);
        w.U64(l.HtlcMinimum.Value);
        w.U16(l.ToSelfDelay);
        w.U16(l.MaxAcceptedHtlcs);
    }

    private static ChannelLimits ReadLimits(StateReader r) =>
        new(Money.Satoshis(r.I64()), new MilliSatoshi(r.U64()), Money.Satoshis(r.I64()), new MilliSatoshi(r.U64()), r.U16(), r.U16());

    private static void WriteSpec(StateWriter w, CommitmentSpec spec)
    {
        w.U32(spec.FeeratePerKw);
        w.U64(spec.ToLocal.Value);
        w.U64(spec.ToRemote.Value);
        w.U16((ushort)spec.Htlcs.Count);
        foreach (var h in spec.Htlcs)
        {
            w.U8((byte)h.Direction);
            w.Blob(h.Add.Encode());
        }
    }

    private static CommitmentSpec ReadSpec(StateReader r)
    {
        var feerate = r.U32();
        var toLocal = new MilliSatoshi(r.U64());
        var toRemote = new MilliSatoshi(r.U64());
        var count = r.U16();
        var htlcs = new List<SpecHtlc>(count);
        for (var i = 0; i < count; i++)
        {
            var direction = r.U8() switch
            {
                0 => HtlcDirection.Offered,
                1 => HtlcDirection.Received,
                var d => throw new ChannelSerializationException($"Unknown HTLC direction {d}."),
            };
            if (LightningMessage.Decode(r.Blob()) is not UpdateAddHtlc add)
            {
                throw new ChannelSerializationException("A commitment HTLC is not an update_add_htlc.");
            }
            htlcs.Add(new SpecHtlc(direction, add));
        }
        return new CommitmentSpec(htlcs, feerate, toLocal, toRemote);
    }

    private static void WriteRemoteCommit(StateWriter w, RemoteCommit c)
    {
        w.U64(c.Index);
        WriteSpec(w, c.Spec);
        w.Point(c.Point);
    }

    private static RemoteCommit ReadRemoteCommit(StateReader r)
    {
        var index = r.U64();
        var spec = ReadSpec(r);
        return new RemoteCommit(index, spec, r.Point());
    }

    private sealed class StateWriter
    {
        private readonly List<byte> _bytes = new(4096);

        public void U8(byte v) => _bytes.Add(v);

        public void Bool(bool v) => _bytes.Add(v ? (byte)1 : (byte)0);

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(b, v);
            _bytes.AddRange(b);
        }

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
            _bytes.AddRange(b);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, v);
            _bytes.AddRange(b);
        }

        public void I64(long v) => U64(unchecked((ulong)v));

        public void Bytes32(byte[] v) => _bytes.AddRange(v);

        public void Point(PubKey key) => _bytes.AddRange(key.Compress().ToBytes());

        public void Signature(ECDSASignature signature) => _bytes.AddRange(signature.ToCompact());

        public void Blob(byte[] v)
        {
            U32((uint)v.Length);
            _bytes.AddRange(v);
        }

        public void OptionalScript(Script? script)
        {
            Bool(script is not null);
            if (script is not null)
            {
                Blob(script.ToBytes(true));
            }
        }

        public byte[] ToArray() => [.. _bytes];
    }

    private sealed class StateReader(byte[] bytes)
    {
        private int _offset;

        public bool AtEnd => _offset == bytes.Length;

        public byte[] Bytes(int count)
        {
            if (count < 0 || count > bytes.Length - _offset)
            {
                throw new ChannelSerializationException("Unexpected end of the channel state.");
            }
            var result = bytes.AsSpan(_offset, count).ToArray();
            _offset += count;
            return result;
        }

        public byte U8() => Bytes(1)[0];

        public bool Bool() => U8() switch
        {
            0 => false,
            1 => true,
            var b => throw new ChannelSerializationException($"Invalid boolean {b}."),
        };

        public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Bytes(2));

        public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Bytes(4));

        public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Bytes(8));

        public long I64()
        {
            var v = unchecked((long)U64());
            return v is < 0 or > 21_000_000L * 100_000_000L ? throw new ChannelSerializationException("Amount out of range.") : v;
        }

        public PubKey Point()
        {
            var b = Bytes(33);
            return Crypto.Secp256k1Helpers.TryParseCompressedPoint(b, out _) ? new PubKey(b) : throw new ChannelSerializationException("Invalid point.");
        }

        public ECDSASignature Signature() =>
            ECDSASignature.TryParseFromCompact(Bytes(64), out var sig) && sig is not null ? sig : throw new ChannelSerializationException("Invalid signature.");

        public byte[] Blob()
        {
            var length = U32();
            return length > int.MaxValue ? throw new ChannelSerializationException("Blob too long.") : Bytes((int)length);
        }

        public Script? OptionalScript() => Bool() ? new Script(Blob()) : null;
    }
}
