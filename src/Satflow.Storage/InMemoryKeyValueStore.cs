namespace Satflow.Storage;

/// <summary>
/// A thread-safe, non-durable <see cref="IKeyValueStore"/> kept in process memory, for the deterministic test harness.
/// A simulated node restart reuses the same instance (it is the "disk"). Values are copied on write and on read.
/// </summary>
public sealed class InMemoryKeyValueStore : IKeyValueStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Primary, string Secondary), SortedDictionary<string, byte[]>> _namespaces = [];
    private bool _disposed;

    /// <summary>The number of keys currently stored, across all namespaces.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _namespaces.Values.Sum(ns => ns.Count);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_namespaces.TryGetValue((primaryNamespace, secondaryNamespace), out var ns) && ns.TryGetValue(key, out var value))
            {
                return ValueTask.FromResult<ReadOnlyMemory<byte>?>(value.AsSpan().ToArray());
            }

            return ValueTask.FromResult<ReadOnlyMemory<byte>?>(null);
        }
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        cancellationToken.ThrowIfCancellationRequested();
        var copy = value.ToArray();
        lock (_gate)
        {
            ThrowIfDisposed();
            Put(primaryNamespace, secondaryNamespace, key, copy);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.Validate(primaryNamespace, secondaryNamespace, key);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            return ValueTask.FromResult(Delete(primaryNamespace, secondaryNamespace, key));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> ListAsync(string primaryNamespace, string secondaryNamespace, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.ValidateNamespaces(primaryNamespace, secondaryNamespace);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            IReadOnlyList<string> keys = _namespaces.TryGetValue((primaryNamespace, secondaryNamespace), out var ns)
                ? [.. ns.Keys]
                : [];
            return ValueTask.FromResult(keys);
        }
    }

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default)
    {
        KeyValueStoreKeys.ValidateBatch(operations);
        cancellationToken.ThrowIfCancellationRequested();
        var copies = new byte[operations.Count][];
        for (var i = 0; i < operations.Count; i++)
        {
            copies[i] = operations[i].Kind == KvOperationKind.Write ? operations[i].Value.ToArray() : [];
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            for (var i = 0; i < operations.Count; i++)
            {
                var op = operations[i];
                if (op.Kind == KvOperationKind.Write)
                {
                    Put(op.PrimaryNamespace, op.SecondaryNamespace, op.Key, copies[i]);
                }
                else
                {
                    Delete(op.PrimaryNamespace, op.SecondaryNamespace, op.Key);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Marks the store disposed; later calls throw <see cref="ObjectDisposedException"/>. Safe to call twice.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        return ValueTask.CompletedTask;
    }

    private void Put(string primary, string secondary, string key, byte[] value)
    {
        if (!_namespaces.TryGetValue((primary, secondary), out var ns))
        {
            ns = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
            _namespaces.Add((primary, secondary), ns);
        }

        ns[key] = value;
    }

    private bool Delete(string primary, string secondary, string key)
    {
        if (!_namespaces.TryGetValue((primary, secondary), out var ns) || !ns.Remove(key))
        {
            return false;
        }

        if (ns.Count == 0)
        {
            _namespaces.Remove((primary, secondary));
        }

        return true;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
