namespace Satflow.Storage.Sqlite;

/// <summary>Where and how <see cref="SqliteKeyValueStore"/> keeps its database file.</summary>
public sealed record SqliteKeyValueStoreOptions
{
    /// <summary>The node's data directory; created if missing. The database file lives directly inside it.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The database file name inside <see cref="DataDirectory"/> (default <c>kv.sqlite3</c>); SQLite adds <c>-wal</c> next to it.</summary>
    public string FileName { get; init; } = "kv.sqlite3";

    /// <summary>
    /// How long, in whole seconds, opening waits for another holder of the database to let go before failing with
    /// <see cref="KeyValueStoreErrorReason.StoreLocked"/> (default 2). Must be at least 1.
    /// </summary>
    public int LockTimeoutSeconds { get; init; } = 2;
}
