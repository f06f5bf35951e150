using Npgsql;
using Satflow.Storage.Postgres;
using Satflow.TestSupport;

namespace Satflow.Storage.Tests;

public sealed class PostgresKeyValueStoreTests(PostgresServerFixture server)
    : DurableKeyValueStoreConformanceTests, IClassFixture<PostgresServerFixture>
{
    private static int s_tables;
    private readonly string _table = "kv_" + Interlocked.Increment(ref s_tables).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private PostgresKeyValueStoreOptions Options => new() { Schema = server.Schema, Table = _table };

    [Fact]
    public async Task Schema_is_versioned_with_a_composite_primary_key()
    {
        Assert.Equal(1, await Scalar($"SELECT version FROM \"{server.Schema}\".\"{_table}_schema_version\" WHERE id = 1"));
        Assert.Equal(3L, await Scalar(
            $"""
            SELECT count(*) FROM information_schema.key_column_usage k
            JOIN information_schema.table_constraints c ON c.constraint_name = k.constraint_name AND c.table_schema = k.table_schema
            WHERE c.constraint_type = 'PRIMARY KEY' AND k.table_schema = '{server.Schema}' AND k.table_name = '{_table}'
            """));
    }

    [Fact]
    public async Task Reopening_an_up_to_date_schema_keeps_one_version_row()
    {
        await using var again = await PostgresKeyValueStore.OpenAsync(server.DataSource, Options);
        Assert.Equal(1L, await Scalar($"SELECT count(*) FROM \"{server.Schema}\".\"{_table}_schema_version\""));
    }

    [Fact]
    public async Task A_newer_schema_version_is_refused()
    {
        await Store.WriteAsync("p", "", "k", new byte[] { 1 });
        await Scalar($"UPDATE \"{server.Schema}\".\"{_table}_schema_version\" SET version = 2");
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => PostgresKeyValueStore.OpenAsync(server.DataSource, Options));
        Assert.Equal(KeyValueStoreErrorReason.UnsupportedSchemaVersion, error.Reason);
        Assert.Equal(1L, await Scalar($"SELECT count(*) FROM \"{server.Schema}\".\"{_table}\""));
    }

    [Fact]
    public async Task Tables_in_one_schema_are_isolated()
    {
        await using var other = await PostgresKeyValueStore.OpenAsync(server.DataSource, Options with { Table = _table + "_other" });
        await Store.WriteAsync("p", "", "k", new byte[] { 1 });
        await other.WriteAsync("p", "", "k", new byte[] { 2 });
        Assert.Equal(new byte[] { 1 }, (await Store.ReadAsync("p", "", "k"))!.Value.ToArray());
        Assert.Equal(new byte[] { 2 }, (await other.ReadAsync("p", "", "k"))!.Value.ToArray());
    }

    [Fact]
    public async Task A_batch_that_fails_inside_the_database_is_rolled_back()
    {
        await Store.WriteAsync("chan", "", "state", new byte[] { 1 });
        await Scalar(
            $$"""
            CREATE FUNCTION "{{server.Schema}}"."{{_table}}_boom"() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN IF NEW.key = 'boom' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $f$;
            CREATE TRIGGER inject_failure BEFORE INSERT ON "{{server.Schema}}"."{{_table}}"
                FOR EACH ROW EXECUTE FUNCTION "{{server.Schema}}"."{{_table}}_boom"();
            """);

        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => Store.WriteBatchAsync(
        [
            KvOperation.Write("chan", "", "state", new byte[] { 2 }),
            KvOperation.Write("chan", "", "fresh", new byte[] { 3 }),
            KvOperation.Write("chan", "", "boom", new byte[] { 4 }),
        ]).AsTask());
        Assert.Equal(KeyValueStoreErrorReason.BackendFailure, error.Reason);
        Assert.IsType<PostgresException>(error.InnerException);

        Assert.Equal(["state"], await Store.ListAsync("chan", ""));
        Assert.Equal(new byte[] { 1 }, (await Store.ReadAsync("chan", "", "state"))!.Value.ToArray());
        await Store.WriteBatchAsync([KvOperation.Write("chan", "", "fresh", new byte[] { 5 })]);
        Assert.Equal(["fresh", "state"], await Store.ListAsync("chan", ""));
    }

    [Theory]
    [InlineData("Upper", "kv")]
    [InlineData("", "kv")]
    [InlineData("1abc", "kv")]
    [InlineData("a\"b", "kv")]
    [InlineData("ok", "kv; drop table x")]
    [InlineData("ok", "")]
    [InlineData("ok", "t23456789012345678901234567890123456789012345678x")]
    public async Task Unusable_names_are_rejected(string schema, string table)
    {
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() =>
            PostgresKeyValueStore.OpenAsync(server.DataSource, new PostgresKeyValueStoreOptions { Schema = schema, Table = table }));
        Assert.Equal(KeyValueStoreErrorReason.InvalidConfiguration, error.Reason);
    }

    [Fact]
    public async Task An_unreachable_server_gives_a_backend_failure()
    {
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() =>
            PostgresKeyValueStore.OpenAsync("Host=127.0.0.1;Port=1;Username=postgres;Database=postgres;Timeout=3", Options));
        Assert.Equal(KeyValueStoreErrorReason.BackendFailure, error.Reason);
        Assert.IsAssignableFrom<NpgsqlException>(error.InnerException);
    }

    [Fact]
    public async Task A_malformed_connection_string_is_a_configuration_error()
    {
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => PostgresKeyValueStore.OpenAsync("Hots=nowhere;;==", Options));
        Assert.Equal(KeyValueStoreErrorReason.InvalidConfiguration, error.Reason);
    }

    protected override async Task<IKeyValueStore> CreateStoreAsync() =>
        await PostgresKeyValueStore.OpenAsync(server.DataSource, Options);

    // Re-open through a fresh, store-owned data source, as a restarted node would.
    protected override async Task<IKeyValueStore> ReopenAsync() =>
        await PostgresKeyValueStore.OpenAsync(server.ConnectionString, Options);

    private async Task<object?> Scalar(string sql)
    {
        await using var command = server.DataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }
}

public sealed class PostgresServerChoiceTests
{
    [Fact]
    public void Environment_variable_wins()
    {
        Assert.Equal(PostgresTestServer.ServerChoice.Environment, PostgresTestServer.ChooseServer("Host=127.0.0.1", "/nonexistent"));
    }

    [Fact]
    public void Without_a_server_the_fixture_fails_with_instructions()
    {
        var error = Assert.Throws<InvalidOperationException>(() => PostgresTestServer.ChooseServer(null, "/nonexistent/pg/bin"));
        Assert.Contains(PostgresServerFixture.EnvironmentVariable, error.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/pg/bin/initdb", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => PostgresTestServer.ChooseServer("  ", "/nonexistent/pg/bin"));
    }
}
