using NBitcoin;
using Satflow.Node.Hosting;

namespace Satflow.Cli.Tests;

/// <summary>
/// The real host (used by <c>satflow node start</c> and satflowd) drives the node's own timers: payment retries and
/// deadlines, MPP receive timeouts, gossip. Before this test the host loop synced the chain only, so those never ran
/// outside the test harness.
/// </summary>
public sealed class NodeHostLoopTests
{
    [Fact]
    public async Task The_host_loop_runs_the_node_timers_on_every_round()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-hostloop-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await using var chain = await ChainBackend.StartDevnetAsync(Path.Combine(dir, "devnet"));
            var settings = new NodeHostSettings(Path.Combine(dir, "node"), "regtest", Network.RegTest, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0))
            {
                PollInterval = TimeSpan.FromMilliseconds(100),
            };
            await using var host = await NodeHost.LaunchAsync(settings, chain.Client, TextWriter.Null);

            DateTimeOffset? first = null;
            for (var i = 0; i < 600 && first is null; i++)
            {
                first = host.Node.TimersLastRun;
                await Task.Delay(100);
            }
            Assert.NotNull(first);

            DateTimeOffset? later = first;
            for (var i = 0; i < 600 && later == first; i++)
            {
                await Task.Delay(100);
                later = host.Node.TimersLastRun;
            }
            Assert.True(later > first, "the host loop ran the node timers once, then stopped");
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A file still held by a closing handle: the temp dir is cleaned by the OS.
            }
        }
    }
}
