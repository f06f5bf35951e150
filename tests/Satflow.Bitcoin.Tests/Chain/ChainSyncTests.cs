using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Tests.Chain;

public sealed class ChainSyncTests
{
    private static string Connected(int height, uint256 hash) => $"+{height}:{hash}";

    private static string Disconnected(int height, uint256 hash) => $"-{height}:{hash}";

    [Fact]
    public async Task First_poll_adopts_the_tip_then_new_blocks_are_connected_in_order()
    {
        var chain = new FakeChainSource();
        var before = chain.Mine(2);
        var listener = new RecordingListener();
        var store = new InMemoryChainSyncCheckpointStore();
        var sync = new ChainSync(chain, [listener], store);

        var first = await sync.PollAsync();
        Assert.Equal(new ChainSyncResult(0, 0, new ChainTip(2, before[1]), true), first);
        Assert.Empty(listener.Events);

        var mined = chain.Mine(3);
        var second = await sync.PollAsync();

        Assert.Equal(new ChainSyncResult(0, 3, new ChainTip(5, mined[2]), true), second);
        Assert.Equal([Connected(3, mined[0]), Connected(4, mined[1]), Connected(5, mined[2])], listener.Events);
        Assert.Equal(new ChainTip(5, mined[2]), store.Checkpoint);
        Assert.Equal(new ChainSyncResult(0, 0, new ChainTip(5, mined[2]), true), await sync.PollAsync());
        Assert.Equal(3, listener.Events.Count);
    }

    [Fact]
    public async Task Start_height_delivers_history_from_that_height()
    {
        var chain = new FakeChainSource();
        var mined = chain.Mine(3);
        var listener = new RecordingListener();
        var sync = new ChainSync(chain, [listener], options: new ChainSyncOptions { StartHeight = 2 });

        await sync.PollAsync();

        Assert.Equal([Connected(2, mined[1]), Connected(3, mined[2])], listener.Events);
    }

    [Fact]
    public async Task Start_height_above_the_tip_waits_for_it()
    {
        var chain = new FakeChainSource();
        var listener = new RecordingListener();
        var sync = new ChainSync(chain, [listener], options: new ChainSyncOptions { StartHeight = 2 });

        Assert.Equal(new ChainSyncResult(0, 0, null, true), await sync.PollAsync());
        var mined = chain.Mine(2);
        await sync.PollAsync();

        Assert.Equal([Connected(2, mined[1])], listener.Events);
    }

    [Fact]
    public async Task Reorg_disconnects_tip_down_then_connects_the_new_branch()
    {
        var chain = new FakeChainSource();
        var a = chain.Mine(3);
        var listener = new RecordingListener();
        var sync = new ChainSync(chain, [listener]);
        await sync.PollAsync();

        var b = chain.Mine(3, parent: a[0]);
        var result = await sync.PollAsync();

        Assert.Equal(new ChainSyncResult(2, 3, new ChainTip(4, b[2]), true), result);
        Assert.Equal(
            [Disconnected(3, a[2]), Disconnected(2, a[1]), Connected(2, b[0]), Connected(3, b[1]), Connected(4, b[2])],
            listener.Events);
    }

    [Fact]
    public async Task Shorter_chain_after_invalidation_only_disconnects()
    {
        var chain = new FakeChainSource();
        var a = chain.Mine(3);
        var listener = new RecordingListener();
        var sync = new ChainSync(chain, [listener]);
        await sync.PollAsync();

        chain.SetBest(a[1]);
        var result = await sync.PollAsync();

        Assert.Equal(new ChainSyncResult(1, 0, new ChainTip(2, a[1]), true), result);
        Assert.Equal([Disconnected(3, a[2])], listener.Events);
    }

    [Fact]
    public async Task Restart_resumes_from_the_store_and_walks_headers_to_a_deep_fork()
    {
        var chain = new FakeChainSource();
        var genesis = chain.Tip.Hash;
        var a = chain.Mine(5);
        var store = new InMemoryChainSyncCheckpointStore(new ChainTip(5, a[4]));

        var b = chain.Mine(6, parent: genesis);
        var listener = new RecordingListener();
        var sync = new ChainSync(chain, [listener], store);
        var result = await sync.PollAsync();

        Assert.Equal(new ChainSyncResult(5, 6, new ChainTip(6, b[5]), true), result);
        Assert.Equal(
            [
                .. Enumerable.Range(0, 5).Reverse().Select(i => Disconnected(i + 1, a[i])),
                .. Enumerable.Range(0, 6).Select(i => Connected(i + 1, b[i])),
            ],
            listener.Events);
        Assert.Equal(new ChainTip(6, b[5]), store.Checkpoint);
    }

