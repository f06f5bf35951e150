using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Satflow.Bitcoin.Chain;

namespace Satflow.Node;

/// <summary>
/// The host loop of a <see cref="LightningNode"/> — the only place in this library with a background loop: it feeds
/// new blocks from an <see cref="IChainSource"/> to the node (and to extra listeners such as the on-chain wallet)
/// through <see cref="ChainSync"/>, resuming after the node's persisted best block, and flushes pending channel
/// updates, every <see cref="PollInterval"/> of the given clock.
/// </summary>
public sealed class NodeRunner
{
    private readonly LightningNode _node;
    private readonly ChainSync _sync;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the runner.</summary>
    /// <param name="node">The node.</param>
    /// <param name="chain">Where blocks come from.</param>
    /// <param name="time">The clock of the loop.</param>
    /// <param name="pollInterval">How often the chain is polled (default 5 s).</param>
    /// <param name="otherListeners">More block listeners (the on-chain wallet), fed before the node.</param>
    /// <param name="startHeight">Where to start when the node has never seen a block (default: the current tip).</param>
    /// <param name="loggers">Optional loggers.</param>
    public NodeRunner(LightningNode node, IChainSource chain, TimeProvider time, TimeSpan? pollInterval = null, IEnumerable<IBlockListener>? otherListeners = null, int? startHeight = null, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(time);
        _node = node;
        _time = time;
        PollInterval = pollInterval ?? TimeSpan.FromSeconds(5);
        if (PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(pollInterval), "The poll interval must be positive.");
        }
        _logger = (ILogger?)loggers?.CreateLogger<NodeRunner>() ?? NullLogger.Instance;
        var listeners = (otherListeners ?? []).Append(node);
        _sync = new ChainSync(chain, listeners, new NodeCheckpoint(node), new ChainSyncOptions { StartHeight = startHeight });
    }

    /// <summary>How often the loop runs.</summary>
    public TimeSpan PollInterval { get; }

    /// <summary>One round: catch up with the chain, flush pending channel updates, then drive payment timers (retries, deadlines, MPP timeouts) and gossip timers (disabled channels, initial routing sync).</summary>
    /// <param name="cancellationToken">Cancels the round.</param>
    /// <returns>How many blocks were connected.</returns>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var connected = 0;
        ChainSyncResult result;
        do
        {
            result = await _sync.PollAsync(cancellationToken).ConfigureAwait(false);
            connected += result.Connected;
        }
        while (!result.CaughtUp);
        await _node.ProcessTimersAsync(cancellationToken).ConfigureAwait(false);
        return connected;
    }

    /// <summary>Runs rounds until cancelled; a failing round is logged and retried at the next interval.</summary>
    /// <param name="cancellationToken">Stops the loop.</param>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ChainSourceException e)
            {
                RunnerLog.RoundFailed(_logger, e.Message);
            }
            try
            {
                await Task.Delay(PollInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The sync checkpoint is the node's own persisted best block (written atomically with each block's effects).</summary>
    private sealed class NodeCheckpoint(LightningNode node) : IChainSyncCheckpointStore
    {
        public ValueTask<ChainTip?> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(node.BestBlock);

        public ValueTask SaveAsync(ChainTip checkpoint, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}

internal static partial class RunnerLog
{
    [LoggerMessage(20, LogLevel.Warning, "Node round failed, retrying at the next interval: {Reason}")]
    public static partial void RoundFailed(ILogger logger, string reason);
}
