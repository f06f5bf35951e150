namespace Satflow.Storage.Postgres;

/// <summary>Where <see cref="PostgresKeyValueStore"/> keeps its rows.</summary>
/// <remarks>
/// Names must match <c>[a-z_][a-z0-9_]*</c>; the schema name is at most 63 characters and the table name at most 48
/// (the version table is called <c>&lt;table&gt;_schema_version</c> and must also fit PostgreSQL's 63-byte limit).
/// </remarks>
public sealed record PostgresKeyValueStoreOptions
{
    /// <summary>The PostgreSQL schema (created if missing; default <c>satflow</c>).</summary>
    public string Schema { get; init; } = "satflow";

    /// <summary>The table name inside <see cref="Schema"/> (default <c>kv_store</c>).</summary>
    public string Table { get; init; } = "kv_store";
}
