using System.Buffers.Binary;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Node.Persistence;

/// <summary>
/// The node's persistence layout in an <see cref="IKeyValueStore"/>. Everything the node must not lose lives under the
/// primary namespace <c>node</c>:
/// <list type="bullet">
/// <item><c>node/channels/&lt;channel id hex&gt;</c>: the channel state machine's bytes.</item>
/// <item><c>node/monitors/&lt;channel id hex&gt;</c>: the channel monitor's bytes.</item>
/// <item><c>node/htlcs/&lt;channel id hex&gt;-&lt;htlc id&gt;</c>: what we know of an HTLC we offered (payment hash, onion shared secret).</item>
/// <item><c>node/meta/next-channel-key-index</c>: the next channel key index (big-endian uint32).</item>
/// </list>
/// Invoices and outgoing payments keep the <c>payments</c> namespace of <see cref="Satflow.Payments"/>, so a batch can
/// carry channel, monitor and payment records together: one <see cref="IKeyValueStore.WriteBatchAsync"/> per state
/// change, written before any message that depends on it is sent.
/// </summary>
public sealed class NodeStore
{
    /// <summary>The primary namespace of the node's records.</summary>
    public const string PrimaryNamespace = "node";

    /// <summary>Secondary namespace of channel states.</summary>
    public const string ChannelsNamespace = "channels";

    /// <summary>Secondary namespace of channel monitors.</summary>
    public const string MonitorsNamespace = "monitors";

    /// <summary>Secondary namespace of offered HTLCs.</summary>
    public const string HtlcsNamespace = "htlcs";

    /// <summary>Secondary namespace of committed incoming HTLCs awaiting a decision.</summary>
    public const string ReceivedNamespace = "received";

    /// <summary>Secondary namespace of counters.</summary>
    public const string MetaNamespace = "meta";

    private const string NextKeyIndexKey = "next-channel-key-index";

    private const string TipKey = "tip";

    /// <summary>Wraps a store.</summary>
    /// <param name="store">The key-value store.</param>
    public NodeStore(IKeyValueStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Store = store;
    }

    /// <summary>The underlying store.</summary>
    public IKeyValueStore Store { get; }

    /// <summary>The store key of a channel.</summary>
    /// <param name="channelId">The channel id.</param>
    public static string KeyOf(ChannelId channelId) => channelId.Value.ToHex();

    /// <summary>The store key of an HTLC we offered.</summary>
    /// <param name="channelId">The channel id.</param>
    /// <param name="htlcId">The HTLC id.</param>
    public static string KeyOf(ChannelId channelId, ulong htlcId) => KeyOf(channelId) + "-" + htlcId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An operation writing a channel's state.</summary>
    public static KvOperation WriteChannel(ChannelId channelId, ReadOnlyMemory<byte> bytes) => KvOperation.Write(PrimaryNamespace, ChannelsNamespace, KeyOf(channelId), bytes);

    /// <summary>An operation writing a channel's monitor.</summary>
    public static KvOperation WriteMonitor(ChannelId channelId, ReadOnlyMemory<byte> bytes) => KvOperation.Write(PrimaryNamespace, MonitorsNamespace, KeyOf(channelId), bytes);

    /// <summary>An operation writing an offered HTLC's record.</summary>
    public static KvOperation WriteOfferedHtlc(ChannelId channelId, OfferedHtlcRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return KvOperation.Write(PrimaryNamespace, HtlcsNamespace, KeyOf(channelId, record.HtlcId), record.Encode());
    }

    /// <summary>An operation removing an offered HTLC's record (it was fulfilled or failed).</summary>
    public static KvOperation RemoveOfferedHtlc(ChannelId channelId, ulong htlcId) => KvOperation.Remove(PrimaryNamespace, HtlcsNamespace, KeyOf(channelId, htlcId));

    /// <summary>An operation writing a committed incoming HTLC awaiting a decision.</summary>
    public static KvOperation WriteReceivedHtlc(ChannelId channelId, ReceivedHtlcRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return KvOperation.Write(PrimaryNamespace, ReceivedNamespace, KeyOf(channelId, record.HtlcId), record.Encode());
    }

    /// <summary>An operation removing a decided incoming HTLC.</summary>
    public static KvOperation RemoveReceivedHtlc(ChannelId channelId, ulong htlcId) => KvOperation.Remove(PrimaryNamespace, ReceivedNamespace, KeyOf(channelId, htlcId));

    /// <summary>An operation removing a channel's state.</summary>
    public static KvOperation RemoveChannel(ChannelId channelId) => KvOperation.Remove(PrimaryNamespace, ChannelsNamespace, KeyOf(channelId));

    /// <summary>An operation removing a channel's monitor.</summary>
    public static KvOperation RemoveMonitor(ChannelId channelId) => KvOperation.Remove(PrimaryNamespace, MonitorsNamespace, KeyOf(channelId));

