using System.Net;
using System.Text.Json;
using Satflow.Node.Api;
using Satflow.Node.Api.Tests;

namespace Satflow.Cli.Tests;

/// <summary><c>satflow channel restore --backup FILE</c> through the real admin API over the in-memory node.</summary>
[Collection(NodeStartCollection.Name)]
public sealed class ChannelRestoreCommandTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "satflow-restorecli-" + Guid.NewGuid().ToString("N"));
    private readonly InMemoryNode _node = new();
    private NodeApiServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await NodeApiServer.StartAsync(_node, new NodeApiServerOptions { Bind = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = _dir });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Restore_sends_the_backup_file_and_prints_the_channels_under_recovery()
    {
        var file = Path.Combine(_dir, "channels.scb");
        var ids = new byte[64];
        ids[0] = 0x11;
        ids[32] = 0x22;
        await File.WriteAllBytesAsync(file, ids);

        var (code, output, error) = await NodeCommandTests.Run("channel", "restore", "--backup", file, "--datadir", _dir, "--json");
        Assert.True(code == 0, error);
        var recovering = JsonDocument.Parse(output).RootElement.GetProperty("recovering").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(["11" + new string('0', 62), "22" + new string('0', 62)], recovering);

        var human = await NodeCommandTests.Run("channel", "restore", "--backup", file, "--datadir", _dir);
        Assert.Equal(0, human.Code);
        Assert.Contains("2 channel(s) under recovery", human.Out, StringComparison.Ordinal);

        await File.WriteAllBytesAsync(file, [1, 2, 3]);
        var bad = await NodeCommandTests.Run("channel", "restore", "--backup", file, "--datadir", _dir);
        Assert.Equal(1, bad.Code);
        Assert.Contains("not a static channel backup", bad.Err, StringComparison.Ordinal);
    }
}
