using System.Globalization;
using System.Net;
using NBitcoin;
using Satflow.Devnet.Rpc;

namespace Satflow.Devnet;

/// <summary>Options of a <see cref="DevnetHost"/> (what <c>satflow devnet start</c> takes).</summary>
public sealed class DevnetHostOptions
{
    /// <summary>Data directory (<c>--datadir</c>); null keeps the chain in memory.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>RPC bind address (<c>--rpcbind</c>); 127.0.0.1:18443 by default. Port 0 picks a free port.</summary>
    public IPEndPoint RpcBind { get; init; } = new(IPAddress.Loopback, DevnetRpcOptions.DefaultPort);

    /// <summary>RPC user (<c>--rpcuser</c>); with neither user nor password a cookie file is written.</summary>
    public string? RpcUser { get; init; }

    /// <summary>RPC password (<c>--rpcpassword</c>).</summary>
    public string? RpcPassword { get; init; }

    /// <summary>Mine a block every interval (<c>--block-interval</c>); null mines only on request.</summary>
    public TimeSpan? BlockInterval { get; init; }

    /// <summary>Where timer-mined blocks pay; defaults to an anyone-can-spend P2WSH(OP_TRUE) output.</summary>
    public Script? BlockPayoutScript { get; init; }

    /// <summary>Allow a non-loopback RPC bind.</summary>
    public bool AllowNonLoopbackBind { get; init; }

    /// <summary>The clock for the chain and the block timer.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Parses <c>HOST:PORT</c> (or <c>[v6]:PORT</c>, or a bare host with the default port) as <c>--rpcbind</c> does.</summary>
    /// <exception cref="FormatException">The text is not an IP endpoint.</exception>
    public static IPEndPoint ParseRpcBind(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string host;
        var port = DevnetRpcOptions.DefaultPort;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Invalid RPC bind address '{text}'.");
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                port = rest[0] == ':' ? ParsePort(rest[1..], text) : throw new FormatException($"Invalid RPC bind address '{text}'.");
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            port = ParsePort(text[(colon + 1)..], text);
        }
        else
        {
            host = text;
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        return IPAddress.TryParse(host, out var address)
            ? new IPEndPoint(address, port)
            : throw new FormatException($"Invalid RPC bind address '{text}'.");
    }

    private static int ParsePort(string text, string whole) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw new FormatException($"Invalid port in RPC bind address '{whole}'.");
}

/// <summary>
/// Runs a devnet: opens the chain, serves JSON-RPC, and optionally mines on a timer. <see cref="Completion"/> finishes
/// when a client calls <c>stop</c> or <see cref="StopAsync"/> runs.
/// </summary>
/// <example>
/// <code>
/// await using var host = new DevnetHost(new DevnetHostOptions { DataDirectory = dir, BlockInterval = TimeSpan.FromSeconds(10) });
/// await host.StartAsync();
/// await host.Completion;
/// </code>
/// </example>
public sealed class DevnetHost : IAsyncDisposable
{
    private readonly DevnetHostOptions _options;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _timerCancellation;
    private Task? _timerTask;
    private int _stopped;

    /// <summary>Creates a host; nothing runs until <see cref="StartAsync"/>.</summary>
    public DevnetHost(DevnetHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>The chain (after <see cref="StartAsync"/>).</summary>
    public DevnetChain Chain => ChainOrNull ?? throw new InvalidOperationException("The devnet host is not started.");

    private DevnetChain? ChainOrNull { get; set; }

    /// <summary>The RPC server (after <see cref="StartAsync"/>).</summary>
    public DevnetRpcServer Rpc => RpcOrNull ?? throw new InvalidOperationException("The devnet host is not started.");

    private DevnetRpcServer? RpcOrNull { get; set; }

    /// <summary>Completes once the host has stopped (RPC <c>stop</c> or <see cref="StopAsync"/>).</summary>
    public Task Completion => _completion.Task;

    /// <summary>The last error the block timer met while mining, if any.</summary>
    public Exception? LastTimerError { get; private set; }

    /// <summary>Opens the chain, starts RPC and the optional block timer.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (ChainOrNull is not null)
        {
            throw new InvalidOperationException("The devnet host is already started.");
        }

        var chain = DevnetChain.Open(new DevnetOptions { DataDirectory = _options.DataDirectory, TimeProvider = _options.TimeProvider });
        try
        {
            RpcOrNull = await DevnetRpcServer.StartAsync(
                chain,
                new DevnetRpcOptions
                {
                    BindAddress = _options.RpcBind.Address,
                    Port = _options.RpcBind.Port,
                    User = _options.RpcUser,
                    Password = _options.RpcPassword,
                    AllowNonLoopbackBind = _options.AllowNonLoopbackBind,
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            chain.Dispose();
            throw;
        }

        ChainOrNull = chain;
        if (_options.BlockInterval is { } interval && interval > TimeSpan.Zero)
        {
            _timerCancellation = new CancellationTokenSource();
            _timerTask = MineOnTimerAsync(interval, _timerCancellation.Token);
        }

        _ = RpcOrNull.StopRequested.ContinueWith(_ => StopAsync(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task MineOnTimerAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        var payout = _options.BlockPayoutScript ?? new Script(OpcodeType.OP_TRUE).WitHash.ScriptPubKey;
        using var timer = new PeriodicTimer(interval, _options.TimeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await Chain.MineBlocksAsync(1, payout, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidOperationException ex)
                {
                    LastTimerError = ex;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Stops the timer and the RPC server, closes the chain and completes <see cref="Completion"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            await _completion.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            if (_timerCancellation is not null)
            {
                await _timerCancellation.CancelAsync().ConfigureAwait(false);
                if (_timerTask is not null)
                {
                    await _timerTask.ConfigureAwait(false);
                }

                _timerCancellation.Dispose();
            }

            if (RpcOrNull is not null)
            {
                // Let the reply to `stop` leave before the listener closes.
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                await RpcOrNull.StopAsync(cancellationToken).ConfigureAwait(false);
            }

            ChainOrNull?.Dispose();
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
