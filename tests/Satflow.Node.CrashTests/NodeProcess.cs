using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Node.CrashTests;

/// <summary>
/// One Lightning node run as <c>satflow node start</c> in its own process over a fixed data directory: it can be
/// SIGKILLed and started again from the same directory as often as the test likes.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly string _rpcUrl;
    private readonly List<string> _history = [];
    private ChildProcess? _process;
    private NodeApiClient? _api;

    /// <summary>Describes the node; nothing runs until <see cref="StartAsync"/>.</summary>
    public NodeProcess(string name, string dataDirectory, string bitcoindRpcUrl)
    {
        Name = name;
        DataDirectory = dataDirectory;
        _rpcUrl = bitcoindRpcUrl;
    }

    /// <summary>"A" or "B".</summary>
    public string Name { get; }

    /// <summary>The node's data directory (survives kills).</summary>
    public string DataDirectory { get; }

    /// <summary>The admin API of the running process.</summary>
    public NodeApiClient Api => _api ?? throw new InvalidOperationException($"node {Name} is not running");

    /// <summary>The node id (stable across restarts).</summary>
    public NodeId NodeId { get; private set; }

    /// <summary>Where the running process accepts peers (a new port after each restart).</summary>
    public string ListenAddress { get; private set; } = "";

    /// <summary>How many times the process was started.</summary>
    public int Starts { get; private set; }

    /// <summary>True while a started process has not exited.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>
    /// Starts <c>satflow node start</c> and waits (up to <paramref name="timeout"/>) until it has written a fresh
    /// api.json and its API answers <c>GET /v1/info</c>. A stale api.json left by a killed process is expected and
    /// ignored (its key differs from the new one).
    /// </summary>
    public async Task StartAsync(TimeSpan timeout)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"node {Name} already runs");
        }
        DisposeProcess();
        var stale = ReadApiFile();
        Starts++;
        _process = ChildProcess.StartSatflow($"{Name}#{Starts}",
        [
            "node", "start",
            "--datadir", DataDirectory,
            "--network", "regtest",
            "--bitcoind-rpc", _rpcUrl,
            "--listen", "127.0.0.1:0",
            "--api", "127.0.0.1:0",
        ]);
        var deadline = DateTime.UtcNow + timeout;
        string lastError = "api.json not written yet";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"node {Name}: `satflow node start` exited with code {_process.ExitCode} before its API answered\n{Tail()}");
            }
            var file = ReadApiFile();
            if (file is not null && file.ApiKey != stale?.ApiKey)
            {
                _api?.Dispose();
                _api = new NodeApiClient(file, TimeSpan.FromSeconds(30));
                try
                {
                    var info = await _api.InfoAsync().ConfigureAwait(false);
                    if (Starts > 1 && info.NodeId != NodeId)
                    {
                        throw new InvalidOperationException($"node {Name} came back from {DataDirectory} as {info.NodeId}, not {NodeId}");
                    }
                    NodeId = info.NodeId;
                    ListenAddress = info.ListenAddresses.Count > 0 ? info.ListenAddresses[0]
                        : throw new InvalidOperationException($"node {Name}: /v1/info lists no listen address");
                    _history.Add($"start #{Starts}: pid {_process.Id}, api {file.Url}, peers {ListenAddress}");
                    return;
                }
                catch (NodeApiException ex)
                {
                    lastError = ex.Message;
                }
            }
            await Task.Delay(100).ConfigureAwait(false);
        }
        throw new TimeoutException($"node {Name}: API not answering within {timeout.TotalSeconds:0}s ({lastError})\n{Tail()}");
    }

    /// <summary>SIGKILLs the process (no shutdown code runs) and waits until it is gone.</summary>
    public async Task KillAsync(string when)
    {
        var process = _process ?? throw new InvalidOperationException($"node {Name} was never started");
        await process.KillAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        _history.Add($"SIGKILL pid {process.Id} {when} (exit code {process.ExitCode})");
        _api?.Dispose();
        _api = null;
    }

    private NodeApiFile? ReadApiFile()
    {
        try
        {
            return NodeApiFile.TryRead(DataDirectory);
        }
        catch (FormatException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>What happened to this node, then the last lines of its current process.</summary>
    public string Tail(int lines = 40) =>
        $"--- node {Name}: {string.Join("; ", _history)}\n{_process?.OutputTail(lines) ?? "(never started)"}";

    private void DisposeProcess()
    {
        _api?.Dispose();
        _api = null;
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Kills the process if it still runs.</summary>
    public void Dispose() => DisposeProcess();
}
