using System.Collections.Concurrent;
using System.Diagnostics;

namespace Satflow.PaymentsLoad;

/// <summary>A thread-safe accumulator of a count and elapsed Stopwatch ticks (and optionally bytes).</summary>
public sealed class Meter
{
    private long _count;
    private long _ticks;
    private long _bytes;

    public long Count => Interlocked.Read(ref _count);

    public long Ticks => Interlocked.Read(ref _ticks);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Add(long startTimestamp, long bytes = 0)
    {
        var elapsed = Stopwatch.GetTimestamp() - startTimestamp;
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _ticks, elapsed);
        if (bytes != 0)
        {
            Interlocked.Add(ref _bytes, bytes);
        }
    }

    public MeterSnapshot Snapshot() => new(Count, Ticks, Bytes);
}

/// <summary>A meter's values at one instant.</summary>
public readonly record struct MeterSnapshot(long Count, long Ticks, long Bytes)
{
    public double Milliseconds => Ticks * 1000.0 / Stopwatch.Frequency;

    public static MeterSnapshot operator -(MeterSnapshot a, MeterSnapshot b) => new(a.Count - b.Count, a.Ticks - b.Ticks, a.Bytes - b.Bytes);
}

/// <summary>The meters of one node: its store, what it sends, what it handles, and messages by type.</summary>
public sealed class NodeProbe(string name)
{
    public string Name { get; } = name;

    /// <summary>Atomic batches (<c>WriteBatchAsync</c>): each is one durable SQLite transaction (one WAL fsync).</summary>
    public Meter StoreBatches { get; } = new();

    /// <summary>Single writes, removes, reads and lists.</summary>
    public Meter StoreOther { get; } = new();

    /// <summary>Messages queued to the transport (encoding + BOLT 8 encryption happen on the connection's writer).</summary>
    public Meter Sends { get; } = new();

    /// <summary>Incoming messages handled by the node (its lock wait, state machine, signatures, store commit and sends).</summary>
    public Meter Handled { get; } = new();

    /// <summary>Messages sent, by type.</summary>
    public ConcurrentDictionary<string, long> SentByType { get; } = new(StringComparer.Ordinal);

    /// <summary>Bytes written in batches, by secondary namespace (channels, monitors, htlcs, invoices...).</summary>
    public ConcurrentDictionary<string, long> BatchBytesByNamespace { get; } = new(StringComparer.Ordinal);

    /// <summary>Remove operations in batches, by secondary namespace.</summary>
    public ConcurrentDictionary<string, long> BatchRemovesByNamespace { get; } = new(StringComparer.Ordinal);

    /// <summary>The size of the last value written, by secondary namespace (how big a channel or monitor record is now).</summary>
    public ConcurrentDictionary<string, long> LastValueSizeByNamespace { get; } = new(StringComparer.Ordinal);

    /// <summary>HTLC signatures carried by the commitment_signed messages this node sent.</summary>
    public Meter HtlcSignaturesSent { get; } = new();

    public NodeProbeSnapshot Snapshot() => new(
        StoreBatches.Snapshot(),
        StoreOther.Snapshot(),
        Sends.Snapshot(),
        Handled.Snapshot(),
        HtlcSignaturesSent.Snapshot(),
        new Dictionary<string, long>(SentByType, StringComparer.Ordinal),
        new Dictionary<string, long>(BatchBytesByNamespace, StringComparer.Ordinal),
        new Dictionary<string, long>(BatchRemovesByNamespace, StringComparer.Ordinal),
        new Dictionary<string, long>(LastValueSizeByNamespace, StringComparer.Ordinal));
}

/// <summary>A node's meters at one instant.</summary>
public sealed record NodeProbeSnapshot(
    MeterSnapshot StoreBatches,
    MeterSnapshot StoreOther,
    MeterSnapshot Sends,
    MeterSnapshot Handled,
    MeterSnapshot HtlcSignaturesSent,
    IReadOnlyDictionary<string, long> SentByType,
    IReadOnlyDictionary<string, long> BatchBytesByNamespace,
    IReadOnlyDictionary<string, long> BatchRemovesByNamespace,
    IReadOnlyDictionary<string, long> LastValueSizeByNamespace)
{
    public static NodeProbeSnapshot operator -(NodeProbeSnapshot a, NodeProbeSnapshot b) => new(
        a.StoreBatches - b.StoreBatches,
        a.StoreOther - b.StoreOther,
        a.Sends - b.Sends,
        a.Handled - b.Handled,
        a.HtlcSignaturesSent - b.HtlcSignaturesSent,
        Minus(a.SentByType, b.SentByType),
        Minus(a.BatchBytesByNamespace, b.BatchBytesByNamespace),
        Minus(a.BatchRemovesByNamespace, b.BatchRemovesByNamespace),
        a.LastValueSizeByNamespace);

    private static Dictionary<string, long> Minus(IReadOnlyDictionary<string, long> a, IReadOnlyDictionary<string, long> b) =>
        a.ToDictionary(kv => kv.Key, kv => kv.Value - b.GetValueOrDefault(kv.Key), StringComparer.Ordinal);
}