    [Fact]
    public async Task A_checkpoint_with_a_wrong_height_is_corrected_from_the_source()
    {
        var chain = new FakeChainSource();
        var a = chain.Mine(2);
        var store = new InMemoryChainSyncCheckpointStore(new ChainTip(9, a[0]));
        var listener = new RecordingListener();

        await new ChainSync(chain, [listener], store).PollAsync();

        Assert.Equal([Connected(2, a[1])], listener.Events);
        Assert.Equal(new ChainTip(2, a[1]), store.Checkpoint);
    }

    [Fact]
    public async Task Max_blocks_per_poll_splits_catch_up()
    {
        var chain = new FakeChainSource();
        var listener = new RecordingListener();
        var sync = new ChainSync(chain, [listener], options: new ChainSyncOptions { MaxBlocksPerPoll = 4 });
        await sync.PollAsync();
        var mined = chain.Mine(10);

        var results = new[] { await sync.PollAsync(), await sync.PollAsync(), await sync.PollAsync() };

        Assert.Equal([4, 4, 2], results.Select(r => r.Connected));
        Assert.Equal([false, false, true], results.Select(r => r.CaughtUp));
        Assert.Equal(mined.Select((h, i) => Connected(i + 1, h)), listener.Events);
    }

    [Fact]
    public async Task A_failing_listener_stops_the_poll_and_the_block_is_redelivered()
    {
        var chain = new FakeChainSource();
        var listener = new RecordingListener();
        var other = new RecordingListener();
        var sync = new ChainSync(chain, [other, listener]);
        await sync.PollAsync();
        var mined = chain.Mine(3);
        listener.FailOnConnect = h => h == 2;

        await Assert.ThrowsAsync<InvalidOperationException>(() => sync.PollAsync());
        Assert.Equal(new ChainTip(1, mined[0]), sync.Checkpoint);
        listener.FailOnConnect = null;
        await sync.PollAsync();

        Assert.Equal(mined.Select((h, i) => Connected(i + 1, h)), listener.Events);
        Assert.Equal([Connected(1, mined[0]), Connected(2, mined[1]), Connected(2, mined[1]), Connected(3, mined[2])], other.Events);
    }

    [Fact]
    public async Task Checkpoint_unknown_to_the_source_is_a_ChainSourceException()
    {
        var chain = new FakeChainSource();
        chain.Mine(1);
        var store = new InMemoryChainSyncCheckpointStore(new ChainTip(7, uint256.One));
        var sync = new ChainSync(chain, [new RecordingListener()], store);

        var e = await Assert.ThrowsAsync<ChainSourceException>(() => sync.PollAsync());

        Assert.Contains(uint256.One.ToString(), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overlapping_polls_are_serialised_and_deliver_each_block_once()
    {
        var chain = new FakeChainSource();
        var gate = new GatedListener();
        var sync = new ChainSync(chain, [gate]);
        await sync.PollAsync();
        var mined = chain.Mine(2);

        var first = sync.PollAsync();
        await gate.Entered.Task;
        var second = sync.PollAsync();
        Assert.False(second.IsCompleted);
        gate.Release.SetResult();
        var results = await Task.WhenAll(first, second);

        Assert.Equal([mined[0], mined[1]], gate.Connected);
        Assert.Equal([2, 0], results.Select(r => r.Connected));
    }

    private sealed class GatedListener : IBlockListener
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<uint256> Connected { get; } = [];

        public async ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            await Release.Task;
            Connected.Add(block.GetHash());
        }

        public ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("no reorg in this test");
    }

    [Fact]
    public void Options_are_validated()
    {
        var chain = new FakeChainSource();
        Assert.Throws<ArgumentException>(() => new ChainSync(chain, [], options: new ChainSyncOptions { MaxBlocksPerPoll = 0 }));
        Assert.Throws<ArgumentException>(() => new ChainSync(chain, [], options: new ChainSyncOptions { StartHeight = -1 }));
        Assert.Throws<ArgumentException>(() => new ChainSync(chain, [null!]));
    }
}
