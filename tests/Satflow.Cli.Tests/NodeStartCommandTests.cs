using System.Net;
using System.Text.Json;
using Satflow.Cli.Commands;
using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Satflow.Node.Api.Tests;

namespace Satflow.Cli.Tests;

/// <summary>
/// <c>node start</c> hosting: the command runs the node (a test double behind the <see cref="NodeHosting.Launch"/>
/// composition point) with its admin API until cancelled, and other commands find it through DATADIR/api.json.
/// </summary>
[Collection(NodeStartCollection.Name)]
public sealed class NodeStartCommandTests
{
    private sealed class HostedFake(InMemoryNode node) : IHostedNode
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public INodeOperations Operations => node;

        public NodeId NodeId => node.NodeId;

        public string ListenAddress => "127.0.0.1:9735";

        public Task Completion => _completion.Task;

        public bool Disposed { get; private set; }

        public void Crash(Exception ex) => _completion.TrySetException(ex);

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            _completion.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task StartServesTheApiUntilCancelledThenRemovesApiJson()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-nodestart-" + Guid.NewGuid().ToString("N"));
        var fake = new HostedFake(new InMemoryNode());
        NodeStartSettings? seen = null;
        var previous = NodeHosting.Launch;
        NodeHosting.Launch = (settings, progress, ct) =>
        {
            seen = settings;
            return Task.FromResult<IHostedNode>(fake);
        };
        try
        {
            using var cts = new CancellationTokenSource();
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var run = Task.Run(() => SatflowCli.RunAsync(["node", "start", "--datadir", dir, "--api", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--json"], stdout, stderr, cts.Token));
            var apiFile = NodeApiFile.PathIn(dir);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(apiFile) && !run.IsCompleted && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.True(File.Exists(apiFile), "api.json was not written: " + stderr);

            var (code, output, error) = await NodeCommandTests.Run("node", "info", "--datadir", dir, "--json");
            Assert.True(code == 0, error);
            Assert.Equal(fake.NodeId.ToString(), JsonDocument.Parse(output).RootElement.GetProperty("node_id").GetString());
            Assert.True(seen!.EmbeddedDevnet);
            Assert.Equal(Path.GetFullPath(dir), seen.DataDirectory);

            cts.Cancel();
            Assert.Equal(0, await run);
            Assert.False(File.Exists(apiFile));
            Assert.True(fake.Disposed);
            var started = JsonDocument.Parse(stdout.ToString()).RootElement;
            Assert.Equal(fake.NodeId.ToString(), started.GetProperty("node_id").GetString());
            Assert.Equal("regtest", started.GetProperty("network").GetString());
            Assert.Equal(apiFile, started.GetProperty("api_file").GetString());
            Assert.StartsWith("http://127.0.0.1:", started.GetProperty("api_url").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("starting the regtest node in ", stderr.ToString(), StringComparison.Ordinal);
            Assert.EndsWith("node stopped cleanly", stderr.ToString().Trim(), StringComparison.Ordinal);

            var after = await NodeCommandTests.Run("node", "info", "--datadir", dir);
            Assert.Equal($"error: no node API found in {Path.GetFullPath(dir)} (is `satflow node start` running?)", after.Err.Trim());
        }
        finally
        {
            NodeHosting.Launch = previous;
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task ANodeThatDiesIsReportedAndTheApiFileRemoved()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-nodestart-" + Guid.NewGuid().ToString("N"));
        var fake = new HostedFake(new InMemoryNode());
        var previous = NodeHosting.Launch;
        NodeHosting.Launch = (_, _, _) => Task.FromResult<IHostedNode>(fake);
        try
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var run = Task.Run(() => SatflowCli.RunAsync(["node", "start", "--datadir", dir, "--api", "127.0.0.1:0", "--listen", "127.0.0.1:0"], stdout, stderr));
            // The API file is written before the banner: wait for the banner itself, or the check races the writer.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!stdout.ToString().Contains("Press Ctrl-C to stop.", StringComparison.Ordinal) && !run.IsCompleted && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.True(File.Exists(NodeApiFile.PathIn(dir)), "api.json was not written: " + stderr);
            Assert.Contains("Press Ctrl-C to stop.", stdout.ToString(), StringComparison.Ordinal);
            fake.Crash(new IOException("chain backend vanished"));
            Assert.Equal(1, await run);
            Assert.Equal("error: the node stopped unexpectedly: chain backend vanished", stderr.ToString().Trim());
            Assert.False(File.Exists(NodeApiFile.PathIn(dir)));
        }
        finally
        {
            NodeHosting.Launch = previous;
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task AnApiPortInUseIsAClearError()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-nodestart-" + Guid.NewGuid().ToString("N"));
        var fake = new HostedFake(new InMemoryNode());
        var previous = NodeHosting.Launch;
        NodeHosting.Launch = (_, _, _) => Task.FromResult<IHostedNode>(fake);
        using var busy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        try
        {
            var port = ((IPEndPoint)busy.LocalEndpoint).Port;
            var (code, _, error) = await NodeCommandTests.Run("node", "start", "--datadir", dir, "--api", $"127.0.0.1:{port}", "--listen", "127.0.0.1:0");
            Assert.Equal(1, code);
            Assert.StartsWith($"error: cannot serve the admin API on 127.0.0.1:{port}", error, StringComparison.Ordinal);
            Assert.True(fake.Disposed);
        }
        finally
        {
            busy.Stop();
            NodeHosting.Launch = previous;
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
