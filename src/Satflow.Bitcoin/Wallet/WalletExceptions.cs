namespace Satflow.Bitcoin.Wallet;

/// <summary>Base class of every error the on-chain wallet reports. Callers can catch this one type.</summary>
public class WalletException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WalletException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public WalletException() : this("wallet error") { }

    /// <summary>Creates the exception.</summary>
    public WalletException(string message) : this(message, null) { }
}

/// <summary>The passphrase does not open the encrypted seed (wrong passphrase, or the ciphertext was altered).</summary>
public sealed class WalletPassphraseException : WalletException
{
    /// <summary>Creates the exception.</summary>
    public WalletPassphraseException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public WalletPassphraseException() : this("wrong wallet passphrase") { }

    /// <summary>Creates the exception.</summary>
    public WalletPassphraseException(string message) : this(message, null) { }
}

/// <summary>Stored wallet data (encrypted seed blob, database, mnemonic, descriptor) is malformed or of an unknown version.</summary>
public sealed class WalletFormatException : WalletException
{
    /// <summary>Creates the exception.</summary>
    public WalletFormatException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public WalletFormatException() : this("malformed wallet data") { }

    /// <summary>Creates the exception.</summary>
    public WalletFormatException(string message) : this(message, null) { }
}

/// <summary>The spendable coins do not cover the amount plus the fee at the requested rate.</summary>
public sealed class InsufficientFundsException : WalletException
{
    /// <summary>Creates the exception.</summary>
    public InsufficientFundsException(long neededSat, long availableSat)
        : base($"insufficient funds: need {neededSat} sat, {availableSat} sat spendable")
    {
        NeededSat = neededSat;
        AvailableSat = availableSat;
    }

    /// <summary>Creates the exception.</summary>
    public InsufficientFundsException() : this(0, 0) { }

    /// <summary>Creates the exception.</summary>
    public InsufficientFundsException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public InsufficientFundsException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Satoshis needed (amount + fee, or the fee alone when sending everything), as far as the wallet could tell.</summary>
    public long NeededSat { get; }

    /// <summary>Satoshis the eligible coins add up to.</summary>
    public long AvailableSat { get; }
}

/// <summary>A block does not fit the wallet's view of the chain (wrong parent, or a disconnect of a block it never saw).</summary>
public sealed class WalletSyncException : WalletException
{
    /// <summary>Creates the exception.</summary>
    public WalletSyncException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public WalletSyncException() : this("block does not connect to the wallet's chain") { }

    /// <summary>Creates the exception.</summary>
    public WalletSyncException(string message) : this(message, null) { }
}
