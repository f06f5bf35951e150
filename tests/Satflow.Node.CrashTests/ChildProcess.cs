using System.Diagnostics;
using System.Text;

namespace Satflow.Node.CrashTests;

/// <summary>
/// A child process of the test (here: <c>dotnet satflow.dll ...</c>) whose stdout and stderr are drained
/// asynchronously into a bounded in-memory tail, so a chatty child can never block on a full pipe and hang the test
/// host. Disposing kills the whole process tree; every wait takes a deadline.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private const int MaxLines = 400;
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private bool _disposed;

    private ChildProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    /// <summary>A label for messages (e.g. "node A").</summary>
    public string Name { get; }

    /// <summary>The OS process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code (137 = killed by SIGKILL, as the runtime reports 128 + signal).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The path of the <c>dotnet</c> host that runs the test (falls back to <c>dotnet</c> on the PATH).</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";

    /// <summary>satflow.dll, copied next to the test assembly by the project reference to Satflow.Cli.</summary>
    public static string SatflowDll
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "satflow.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"satflow.dll is not next to the test assembly in {AppContext.BaseDirectory}", path);
        }
    }

    /// <summary>Starts <c>dotnet satflow.dll args...</c>.</summary>
    public static ChildProcess StartSatflow(string name, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(SatflowDll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name);
        process.OutputDataReceived += (_, e) => child.Append("out", e.Data);
        process.ErrorDataReceived += (_, e) => child.Append("err", e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"{name}: could not start {info.FileName}");
        }
        child.Append("test", $"started pid {process.Id}: satflow {string.Join(' ', info.ArgumentList.Skip(1))}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Append(string stream, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_gate)
        {
            _tail.Enqueue($"[{Name} {stream}] {line}");
            while (_tail.Count > MaxLines)
            {
                _tail.Dequeue();
            }
        }
    }

    /// <summary>The last lines the process wrote (both streams, interleaved as received).</summary>
    public string OutputTail(int lines = 60)
    {
        lock (_gate)
        {
            return string.Join('\n', _tail.Skip(Math.Max(0, _tail.Count - lines)));
        }
    }

    /// <summary>True when any captured line contains <paramref name="text"/>.</summary>
    public bool OutputContains(string text)
    {
        lock (_gate)
        {
            return _tail.Any(l => l.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>Kills the process tree (SIGKILL on Linux) and waits for it to be gone.</summary>
    public async Task KillAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }
        }
        await WaitForExitAsync(timeout).ConfigureAwait(false);
        Append("test", $"killed (exit code {_process.ExitCode})");
    }

    /// <summary>Waits for the process (and the end of its output) to finish; throws <see cref="TimeoutException"/> past the deadline.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} (pid {_process.Id}) did not exit within {timeout.TotalSeconds:0}s\n{OutputTail()}");
        }
    }

    /// <summary>Kills the process tree if it still runs (even when the test failed), then releases the handle.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        _process.Dispose();
    }
}
