namespace Satflow.Lightning.Transactions.Sweeps;

/// <summary>Why a claim (sweep, penalty, CPFP) transaction could not be built.</summary>
public enum SweepFailure
{
    /// <summary>After the fee, the output would be below the dust limit.</summary>
    OutputBelowDust,

    /// <summary>A given private key does not match the key the output script commits to.</summary>
    KeyMismatch,

    /// <summary>The payment preimage does not hash to the HTLC's payment hash.</summary>
    PreimageMismatch,

    /// <summary>The commitment has no output the requested claim can spend.</summary>
    NothingToClaim,

    /// <summary>The inputs cannot pay the required fee.</summary>
    InsufficientFunds,
}

/// <summary>A claim transaction could not be built; <see cref="Reason"/> says why.</summary>
public sealed class SweepException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why building failed.</param>
    /// <param name="message">A human-readable explanation.</param>
    public SweepException(SweepFailure reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Why building failed.</summary>
    public SweepFailure Reason { get; }
}
