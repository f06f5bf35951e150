namespace Satflow.Storage;

/// <summary>Why a <see cref="KeyValueStoreException"/> was raised.</summary>
public enum KeyValueStoreErrorReason
{
    /// <summary>The primary namespace is null, too long or contains a character outside <c>[A-Za-z0-9_-]</c>.</summary>
    InvalidPrimaryNamespace,

    /// <summary>The secondary namespace is null, too long or contains a character outside <c>[A-Za-z0-9_-]</c>.</summary>
    InvalidSecondaryNamespace,

    /// <summary>The secondary namespace is non-empty while the primary namespace is empty.</summary>
    InvalidNamespaceCombination,

    /// <summary>The key is null, empty, too long or contains a character outside <c>[A-Za-z0-9_-]</c>.</summary>
    InvalidKey,

    /// <summary>A batch is null or contains a null operation.</summary>
    InvalidBatch,

    /// <summary>The store's options are unusable (for example an invalid PostgreSQL schema or table name, or an empty data directory).</summary>
    InvalidConfiguration,

    /// <summary>The stored schema version is newer than this code understands; refusing to touch the data.</summary>
    UnsupportedSchemaVersion,

    /// <summary>Another process (or another open store in this process) holds the SQLite database.</summary>
    StoreLocked,

    /// <summary>The database reported an error (I/O, connection, constraint, ...); see <see cref="Exception.InnerException"/>.</summary>
    BackendFailure,
}
