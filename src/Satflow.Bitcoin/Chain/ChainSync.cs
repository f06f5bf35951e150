namespace Satflow.Bitcoin.Chain;

/// <summary>Where <see cref="ChainSync"/> keeps the last block it delivered, so a restarted host resumes from there.</summary>
public interface IChainSyncCheckpointStore
{
    /// <summary>The last block delivered to the listeners, or null when nothing was delivered yet.</summary>
    ValueTask<ChainTip?> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Records the last block delivered to the listeners (called after every connect and disconnect).</summary>
    ValueTask SaveAsync(ChainTip checkpoint, CancellationToken cancellationToken = default);
}

/// <summary>A checkpoint store held in memory, optionally seeded with a checkpoint from elsewhere.</summary>
public sealed class InMemoryChainSyncCheckpointStore : IChainSyncCheckpointStore
{
    private ChainTip? _checkpoint;

    /// <summary>Creates the store.</summary>
    /// <param name="initial">The block the listeners already know, or null to start fresh.</param>
    public InMemoryChainSyncCheckpointStore(ChainTip? initial = null) => _checkpoint = initial;

    /// <summary>The stored checkpoint.</summary>
    public ChainTip? Checkpoint => _checkpoint;

    /// <inheritdoc />
    public ValueTask<ChainTip?> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(_checkpoint);

