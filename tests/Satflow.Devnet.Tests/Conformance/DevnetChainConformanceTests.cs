using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Conformance;

namespace Satflow.Devnet.Tests.Conformance;

/// <summary>A clock that moves one minute each time a block is mined, so block times look real and never collide.</summary>
internal sealed class SteppingClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (this)
        {
            return _now;
        }
    }

    public void Step()
    {
        lock (this)
        {
            _now += TimeSpan.FromMinutes(1);
        }
    }
}

/// <summary>The chain-source conformance kit over the in-process devnet.</summary>
public sealed class DevnetChainConformanceTests : ChainSourceConformanceTests
{
    private readonly SteppingClock _clock = new();
    private DevnetChain? _chain;

    private DevnetChain Chain => _chain ?? throw new InvalidOperationException("The chain is not open.");

    protected override Task<IChainSource> CreateSourceAsync()
    {
        _chain = DevnetChain.Open(new DevnetOptions { TimeProvider = _clock });
        return Task.FromResult<IChainSource>(_chain);
    }

    protected override Task<IBroadcaster> CreateBroadcasterAsync() => Task.FromResult<IBroadcaster>(Chain);

    protected override Task<IFeeEstimator> CreateFeeEstimatorAsync() => Task.FromResult<IFeeEstimator>(Chain);

    protected override async Task<IReadOnlyList<uint256>> MineAsync(int blocks, Script? payTo = null)
    {
        var hashes = new List<uint256>(blocks);
        for (var i = 0; i < blocks; i++)
        {
            _clock.Step();
            hashes.AddRange(await Chain.MineBlocksAsync(1, payTo ?? FreshScript()));
        }

        return hashes;
    }

    protected override async Task InvalidateBlockAsync(uint256 hash) => Assert.True(await Chain.InvalidateBlockAsync(hash));

    protected override Task DisposeChainAsync()
    {
        _chain?.Dispose();
        return Task.CompletedTask;
    }
}
