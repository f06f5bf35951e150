namespace Satflow.Webhooks;

/// <summary>
/// The background loop a host runs: sends pending deliveries, then waits for <see cref="PollInterval"/> on the
/// injected <see cref="TimeProvider"/> or until <see cref="Wake"/> is called (e.g. from
/// <see cref="WebhookPublisher.Enqueued"/>). It starts no thread of its own; the host awaits <see cref="RunAsync"/>.
/// Storage failures in one pass are reported through <see cref="PassFailed"/> and the loop goes on.
/// </summary>
public sealed class WebhookDeliveryRunner
{
    private readonly WebhookDeliveryEngine _engine;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Creates the runner.</summary>
    public WebhookDeliveryRunner(WebhookDeliveryEngine engine, TimeProvider time, TimeSpan pollInterval)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pollInterval, TimeSpan.Zero);
        PollInterval = pollInterval;
    }

    /// <summary>The longest wait between two passes.</summary>
    public TimeSpan PollInterval { get; }

    /// <summary>Raised when a pass failed with a <see cref="WebhookException"/>.</summary>
    public event EventHandler<WebhookException>? PassFailed;

    /// <summary>Starts the next pass now instead of at the end of the wait.</summary>
    public void Wake()
    {
        lock (_signal)
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
    }

    /// <summary>Runs passes until <paramref name="cancellationToken"/> is cancelled (then returns normally).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _engine.DeliverPendingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (WebhookException e)
            {
                PassFailed?.Invoke(this, e);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(PollInterval, _time, wait.Token);
            var signal = _signal.WaitAsync(wait.Token);
            await Task.WhenAny(delay, signal).ConfigureAwait(false);
            await wait.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(delay, signal).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The loser of the race was cancelled.
            }
        }
    }
}
