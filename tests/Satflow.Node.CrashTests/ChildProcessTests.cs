using System.Text.RegularExpressions;

namespace Satflow.Node.CrashTests;

/// <summary>
/// The process runner the crash test relies on, exercised on a long-running satflow process that works on its own
/// (<c>satflow devnet start</c>): output is drained while it runs, SIGKILL ends it at once with the signal's exit code,
/// and a restart over the same data directory comes up again after the unclean stop.
/// </summary>
public sealed partial class ChildProcessTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "satflow-crash-runner-" + Guid.NewGuid().ToString("N"));

    [GeneratedRegex(@"JSON-RPC: (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex RpcLine();

    private static async Task<string> WaitForRpcUrlAsync(ChildProcess child, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var match = RpcLine().Match(child.OutputTail(400));
            if (match.Success)
            {
                return match.Groups[1].Value;
            }
            Assert.False(child.HasExited, $"devnet exited early with code {(child.HasExited ? child.ExitCode : 0)}\n{child.OutputTail()}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"devnet did not print its RPC URL within {timeout.TotalSeconds:0}s\n{child.OutputTail()}");
    }

    [Fact]
    public async Task Sigkill_ends_the_child_at_once_and_a_restart_over_the_same_datadir_comes_up()
    {
        var dataDir = Path.Combine(_root, "devnet");
        string[] args = ["devnet", "start", "--datadir", dataDir, "--rpcbind", "127.0.0.1:0", "--rpcuser", "u", "--rpcpassword", "p"];

        using (var first = ChildProcess.StartSatflow("devnet#1", args))
        {
            var url = await WaitForRpcUrlAsync(first, TimeSpan.FromSeconds(90));
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) })
            {
                // The child answers while its output is drained.
                using var response = await http.GetAsync(url);
                Assert.NotNull(response);
            }
            await first.KillAsync(TimeSpan.FromSeconds(20));
            Assert.True(first.HasExited);
            // 128 + SIGKILL(9): the process died from the signal; no shutdown code ran (no "stopped cleanly" line).
            Assert.Equal(137, first.ExitCode);
            Assert.False(first.OutputContains("devnet stopped cleanly"), first.OutputTail());
        }

        using var second = ChildProcess.StartSatflow("devnet#2", args);
        var secondUrl = await WaitForRpcUrlAsync(second, TimeSpan.FromSeconds(90));
        Assert.StartsWith("http://127.0.0.1:", secondUrl, StringComparison.Ordinal);
        Assert.False(second.HasExited);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing was written.
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }
}
