namespace Satflow.Payouts;

/// <summary>
/// The schedule a host runs for one <see cref="PayoutProcessor"/>: <see cref="PayoutProcessor.RunOnceAsync"/> with the
/// injected <see cref="TimeProvider"/>'s time, then a wait of <see cref="Interval"/> on that provider. It starts no
/// thread; the host awaits <see cref="RunAsync"/>. Failed runs are reported through <see cref="RunFailed"/> and the
/// schedule goes on (payouts in progress are reconciled by the next run).
/// </summary>
public sealed class PayoutProcessorRunner
{
    private readonly PayoutProcessor _processor;
    private readonly TimeProvider _time;

    /// <summary>Creates the runner.</summary>
    public PayoutProcessorRunner(PayoutProcessor processor, TimeProvider time, TimeSpan interval)
    {
        _processor = processor ?? throw new ArgumentNullException(nameof(processor));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        Interval = interval;
    }

    /// <summary>The wait between two runs.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Raised after every successful run.</summary>
    public event EventHandler<PayoutProcessorReport>? RunCompleted;

    /// <summary>Raised when a run failed with a <see cref="PayoutsException"/>.</summary>
    public event EventHandler<PayoutsException>? RunFailed;

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled (then returns normally); the lease is
    /// released on the way out.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                RunCompleted?.Invoke(this, await _processor.RunOnceAsync(_time.GetUtcNow(), cancellationToken).ConfigureAwait(false));
                await Task.Delay(Interval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (PayoutsException e)
            {
                RunFailed?.Invoke(this, e);
                await DelayQuietlyAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }

        try
        {
            await _processor.ReleaseLeaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (PayoutsException e)
        {
            RunFailed?.Invoke(this, e);
        }
    }

    private async Task DelayQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Interval, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
