using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Rpc;

/// <summary>Settings for <see cref="BitcoinCoreRpcClient"/>.</summary>
public sealed class BitcoinCoreRpcClientOptions
{
    /// <summary>
    /// Credentials. When null, the user and password in the URL (<c>http://user:pass@host:port</c>) are used; when the URL
    /// has none either, requests go out unauthenticated.
    /// </summary>
    public RpcCredentials? Credentials { get; init; }

    /// <summary>
    /// Retries for calls whose connection could not be established (nothing was sent, so every method is safe to retry).
    /// Null (the default) disables retries.
    /// </summary>
    public RpcRetryPolicy? Retry { get; init; }

    /// <summary>Timeout of one HTTP request, used only when the client creates its own <see cref="HttpClient"/>.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Fee rates used when <c>estimatesmartfee</c> has no estimate (regtest, a fresh node) or Core refuses the call.
    /// Missing targets fall back to <see cref="DefaultFallbackFeeRate"/>.
    /// </summary>
    public IReadOnlyDictionary<ConfirmationTarget, FeeRatePerKw> FallbackFeeRates { get; init; } = new Dictionary<ConfirmationTarget, FeeRatePerKw>
    {
        [ConfirmationTarget.Urgent] = new(2500),
        [ConfirmationTarget.Normal] = new(1000),
        [ConfirmationTarget.Economy] = new(500),
        [ConfirmationTarget.Background] = FeeRatePerKw.Floor,
    };

    /// <summary>The fallback for a target missing from <see cref="FallbackFeeRates"/>: 1000 sat/kw.</summary>
    public FeeRatePerKw DefaultFallbackFeeRate { get; init; } = new(1000);
}

/// <summary>Retry policy for connection failures: exponential backoff starting at <paramref name="InitialDelay"/>.</summary>
/// <param name="MaxAttempts">Total attempts including the first (at least 1).</param>
/// <param name="InitialDelay">Delay before the second attempt; doubled for each further attempt.</param>
/// <param name="TimeProvider">The clock the delays are taken on (the library never reads the clock itself).</param>
public sealed record RpcRetryPolicy(int MaxAttempts, TimeSpan InitialDelay, TimeProvider TimeProvider);
