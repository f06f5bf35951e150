using System.Diagnostics;
using Satflow.Storage;

namespace Satflow.PaymentsLoad;

/// <summary>An <see cref="IKeyValueStore"/> decorator that times every call (the node's persistence cost).</summary>
public sealed class TimedKeyValueStore(IKeyValueStore inner, NodeProbe probe) : IKeyValueStore
{
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var value = await inner.ReadAsync(primaryNamespace, secondaryNamespace, key, cancellationToken).ConfigureAwait(false);
        probe.StoreOther.Add(start);
        return value;
    }

    public async ValueTask WriteAsync(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        await inner.WriteAsync(primaryNamespace, secondaryNamespace, key, value, cancellationToken).ConfigureAwait(false);
        probe.StoreOther.Add(start, value.Length);
    }

    public async ValueTask<bool> RemoveAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var removed = await inner.RemoveAsync(primaryNamespace, secondaryNamespace, key, cancellationToken).ConfigureAwait(false);
        probe.StoreOther.Add(start);
        return removed;
    }

    public async ValueTask<IReadOnlyList<string>> ListAsync(string primaryNamespace, string secondaryNamespace, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var keys = await inner.ListAsync(primaryNamespace, secondaryNamespace, cancellationToken).ConfigureAwait(false);
        probe.StoreOther.Add(start);
        return keys;
    }

    public async ValueTask WriteBatchAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var bytes = 0L;
        foreach (var op in operations)
        {
            bytes += op.Value.Length;
            if (op.Kind == KvOperationKind.Write)
            {
                probe.BatchBytesByNamespace.AddOrUpdate(op.SecondaryNamespace, op.Value.Length, (_, n) => n + op.Value.Length);
                probe.LastValueSizeByNamespace[op.SecondaryNamespace] = op.Value.Length;
            }
            else
            {
                probe.BatchRemovesByNamespace.AddOrUpdate(op.SecondaryNamespace, 1, (_, n) => n + 1);
            }
        }
        var start = Stopwatch.GetTimestamp();
        await inner.WriteBatchAsync(operations, cancellationToken).ConfigureAwait(false);
        probe.StoreBatches.Add(start, bytes);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
