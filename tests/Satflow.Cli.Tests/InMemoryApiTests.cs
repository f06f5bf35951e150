using System.Net;
using Satflow.Node.Api;
using Satflow.Node.Api.Tests;

namespace Satflow.Cli.Tests;

/// <summary>
/// Base of the command tests that run <c>satflow</c> against the real admin API served over the in-memory node: a
/// temporary data directory (where the server writes <c>api.json</c>), the node and the server on 127.0.0.1.
/// </summary>
public abstract class InMemoryApiTests : IAsyncLifetime
{
    private NodeApiServer _server = null!;

    /// <summary>The data directory the commands are pointed at.</summary>
    protected string Dir { get; } = Path.Combine(Path.GetTempPath(), "satflow-cli-" + Guid.NewGuid().ToString("N"));

    /// <summary>The node behind the API.</summary>
    protected InMemoryNode Node { get; } = new();

    public async Task InitializeAsync() =>
        _server = await NodeApiServer.StartAsync(Node, new NodeApiServerOptions { Bind = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = Dir });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    /// <summary>Runs <c>satflow</c> with the arguments and <c>--datadir</c>.</summary>
    protected static Task<(int Code, string Out, string Err)> RunIn(string dir, params string[] args) => NodeCommandTests.Run([.. args, "--datadir", dir]);

    /// <summary>Runs <c>satflow</c> with the arguments against this test's server.</summary>
    protected Task<(int Code, string Out, string Err)> Run(params string[] args) => RunIn(Dir, args);
}
