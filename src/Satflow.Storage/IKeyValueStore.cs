namespace Satflow.Storage;

/// <summary>
/// The persistence seam of the Lightning node: a durable map from (primary namespace, secondary namespace, key) to
/// bytes, in the spirit of LDK's KVStore. Key rules are in <see cref="KeyValueStoreKeys"/>.
/// </summary>
/// <remarks>
/// <para>Contract every implementation meets (checked by the conformance tests):</para>
/// <list type="bullet">
/// <item>Durability: once a write, remove or batch task completes successfully, the change survives a process or
/// machine crash (for durable implementations; <see cref="InMemoryKeyValueStore"/> is not durable).</item>
/// <item>Atomicity: a write replaces the whole value or nothing; a batch applies all its operations or none.
/// If the call is cancelled or fails, either everything or nothing was applied (a failure after the commit
/// was sent may leave the caller unsure which, as with any database).</item>
/// <item>Isolation: concurrent calls are safe; readers never see a half-applied batch.</item>
/// <item>Values are copied: the store never keeps or hands out the caller's buffer.</item>
/// <item>Errors: invalid keys, namespaces or batches raise <see cref="KeyValueStoreException"/> before anything is
/// touched; backend failures raise it with <see cref="KeyValueStoreErrorReason.BackendFailure"/>.</item>
/// </list>
/// </remarks>
public interface IKeyValueStore : IAsyncDisposable
{
    /// <summary>Reads the value stored under a key.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A fresh copy of the value, or null when the key does not exist.</returns>
    /// <exception cref="KeyValueStoreException">Invalid key, or the backend failed.</exception>
    ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default);

    /// <summary>Creates or atomically replaces the value under a key; durable when the task completes.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="value">The value (may be empty); copied before the task completes.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once the value is durably stored.</returns>
    /// <exception cref="KeyValueStoreException">Invalid key, or the backend failed.</exception>
    ValueTask WriteAsync(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Deletes a key; removing a missing key is not an error.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>True when the key existed and was removed, false when it was already absent.</returns>
    /// <exception cref="KeyValueStoreException">Invalid key, or the backend failed.</exception>
    ValueTask<bool> RemoveAsync(string primaryNamespace, string secondaryNamespace, string key, CancellationToken cancellationToken = default);

    /// <summary>Lists the keys stored directly in one (primary, secondary) namespace pair.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The keys in ordinal order; empty when the namespace holds nothing. Keys of other namespace pairs never appear.</returns>
    /// <exception cref="KeyValueStoreException">Invalid namespaces, or the backend failed.</exception>
    ValueTask<IReadOnlyList<string>> ListAsync(string primaryNamespace, string secondaryNamespace, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies several writes and removes atomically and durably, in list order (a later operation on the same key
    /// wins). Every operation is validated first; if any is invalid nothing is applied. An empty batch does nothing.
    /// </summary>
    /// <param name="operations">The operations.</param>
    /// <param name="cancellationToken">Cancels the batch.</param>
    /// <returns>A task that completes once every operation is durably applied.</returns>
    /// <exception cref="KeyValueStoreException">The batch or one of its operations is invalid, or the backend failed.</exception>
    ValueTask WriteBatchAsync(IReadOnlyList<KvOperation> operations, CancellationToken cancellationToken = default);
}