    /// <inheritdoc />
    public ValueTask SaveAsync(ChainTip checkpoint, CancellationToken cancellationToken = default)
    {
        _checkpoint = checkpoint;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Settings for <see cref="ChainSync"/>.</summary>
public sealed class ChainSyncOptions
{
    /// <summary>
    /// Where to start when the store has no checkpoint: null (the default) adopts the current tip without delivering
    /// it; a height delivers every best-chain block from that height on.
    /// </summary>
    public int? StartHeight { get; init; }

    /// <summary>At most this many blocks are connected per poll, so one poll stays short while catching up (default 144).</summary>
    public int MaxBlocksPerPoll { get; init; } = 144;
}

/// <summary>What one <see cref="ChainSync.PollAsync"/> did.</summary>
/// <param name="Disconnected">Blocks disconnected (reorg).</param>
/// <param name="Connected">Blocks connected.</param>
/// <param name="Checkpoint">The last block delivered after the poll (null while waiting for <see cref="ChainSyncOptions.StartHeight"/>).</param>
/// <param name="CaughtUp">False when <see cref="ChainSyncOptions.MaxBlocksPerPoll"/> or a reorg during the poll stopped it early; poll again.</param>
public readonly record struct ChainSyncResult(int Disconnected, int Connected, ChainTip? Checkpoint, bool CaughtUp);

/// <summary>
/// Drives <see cref="IBlockListener"/>s from any <see cref="IChainSource"/> by polling. The host calls
/// <see cref="PollAsync"/> on its own timer; each poll brings the listeners to the source's tip: on a reorg the
/// abandoned blocks are disconnected tip-down (found by walking headers back to the fork point, however deep), then the
/// new branch is connected in height order. The checkpoint is saved after every single event, so a host that stops at
/// any point resumes exactly there. If a listener throws, the event is retried on the next poll (listeners that already
/// received it then see it again), so listeners should tolerate repeats.
/// </summary>
public sealed class ChainSync
{
    private readonly IChainSource _source;
    private readonly IReadOnlyList<IBlockListener> _listeners;
    private readonly IChainSyncCheckpointStore _store;
    private readonly ChainSyncOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ChainTip? _checkpoint;
    private bool _loaded;

    /// <summary>Creates the synchroniser.</summary>
    /// <param name="source">The chain to follow.</param>
    /// <param name="listeners">Receivers of the events, called in this order for every event.</param>
    /// <param name="store">Where the last delivered block is kept; null keeps it in memory only.</param>
    /// <param name="options">Settings, or null for the defaults.</param>
    public ChainSync(IChainSource source, IEnumerable<IBlockListener> listeners, IChainSyncCheckpointStore? store = null, ChainSyncOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(listeners);
        _source = source;
        _listeners = [.. listeners];
        if (_listeners.Any(l => l is null))
        {
            throw new ArgumentException("A listener is null.", nameof(listeners));
        }

        _store = store ?? new InMemoryChainSyncCheckpointStore();
        _options = options ?? new ChainSyncOptions();
        if (_options.MaxBlocksPerPoll < 1)
        {
            throw new ArgumentException("MaxBlocksPerPoll must be at least 1.", nameof(options));
        }

        if (_options.StartHeight is < 0)
        {
            throw new ArgumentException("StartHeight cannot be negative.", nameof(options));
        }
    }

    /// <summary>The last block delivered (or adopted at start), or null before the first poll.</summary>
    public ChainTip? Checkpoint => _checkpoint;

    /// <summary>Brings the listeners up to the source's current tip (or by <see cref="ChainSyncOptions.MaxBlocksPerPoll"/> blocks).</summary>
    /// <exception cref="ChainSourceException">The source failed, or it does not know the checkpoint block or one of its ancestors.</exception>
    public async Task<ChainSyncResult> PollAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await PollCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ChainSyncResult> PollCoreAsync(CancellationToken ct)
    {
        if (!_loaded)
        {
            _checkpoint = await _store.LoadAsync(ct).ConfigureAwait(false);
            _loaded = true;
        }

        var tip = await _source.GetTipAsync(ct).ConfigureAwait(false);
        if (_checkpoint is not { } checkpoint)
        {
            if (_options.StartHeight is not { } start)
            {
                await SaveAsync(tip, ct).ConfigureAwait(false);
                return new ChainSyncResult(0, 0, tip, true);
            }

            if (start > tip.Height)
            {
                // Nothing to deliver yet; the first block wanted is still to come.
                return new ChainSyncResult(0, 0, null, true);
            }

            return await ConnectFromAsync(start, tip, 0, ct).ConfigureAwait(false);
        }

        if (tip.Hash == checkpoint.Hash)
        {
            return new ChainSyncResult(0, 0, checkpoint, true);
        }

        var disconnected = await DisconnectStaleAsync(ct).ConfigureAwait(false);
        return await ConnectFromAsync(_checkpoint!.Value.Height + 1, tip, disconnected, ct).ConfigureAwait(false);
    }

    /// <summary>Disconnects checkpoint blocks that left the best chain, tip-down, until the checkpoint is a best-chain block.</summary>
    private async Task<int> DisconnectStaleAsync(CancellationToken ct)
    {
        var count = 0;
        while (true)
        {
            var checkpoint = _checkpoint!.Value;
            var header = await _source.GetHeaderAsync(checkpoint.Hash, ct).ConfigureAwait(false)
                ?? throw new ChainSourceException($"The chain source does not know block {checkpoint.Hash} (height {checkpoint.Height}) that was delivered before.");
            // The source's height is authoritative (a checkpoint handed in by a host could carry a wrong one).
            if (header.Confirmations >= 1)
            {
                if (header.Height != checkpoint.Height)
                {
                    await SaveAsync(new ChainTip(header.Height, checkpoint.Hash), ct).ConfigureAwait(false);
                }

                return count;
            }

            if (header.Height == 0)
            {
                throw new ChainSourceException($"The chain source reports the delivered genesis block {checkpoint.Hash} as not in its best chain.");
            }

            foreach (var listener in _listeners)
            {
                await listener.BlockDisconnectedAsync(header.Header, header.Height, ct).ConfigureAwait(false);
            }

            count++;
            await SaveAsync(new ChainTip(header.Height - 1, header.Header.HashPrevBlock), ct).ConfigureAwait(false);
        }
    }

    private async Task<ChainSyncResult> ConnectFromAsync(int fromHeight, ChainTip tip, int disconnected, CancellationToken ct)
    {
        var connected = 0;
        for (var height = fromHeight; height <= tip.Height; height++)
        {
            if (connected == _options.MaxBlocksPerPoll)
            {
                return new ChainSyncResult(disconnected, connected, _checkpoint, false);
            }

            var hash = await _source.GetBlockHashAsync(height, ct).ConfigureAwait(false);
            var block = hash is null ? null : await _source.GetBlockAsync(hash, ct).ConfigureAwait(false);
            if (block is null || (_checkpoint is { } previous && block.Header.HashPrevBlock != previous.Hash))
            {
                // The chain changed under us (a reorg or a shorter chain): the next poll walks back and resumes.
                return new ChainSyncResult(disconnected, connected, _checkpoint, false);
            }

            foreach (var listener in _listeners)
            {
                await listener.BlockConnectedAsync(block, height, ct).ConfigureAwait(false);
            }

            connected++;
            await SaveAsync(new ChainTip(height, hash!), ct).ConfigureAwait(false);
        }

        return new ChainSyncResult(disconnected, connected, _checkpoint, true);
    }

    private async ValueTask SaveAsync(ChainTip checkpoint, CancellationToken ct)
    {
        await _store.SaveAsync(checkpoint, ct).ConfigureAwait(false);
        _checkpoint = checkpoint;
    }
}
