using NBitcoin;

namespace Satflow.Devnet;

/// <summary>How a <see cref="DevnetChain"/> is opened.</summary>
public sealed class DevnetOptions
{
    /// <summary>
    /// Directory holding <c>devnet.sqlite</c> (and the RPC cookie when a host runs). Null keeps everything in memory
    /// (an in-memory SQLite database), for tests.
    /// </summary>
    public string? DataDirectory { get; init; }

    /// <summary>The clock: block timestamps, <c>time-too-new</c>, mempool entry times. Defaults to the system clock.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Minimum relay fee rate (Core's <c>-minrelaytxfee</c>, default 1 sat/vB).</summary>
    public FeeRate MinRelayFeeRate { get; init; } = new(Money.Satoshis(1000));

    /// <summary>Incremental relay fee rate for replacements (Core's <c>-incrementalrelayfee</c>, default 1 sat/vB).</summary>
    public FeeRate IncrementalRelayFeeRate { get; init; } = new(Money.Satoshis(1000));

    /// <summary>Fee rate <c>estimatesmartfee</c> answers when recent blocks and the mempool give no data.</summary>
    public FeeRate FallbackFeeRate { get; init; } = new(Money.Satoshis(1000));

    /// <summary>
    /// When true, any mempool transaction may be replaced (Core 28's default <c>-mempoolfullrbf=1</c>); the default false
    /// follows Core 27: only transactions that signal BIP125 may be replaced.
    /// </summary>
    public bool FullReplaceByFee { get; init; }

    /// <summary>
    /// How many cores verify a block's scripts in parallel (default: all of them; 1 verifies on the calling thread
    /// only). Mempool acceptance always verifies on the calling thread.
    /// </summary>
    public int ScriptVerificationThreads { get; init; } = Environment.ProcessorCount;
}