    /// <summary>An operation writing the next channel key index.</summary>
    public static KvOperation WriteNextKeyIndex(uint next)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, next);
        return KvOperation.Write(PrimaryNamespace, MetaNamespace, NextKeyIndexKey, bytes);
    }

    /// <summary>An operation writing the last block the node processed.</summary>
    public static KvOperation WriteTip(int height, NBitcoin.uint256 hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        var bytes = new byte[36];
        BinaryPrimitives.WriteInt32BigEndian(bytes, height);
        hash.ToBytes().CopyTo(bytes, 4);
        return KvOperation.Write(PrimaryNamespace, MetaNamespace, TipKey, bytes);
    }

    /// <summary>Reads the last block the node processed, if any.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="NodeStateCorruptException">The stored value is not 36 bytes.</exception>
    public async Task<Bitcoin.Chain.ChainTip?> ReadTipAsync(CancellationToken cancellationToken = default)
    {
        var data = await Store.ReadAsync(PrimaryNamespace, MetaNamespace, TipKey, cancellationToken).ConfigureAwait(false);
        if (data is not { } bytes)
        {
            return null;
        }
        return bytes.Length == 36
            ? new Bitcoin.Chain.ChainTip(BinaryPrimitives.ReadInt32BigEndian(bytes.Span), new NBitcoin.uint256(bytes.Span[4..]))
            : throw new NodeStateCorruptException($"{PrimaryNamespace}/{MetaNamespace}/{TipKey} holds {bytes.Length} bytes, expected 36.");
    }

    /// <summary>Writes a batch atomically.</summary>
    /// <param name="operations">The operations.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    public ValueTask CommitAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default) =>
        operations.Count == 0 ? ValueTask.CompletedTask : Store.WriteBatchAsync(operations, cancellationToken);

    /// <summary>Reads the next channel key index (0 when none was stored).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="NodeStateCorruptException">The stored value is not 4 bytes.</exception>
    public async Task<uint> ReadNextKeyIndexAsync(CancellationToken cancellationToken = default)
    {
        var data = await Store.ReadAsync(PrimaryNamespace, MetaNamespace, NextKeyIndexKey, cancellationToken).ConfigureAwait(false);
        if (data is not { } bytes)
        {
            return 0;
        }
        return bytes.Length == 4
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes.Span)
            : throw new NodeStateCorruptException($"{PrimaryNamespace}/{MetaNamespace}/{NextKeyIndexKey} holds {bytes.Length} bytes, expected 4.");
    }

    /// <summary>Reads every record of one secondary namespace, ordered by key.</summary>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    public async Task<IReadOnlyList<(string Key, ReadOnlyMemory<byte> Value)>> ReadAllAsync(string secondaryNamespace, CancellationToken cancellationToken = default)
    {
        var keys = await Store.ListAsync(PrimaryNamespace, secondaryNamespace, cancellationToken).ConfigureAwait(false);
        var result = new List<(string, ReadOnlyMemory<byte>)>(keys.Count);
        foreach (var key in keys.Order(StringComparer.Ordinal))
        {
            if (await Store.ReadAsync(PrimaryNamespace, secondaryNamespace, key, cancellationToken).ConfigureAwait(false) is { } value)
            {
                result.Add((key, value));
            }
        }
        return result;
    }

    /// <summary>Reads every offered HTLC record.</summary>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <exception cref="NodeStateCorruptException">A record is unreadable.</exception>
    public async Task<IReadOnlyList<(ChannelId ChannelId, OfferedHtlcRecord Record)>> ReadOfferedHtlcsAsync(CancellationToken cancellationToken = default)
    {
        var all = await ReadAllAsync(HtlcsNamespace, cancellationToken).ConfigureAwait(false);
        var result = new List<(ChannelId, OfferedHtlcRecord)>(all.Count);
        foreach (var (key, value) in all)
        {
            var dash = key.IndexOf('-', StringComparison.Ordinal);
            if (dash != 64)
            {
                throw new NodeStateCorruptException($"Offered HTLC key '{key}' is not <channel id>-<htlc id>.");
            }
            var channelId = ParseChannelKey(key[..64]);
            var record = OfferedHtlcRecord.Decode(value.Span);
            if (KeyOf(channelId, record.HtlcId) != key)
            {
                throw new NodeStateCorruptException($"Offered HTLC record '{key}' holds HTLC {record.HtlcId}.");
            }
            result.Add((channelId, record));
        }
        return result;
    }

    /// <summary>Reads every committed incoming HTLC awaiting a decision.</summary>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <exception cref="NodeStateCorruptException">A record is unreadable.</exception>
    public async Task<IReadOnlyList<(ChannelId ChannelId, ReceivedHtlcRecord Record)>> ReadReceivedHtlcsAsync(CancellationToken cancellationToken = default)
    {
        var all = await ReadAllAsync(ReceivedNamespace, cancellationToken).ConfigureAwait(false);
        var result = new List<(ChannelId, ReceivedHtlcRecord)>(all.Count);
        foreach (var (key, value) in all)
        {
            if (key.Length < 66 || key[64] != '-')
            {
                throw new NodeStateCorruptException($"Received HTLC key '{key}' is not <channel id>-<htlc id>.");
            }
            result.Add((ParseChannelKey(key[..64]), ReceivedHtlcRecord.Decode(value.Span)));
        }
        return result;
    }

    /// <summary>Parses a channel key back into its channel id.</summary>
    /// <param name="key">A key of <see cref="ChannelsNamespace"/> or <see cref="MonitorsNamespace"/>.</param>
    /// <exception cref="NodeStateCorruptException">The key is not 64 hex characters.</exception>
    public static ChannelId ParseChannelKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != 64 || !Bytes32.TryParse(key, out var bytes))
        {
            throw new NodeStateCorruptException($"Channel key '{key}' is not 64 hex characters.");
        }
        return new ChannelId(bytes);
    }
}

/// <summary>Stored node state that cannot be read back (the store was damaged or written by another program).</summary>
public sealed class NodeStateCorruptException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NodeStateCorruptException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public NodeStateCorruptException() : base("The node's stored state is corrupt.") { }

    /// <summary>Creates the exception.</summary>
    public NodeStateCorruptException(string message) : base(message) { }
}
