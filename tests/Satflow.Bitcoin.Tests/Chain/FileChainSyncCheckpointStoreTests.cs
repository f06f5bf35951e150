using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Tests.Chain;

public sealed class FileChainSyncCheckpointStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"satflow-checkpoint-{Guid.NewGuid():N}");

    private string FilePath => Path.Combine(_directory, "sub", "chainsync.checkpoint");

    [Fact]
    public async Task Missing_file_is_no_checkpoint_and_saves_round_trip()
    {
        var store = new FileChainSyncCheckpointStore(FilePath);
        Assert.Null(await store.LoadAsync());

        var tip = new ChainTip(123, Network.RegTest.GenesisHash);
        await store.SaveAsync(tip);
        await store.SaveAsync(tip with { Height = 124 });

        Assert.Equal(tip with { Height = 124 }, await new FileChainSyncCheckpointStore(FilePath).LoadAsync());
        Assert.False(File.Exists(FilePath + ".tmp"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("12")]
    [InlineData("-1 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")]
    [InlineData("12 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e22")]
    [InlineData("12 zz9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")]
    [InlineData("x 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")]
    public async Task Corrupt_file_is_an_InvalidDataException(string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        await File.WriteAllTextAsync(FilePath, content);

        await Assert.ThrowsAsync<InvalidDataException>(() => new FileChainSyncCheckpointStore(FilePath).LoadAsync().AsTask());
    }

    [Fact]
    public async Task ChainSync_resumes_from_the_file_after_a_restart()
    {
        var chain = new FakeChainSource();
        var first = new RecordingListener();
        await new ChainSync(chain, [first], new FileChainSyncCheckpointStore(FilePath)).PollAsync();
        var a = chain.Mine(2);
        await new ChainSync(chain, [first], new FileChainSyncCheckpointStore(FilePath)).PollAsync();

        var b = chain.Mine(2, parent: a[0]);
        var second = new RecordingListener();
        await new ChainSync(chain, [second], new FileChainSyncCheckpointStore(FilePath)).PollAsync();

        Assert.Equal([$"+1:{a[0]}", $"+2:{a[1]}"], first.Events);
        Assert.Equal([$"-2:{a[1]}", $"+2:{b[0]}", $"+3:{b[1]}"], second.Events);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
