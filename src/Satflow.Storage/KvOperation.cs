namespace Satflow.Storage;

/// <summary>What a <see cref="KvOperation"/> does.</summary>
public enum KvOperationKind
{
    /// <summary>Create or replace the value under the key.</summary>
    Write,

    /// <summary>Delete the key if present (a no-op otherwise).</summary>
    Remove,
}

/// <summary>
/// One write or remove inside <see cref="IKeyValueStore.WriteBatchAsync"/>. Construction does not validate the key:
/// the store validates every operation of a batch before applying any, so an invalid operation rejects the whole batch.
/// </summary>
public sealed class KvOperation
{
    private KvOperation(KvOperationKind kind, string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value)
    {
        Kind = kind;
        PrimaryNamespace = primaryNamespace;
        SecondaryNamespace = secondaryNamespace;
        Key = key;
        Value = value;
    }

    /// <summary>Write or remove.</summary>
    public KvOperationKind Kind { get; }

    /// <summary>The primary namespace.</summary>
    public string PrimaryNamespace { get; }

    /// <summary>The secondary namespace.</summary>
    public string SecondaryNamespace { get; }

    /// <summary>The key.</summary>
    public string Key { get; }

    /// <summary>The value to write; empty for <see cref="KvOperationKind.Remove"/>. The caller must not mutate it until the batch completes.</summary>
    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>An operation that creates or replaces a value.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="value">The value (may be empty).</param>
    /// <returns>The operation.</returns>
    public static KvOperation Write(string primaryNamespace, string secondaryNamespace, string key, ReadOnlyMemory<byte> value) =>
        new(KvOperationKind.Write, primaryNamespace, secondaryNamespace, key, value);

    /// <summary>An operation that deletes a key if it exists.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="key">The key.</param>
    /// <returns>The operation.</returns>
    public static KvOperation Remove(string primaryNamespace, string secondaryNamespace, string key) =>
        new(KvOperationKind.Remove, primaryNamespace, secondaryNamespace, key, ReadOnlyMemory<byte>.Empty);

    /// <inheritdoc />
    public override string ToString() =>
        Kind == KvOperationKind.Write
            ? $"Write {PrimaryNamespace}/{SecondaryNamespace}/{Key} ({Value.Length} bytes)"
            : $"Remove {PrimaryNamespace}/{SecondaryNamespace}/{Key}";
}
