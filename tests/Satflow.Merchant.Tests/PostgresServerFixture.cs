using Npgsql;
using Satflow.TestSupport;

namespace Satflow.Merchant.Tests;

/// <summary>
/// xunit fixture over the shared <see cref="PostgresTestServer"/> for the merchant repository tests
/// (SATFLOW_TEST_POSTGRES or a throwaway server on 127.0.0.1; fails with instructions when neither exists). Each test
/// takes its own schema from <see cref="NewSchema"/>; they share a run prefix and are dropped at the end.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = PostgresTestServer.EnvironmentVariable;

    private readonly string _prefix = "mtest_" + Guid.NewGuid().ToString("N")[..12] + "_";
    private PostgresTestServer? _server;
    private int _schemas;

    public string ConnectionString => Server.ConnectionString;

    public NpgsqlDataSource DataSource => Server.DataSource;

    private PostgresTestServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture is not initialised.");

    public string NewSchema() => _prefix + Interlocked.Increment(ref _schemas).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async Task InitializeAsync() => _server = await PostgresTestServer.StartAsync("PostgreSQL merchant repository tests");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DropSchemasAsync(_prefix);
            await _server.DisposeAsync();
        }
    }
}
