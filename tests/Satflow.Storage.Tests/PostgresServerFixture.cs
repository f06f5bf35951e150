using Npgsql;
using Satflow.TestSupport;

namespace Satflow.Storage.Tests;

/// <summary>
/// xunit fixture over the shared <see cref="PostgresTestServer"/> (SATFLOW_TEST_POSTGRES or a throwaway server on
/// 127.0.0.1; fails with instructions when neither exists). A unique schema prefix isolates runs.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = PostgresTestServer.EnvironmentVariable;

    private PostgresTestServer? _server;

    /// <summary>Connection string of the server in use.</summary>
    public string ConnectionString => Server.ConnectionString;

    /// <summary>A schema name no other run uses; schemas starting with it are dropped at the end.</summary>
    public string Schema { get; } = "kvtest_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A shared data source (stores opened on it do not own it).</summary>
    public NpgsqlDataSource DataSource => Server.DataSource;

    /// <summary>Where the server came from, for diagnostics.</summary>
    public string Origin => Server.Origin;

    private PostgresTestServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture is not initialised.");

    public async Task InitializeAsync() => _server = await PostgresTestServer.StartAsync("PostgreSQL key-value store tests");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DropSchemasAsync(Schema);
            await _server.DisposeAsync();
        }
    }
}
