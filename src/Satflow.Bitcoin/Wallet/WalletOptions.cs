using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>How a wallet is stored and behaves.</summary>
public sealed record WalletOptions
{
    /// <summary>Creates options for a network; <paramref name="dataDirectory"/> null keeps everything in memory (tests).</summary>
    public WalletOptions(Network network, string? dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(network);
        Network = network;
        DataDirectory = dataDirectory;
    }

    /// <summary>The network (coin type 0 on mainnet, 1 on testnet, signet and regtest).</summary>
    public Network Network { get; }

    /// <summary>The directory holding <c>wallet.db</c>, or null for an in-memory wallet that vanishes when disposed.</summary>
    public string? DataDirectory { get; }

    /// <summary>How many unused addresses are watched beyond the last used (or handed-out) one on each chain. Default 20.</summary>
    public int GapLimit { get; init; } = 20;

    /// <summary>PBKDF2 iterations for a new encrypted seed. Default 600,000; lower it only in tests.</summary>
    public int KdfIterations { get; init; } = SeedVault.DefaultIterations;

    /// <summary>The rate expected for spending change later; coin selection's waste metric uses it. Default 10 sat/vB.</summary>
    public FeeRate LongTermFeeRate { get; init; } = new(Money.Satoshis(10_000));

    /// <summary>Confirmations a received coin needs before <see cref="OnChainWallet.SendAsync"/> spends it. Default 1.</summary>
    public int MinConfirmations { get; init; } = 1;

    /// <summary>Randomness for coin selection and change position; null uses <see cref="Random.Shared"/>.</summary>
    public Random? Random { get; init; }
}

/// <summary>What to send: a fixed amount, or everything the wallet can spend (no change).</summary>
public readonly record struct SendAmount
{
    private SendAmount(Money? amount) => Amount = amount;

    /// <summary>The amount, or null for "all".</summary>
    public Money? Amount { get; }

    /// <summary>Whether every spendable coin is swept.</summary>
    public bool IsAll => Amount is null;

    /// <summary>Send everything.</summary>
    public static SendAmount All => new(null);

    /// <summary>Send a fixed, positive amount.</summary>
    public static SendAmount Of(Money amount)
    {
        ArgumentNullException.ThrowIfNull(amount);
        if (amount <= Money.Zero)
        {
            throw new WalletException("the amount must be positive");
        }
        return new SendAmount(amount);
    }

    /// <inheritdoc />
    public override string ToString() => Amount is null ? "all" : Amount.ToString();
}

/// <summary>A payment output of a funded PSBT.</summary>
/// <param name="ScriptPubKey">Where to pay.</param>
/// <param name="Amount">How much.</param>
public sealed record PaymentOutput(Script ScriptPubKey, Money Amount);
