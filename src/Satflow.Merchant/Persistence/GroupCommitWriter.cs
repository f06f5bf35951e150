using System.Data.Common;
using System.Threading.Channels;

namespace Satflow.Merchant.Persistence;

/// <summary>
/// Group commit for a single-writer database (SQLite): writes queue here; one loop takes every queued write (up to
/// <see cref="MaxBatch"/>), runs each inside its own savepoint of one transaction — a write that fails rolls back to its
/// savepoint and fails alone — then commits the batch once (one sync for the batch instead of one per write) and only
/// then completes each caller. A commit failure fails every write of the batch.
/// </summary>
internal sealed class GroupCommitWriter : IAsyncDisposable
{
    /// <summary>The most writes committed together.</summary>
    public const int MaxBatch = 512;

    private const string Savepoint = "gc_item";

    private readonly Channel<IItem> _queue = Channel.CreateUnbounded<IItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<Task<(DbConnection Connection, DbTransaction Transaction)>> _begin;
    private readonly Func<Exception, Exception> _storageFailure;
    private readonly Task _loop;

    /// <summary>Starts the writer loop.</summary>
    /// <param name="begin">Opens a connection and starts a write transaction.</param>
    /// <param name="storageFailure">Wraps an infrastructure failure (open, commit) into the typed error callers get.</param>
    public GroupCommitWriter(Func<Task<(DbConnection Connection, DbTransaction Transaction)>> begin, Func<Exception, Exception> storageFailure)
    {
        _begin = begin;
        _storageFailure = storageFailure;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>One queued write.</summary>
    internal interface IItem
    {
        CancellationToken CancellationToken { get; }

        Task RunAsync(DbConnection connection, DbTransaction transaction);

        /// <summary>Reports the outcome: the result, or the error recorded by <see cref="Fail"/>.</summary>
        void Complete();

        /// <summary>Records a failure (reported by <see cref="Complete"/>, after the batch's commit, so a caller that
        /// retries reads what the batch's other writes committed).</summary>
        void Fail(Exception error);

        /// <summary>Reports a failure at once.</summary>
        void FailNow(Exception error);

        bool Failed { get; }
    }

    /// <summary>A write returning <typeparamref name="T"/>.</summary>
    internal sealed class Item<T>(Func<DbConnection, DbTransaction, Task<T>> work, Func<Exception, Exception?> mapError, CancellationToken cancellationToken) : IItem
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _done.Task;

        public CancellationToken CancellationToken => cancellationToken;

        public bool Failed { get; private set; }

        public async Task RunAsync(DbConnection connection, DbTransaction transaction) => _result = await work(connection, transaction).ConfigureAwait(false);

        private Exception? _error;

        public void Complete()
        {
            if (_error is { } e)
            {
                FailNow(e);
            }
            else
            {
                _done.TrySetResult(_result);
            }
        }

        public void Fail(Exception error)
        {
            Failed = true;
            _error = error;
        }

        public void FailNow(Exception error)
        {
            Failed = true;
            if (error is OperationCanceledException)
            {
                _done.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : new CancellationToken(true));
                return;
            }

            _done.TrySetException(mapError(error) ?? error);
        }
    }

    /// <summary>Queues a write; its task completes after the batch holding it is committed.</summary>
    /// <param name="item">The write.</param>
    public void Enqueue(IItem item)
    {
        if (!_queue.Writer.TryWrite(item))
        {
            item.FailNow(new ObjectDisposedException(nameof(GroupCommitWriter), "The repository is closed."));
        }
    }

    private async Task LoopAsync()
    {
        var batch = new List<IItem>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
            {
                if (item.CancellationToken.IsCancellationRequested)
                {
                    item.FailNow(new OperationCanceledException(item.CancellationToken));
                }
                else
                {
                    batch.Add(item);
                }
            }

            if (batch.Count > 0)
            {
                await CommitBatchAsync(batch).ConfigureAwait(false);
            }
        }
    }

    private async Task CommitBatchAsync(List<IItem> batch)
    {
        DbConnection? connection = null;
        DbTransaction? transaction = null;
        try
        {
            (connection, transaction) = await _begin().ConfigureAwait(false);
            foreach (var item in batch)
            {
                await transaction.SaveAsync(Savepoint).ConfigureAwait(false);
                try
                {
                    await item.RunAsync(connection, transaction).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // Each write's own failure goes to its caller; the batch goes on.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    await transaction.RollbackAsync(Savepoint).ConfigureAwait(false);
                    item.Fail(e);
                }

                await transaction.ReleaseAsync(Savepoint).ConfigureAwait(false);
            }

            await transaction.CommitAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // An infrastructure failure fails the whole batch, never the loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            var error = _storageFailure(e);
            foreach (var item in batch)
            {
                if (item.Failed)
                {
                    item.Complete();
                }
                else
                {
                    item.FailNow(error);
                }
            }

            return;
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        foreach (var item in batch)
        {
            item.Complete();
        }
    }

    /// <summary>Stops taking writes and waits for the queued ones.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }
}
