using System.Data.Common;
using System.Threading.Channels;

namespace Satflow.Merchant.Persistence;

/// <summary>
/// Group commit for a single-writer database (SQLite): writes queue here; one loop takes every queued write (up to
/// <see cref="MaxBatch"/>), runs each inside its own savepoint of one transaction — a write that fails rolls back to its
/// savepoint and fails alone — then commits the batch once (one sync for the batch instead of one per write) and only
/// then completes each caller. A commit failure fails every write of the batch.
/// The writer keeps one connection open across batches with a <see cref="PreparedCommands"/> cache, so each SQL text
/// (the savepoint statements included) is prepared once per connection instead of once per write; the connection is
/// dropped and reopened after an infrastructure failure.
/// </summary>
internal sealed class GroupCommitWriter : IAsyncDisposable
{
    /// <summary>The most writes committed together.</summary>
    public const int MaxBatch = 512;

    private const string Savepoint = "gc_item";

    private readonly Channel<IItem> _queue = Channel.CreateUnbounded<IItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<Task<DbConnection>> _open;
    private readonly Func<DbConnection, Task<DbTransaction>> _begin;
    private readonly Func<Exception, Exception> _storageFailure;
    private readonly Task _loop;
    private DbConnection? _connection;
    private PreparedCommands? _commands;

    /// <summary>Starts the writer loop.</summary>
    /// <param name="open">Opens the writer's connection.</param>
    /// <param name="begin">Starts a write transaction on it.</param>
    /// <param name="storageFailure">Wraps an infrastructure failure (open, commit) into the typed error callers get.</param>
    public GroupCommitWriter(Func<Task<DbConnection>> open, Func<DbConnection, Task<DbTransaction>> begin, Func<Exception, Exception> storageFailure)
    {
        _open = open;
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
        DbTransaction? transaction = null;
        try
        {
            if (_connection is null)
            {
                _connection = await _open().ConfigureAwait(false);
                _commands = PreparedCommands.Attach(_connection);
            }

            var connection = _connection;
            var commands = _commands!;
            transaction = await _begin(connection).ConfigureAwait(false);
            foreach (var item in batch)
            {
                await commands.Get(connection, transaction, "SAVEPOINT " + Savepoint).ExecuteNonQueryAsync().ConfigureAwait(false);
                try
                {
                    await item.RunAsync(connection, transaction).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // Each write's own failure goes to its caller; the batch goes on.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    await commands.Get(connection, transaction, "ROLLBACK TO " + Savepoint).ExecuteNonQueryAsync().ConfigureAwait(false);
                    item.Fail(e);
                }

                await commands.Get(connection, transaction, "RELEASE " + Savepoint).ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await transaction.CommitAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // An infrastructure failure fails the whole batch, never the loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                transaction = null;
            }

            // The connection may be unusable: the next batch opens a fresh one.
            await CloseConnectionAsync().ConfigureAwait(false);
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
        }

        foreach (var item in batch)
        {
            item.Complete();
        }
    }

    private async Task CloseConnectionAsync()
    {
        var connection = _connection;
        _connection = null;
        _commands?.Dispose();
        _commands = null;
        if (connection is not null)
        {
            PreparedCommands.Detach(connection);
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Closing a broken connection must not take the writer down.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <summary>Stops taking writes and waits for the queued ones.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        await CloseConnectionAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// The prepared commands of one connection (the group-commit writer's), one per SQL text: a command is prepared at its
/// first use and then only re-bound and re-executed. Used from the writer loop only (one write at a time), so it needs
/// no lock. Callers must not dispose the commands they get.
/// </summary>
internal sealed class PreparedCommands : IDisposable
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbConnection, PreparedCommands> Attached = new();

    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>The most distinct SQL texts kept (the repository has a fixed set; dynamic SQL beyond it is not cached).</summary>
    public const int MaxCommands = 256;

    /// <summary>Attaches a cache to a connection.</summary>
    public static PreparedCommands Attach(DbConnection connection)
    {
        var commands = new PreparedCommands();
        Attached.AddOrUpdate(connection, commands);
        return commands;
    }

    /// <summary>Forgets a connection's cache.</summary>
    public static void Detach(DbConnection connection) => Attached.Remove(connection);

    /// <summary>The cache of a connection, or null for a connection without one.</summary>
    public static PreparedCommands? Of(DbConnection connection) => Attached.TryGetValue(connection, out var c) ? c : null;

    /// <summary>The command for a SQL text (bound to <paramref name="transaction"/>), or null when the cache is full.</summary>
    public DbCommand? TryGet(DbConnection connection, DbTransaction? transaction, string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            if (_commands.Count >= MaxCommands)
            {
                return null;
            }

            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        command.Transaction = transaction;
        return command;
    }

    /// <summary>The command for a fixed SQL text without parameters.</summary>
    public DbCommand Get(DbConnection connection, DbTransaction transaction, string sql)
        => TryGet(connection, transaction, sql) ?? throw new InvalidOperationException("The prepared command cache is full.");

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}
