using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Satflow.Webhooks.Tests;

/// <summary>
/// A PostgreSQL server for one test class run: the one named by <c>SATFLOW_TEST_POSTGRES</c>, or else a throwaway
/// server started from the local PostgreSQL 15 binaries on 127.0.0.1. Without either, initialisation fails with a
/// message explaining how to provide one (so the tests fail rather than silently pass). A unique schema isolates runs.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = "SATFLOW_TEST_POSTGRES";
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private string? _serverDirectory;
    private bool _serverStarted;

    /// <summary>Connection string of the server in use.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>A schema name no other run uses; dropped at the end.</summary>
    public string Schema { get; } = "whtest_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A shared data source (stores opened on it do not own it).</summary>
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    /// <summary>Where the server came from, for diagnostics.</summary>
    public string Origin { get; private set; } = "";

    public async Task InitializeAsync()
    {
        switch (ChooseServer(Environment.GetEnvironmentVariable(EnvironmentVariable), BinDirectory))
        {
            case ServerChoice.Environment:
                ConnectionString = Environment.GetEnvironmentVariable(EnvironmentVariable)!;
                Origin = EnvironmentVariable;
                break;
            case ServerChoice.Throwaway:
                ConnectionString = await StartThrowawayServerAsync();
                Origin = "throwaway server in " + _serverDirectory;
                break;
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
                // Tests create schemas named after this one; drop them all.
                var schemas = new List<string>();
                await using (var list = DataSource.CreateCommand($"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{Schema}%'"))
                await using (var reader = await list.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        schemas.Add(reader.GetString(0));
                    }
                }

                foreach (var schema in schemas)
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

    internal enum ServerChoice
    {
        Environment,
        Throwaway,
    }

    /// <summary>Which server to use; throws with instructions when there is none.</summary>
    internal static ServerChoice ChooseServer(string? environmentValue, string binDirectory)
    {
        if (!string.IsNullOrWhiteSpace(environmentValue))
        {
            return ServerChoice.Environment;
        }

        if (File.Exists(Path.Combine(binDirectory, "initdb")) && File.Exists(Path.Combine(binDirectory, "pg_ctl")))
        {
            return ServerChoice.Throwaway;
        }

        throw new InvalidOperationException(
            $"The PostgreSQL webhook store tests need a PostgreSQL server. Set {EnvironmentVariable} to a connection string, " +
            "e.g. 'Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres' (the user must be allowed to CREATE SCHEMA), " +
            $"or install the PostgreSQL 15 server binaries ({binDirectory}/initdb and pg_ctl) so the tests can start a throwaway server on 127.0.0.1.");
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsRoot() => string.Equals(Environment.UserName, "root", StringComparison.Ordinal);

    private static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
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

    private Task<string> StartThrowawayServerAsync()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException($"Starting a throwaway PostgreSQL needs Linux; set {EnvironmentVariable} instead.");
        }

        _serverDirectory = Path.Combine(Path.GetTempPath(), "satflow-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(_serverDirectory, "pgdata");
        var socket = Path.Combine(_serverDirectory, "pgsock");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(socket);
        File.SetUnixFileMode(_serverDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (IsRoot())
        {
            var chown = Process.Start("chown", ["postgres:postgres", data, socket]) ?? throw new InvalidOperationException("Could not start chown.");
            chown.WaitForExit();
            if (chown.ExitCode != 0)
            {
                throw new InvalidOperationException("chown of the throwaway PostgreSQL directories failed (does the 'postgres' user exist?).");
            }
        }

        Run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8");
        var port = FreeLoopbackPort();
        Run("pg_ctl", "-D", data, "-l", Path.Combine(data, "server.log"),
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {socket} -c fsync=off", "-w", "-t", "30", "start");
        _serverStarted = true;
        return Task.FromResult($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres");
    }
}
