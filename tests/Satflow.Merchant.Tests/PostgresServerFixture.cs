using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Satflow.Merchant.Tests;

/// <summary>
/// A PostgreSQL server for the merchant repository tests: the one named by <c>SATFLOW_TEST_POSTGRES</c> (CI), or a
/// throwaway server started from the local PostgreSQL 15 binaries on 127.0.0.1. Without either, initialisation throws
/// with instructions, so the PostgreSQL tests fail instead of silently passing. Each test uses its own schema; schemas
/// created on a provided server are dropped at the end.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = "SATFLOW_TEST_POSTGRES";
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private readonly List<string> _schemas = [];
    private string? _serverDirectory;
    private bool _serverStarted;

    public string ConnectionString { get; private set; } = "";

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public string NewSchema()
    {
        var schema = "mtest_" + Guid.NewGuid().ToString("N")[..12];
        lock (_schemas)
        {
            _schemas.Add(schema);
        }

        return schema;
    }

    public async Task InitializeAsync()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            ConnectionString = fromEnvironment;
        }
        else if (File.Exists(Path.Combine(BinDirectory, "initdb")) && File.Exists(Path.Combine(BinDirectory, "pg_ctl")))
        {
            ConnectionString = StartThrowawayServer();
        }
        else
        {
            throw new InvalidOperationException(
                $"The PostgreSQL merchant repository tests need a PostgreSQL server. Set {EnvironmentVariable} to a connection string, " +
                "e.g. 'Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres' (the user must be allowed to CREATE SCHEMA), " +
                $"or install the PostgreSQL 15 server binaries ({BinDirectory}/initdb and pg_ctl) so the tests can start a throwaway server on 127.0.0.1.");
        }

        DataSource = NpgsqlDataSource.Create(ConnectionString);
        await using var probe = DataSource.CreateCommand("SELECT 1");
        await probe.ExecuteScalarAsync();
    }

    public async Task DisposeAsync()
    {
        if (DataSource is not null)
        {
            if (!_serverStarted)
            {
                foreach (var schema in _schemas)
                {
                    await using var drop = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                    await drop.ExecuteNonQueryAsync();
                }
            }

            await DataSource.DisposeAsync();
        }

        if (_serverStarted)
        {
            Run("pg_ctl", "-D", Path.Combine(_serverDirectory!, "pgdata"), "-m", "fast", "-w", "stop");
        }

        if (_serverDirectory is not null && Directory.Exists(_serverDirectory))
        {
            Directory.Delete(_serverDirectory, recursive: true);
        }
    }

    private static bool IsRoot() => string.Equals(Environment.UserName, "root", StringComparison.Ordinal);

    private static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (IsRoot())
        {
            // PostgreSQL refuses to run as root.
            start.FileName = "runuser";
            foreach (var a in new[] { "-u", "postgres", "--", Path.Combine(BinDirectory, tool) })
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            start.FileName = Path.Combine(BinDirectory, tool);
        }

        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {tool}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{tool} did not finish within 60 s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        }

        return stdout.Result;
    }

    private string StartThrowawayServer()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException($"Starting a throwaway PostgreSQL needs Linux; set {EnvironmentVariable} instead.");
        }

        _serverDirectory = Path.Combine(Path.GetTempPath(), "satflow-merchant-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(_serverDirectory, "pgdata");
        var socket = Path.Combine(_serverDirectory, "pgsock");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(socket);
        File.SetUnixFileMode(_serverDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (IsRoot())
        {
            using var chown = Process.Start("chown", ["postgres:postgres", data, socket]) ?? throw new InvalidOperationException("Could not start chown.");
            chown.WaitForExit();
            if (chown.ExitCode != 0)
            {
                throw new InvalidOperationException("chown of the throwaway PostgreSQL directories failed (does the 'postgres' user exist?).");
            }
        }

        Run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8");
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        Run("pg_ctl", "-D", data, "-l", Path.Combine(data, "server.log"),
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {socket} -c fsync=off", "-w", "-t", "30", "start");
        _serverStarted = true;
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres";
    }
}
