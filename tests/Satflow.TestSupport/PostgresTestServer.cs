using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Satflow.TestSupport;

/// <summary>
/// The PostgreSQL server the PostgreSQL test kits use: the one named by <c>SATFLOW_TEST_POSTGRES</c> (CI starts one on
/// a loopback port), or else a throwaway server started from the local PostgreSQL 15 binaries on 127.0.0.1. Without
/// either, <see cref="StartAsync"/> throws with instructions, so PostgreSQL tests fail instead of silently passing.
/// Each project wraps it in its own xunit fixture (schema naming differs per kit).
/// </summary>
public sealed class PostgresTestServer : IAsyncDisposable
{
    /// <summary>The environment variable naming a server to use.</summary>
    public const string EnvironmentVariable = "SATFLOW_TEST_POSTGRES";

    /// <summary>Where the PostgreSQL 15 server binaries are looked for.</summary>
    public const string DefaultBinDirectory = "/usr/lib/postgresql/15/bin";

    private readonly string _binDirectory;
    private string? _serverDirectory;

    private PostgresTestServer(string binDirectory) => _binDirectory = binDirectory;

    /// <summary>Which server a run uses.</summary>
    public enum ServerChoice
    {
        /// <summary>The server named by <see cref="EnvironmentVariable"/>.</summary>
        Environment,

        /// <summary>A throwaway server started for the run.</summary>
        Throwaway,
    }

    /// <summary>Connection string of the server in use.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>A shared data source (stores opened on it do not own it).</summary>
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    /// <summary>Where the server came from, for diagnostics.</summary>
    public string Origin { get; private set; } = "";

    /// <summary>True when this run started (and will stop) its own server; schemas then vanish with it.</summary>
    public bool IsThrowaway { get; private set; }

    /// <summary>Which server to use; throws with instructions naming <paramref name="what"/> when there is none.</summary>
    public static ServerChoice ChooseServer(string? environmentValue, string binDirectory, string what = "PostgreSQL tests")
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
            $"The {what} need a PostgreSQL server. Set {EnvironmentVariable} to a connection string, " +
            "e.g. 'Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres' (the user must be allowed to CREATE SCHEMA), " +
            $"or install the PostgreSQL 15 server binaries ({binDirectory}/initdb and pg_ctl) so the tests can start a throwaway server on 127.0.0.1.");
    }

    /// <summary>Connects to (or starts) the server and checks it answers.</summary>
    /// <param name="what">What needs the server, for the error message (e.g. "PostgreSQL payout store tests").</param>
    public static async Task<PostgresTestServer> StartAsync(string what)
    {
        var server = new PostgresTestServer(DefaultBinDirectory);
        var fromEnvironment = System.Environment.GetEnvironmentVariable(EnvironmentVariable);
        switch (ChooseServer(fromEnvironment, DefaultBinDirectory, what))
        {
            case ServerChoice.Environment:
                server.ConnectionString = fromEnvironment!;
                server.Origin = EnvironmentVariable;
                break;
            case ServerChoice.Throwaway:
                server.ConnectionString = server.StartThrowawayServer();
                server.Origin = "throwaway server in " + server._serverDirectory;
                break;
        }
        server.DataSource = NpgsqlDataSource.Create(server.ConnectionString);
        await using var probe = server.DataSource.CreateCommand("SELECT 1");
        await probe.ExecuteScalarAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>Drops every schema whose name starts with <paramref name="prefix"/> (on a provided server; a throwaway one is deleted whole).</summary>
    public async Task DropSchemasAsync(string prefix)
    {
        if (IsThrowaway || DataSource is null)
        {
            return;
        }
        var schemas = new List<string>();
        await using (var list = DataSource.CreateCommand("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)"))
        {
            list.Parameters.Add(new NpgsqlParameter { Value = prefix });
            await using var reader = await list.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                schemas.Add(reader.GetString(0));
            }
        }
        foreach (var schema in schemas)
        {
            await using var drop = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\" CASCADE");
            await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes the data source and stops and deletes a throwaway server.</summary>
    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await DataSource.DisposeAsync().ConfigureAwait(false);
        }
        if (IsThrowaway)
        {
            Run("pg_ctl", "-D", Path.Combine(_serverDirectory!, "pgdata"), "-m", "fast", "-w", "stop");
        }
        if (_serverDirectory is not null && Directory.Exists(_serverDirectory))
        {
            Directory.Delete(_serverDirectory, recursive: true);
        }
    }

    private static bool IsRoot() => string.Equals(System.Environment.UserName, "root", StringComparison.Ordinal);

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (IsRoot())
        {
            // PostgreSQL refuses to run as root.
            start.FileName = "runuser";
            foreach (var a in new[] { "-u", "postgres", "--", Path.Combine(_binDirectory, tool) })
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            start.FileName = Path.Combine(_binDirectory, tool);
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
        _serverDirectory = Path.Combine(Path.GetTempPath(), "satflow-pg-" + Guid.NewGuid().ToString("N")[..12]);
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
        var port = FreeLoopbackPort();
        Run("pg_ctl", "-D", data, "-l", Path.Combine(data, "server.log"),
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {socket} -c fsync=off", "-w", "-t", "30", "start");
        IsThrowaway = true;
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres";
    }
}
