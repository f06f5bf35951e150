using System.Globalization;
using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Wallet;

/// <summary>The result of <see cref="WalletCommands.CreateAsync"/>.</summary>
/// <param name="Mnemonic">The BIP39 words, returned this one time only; the wallet stores them encrypted.</param>
/// <param name="Descriptors">The wallet's four output descriptors (no secrets).</param>
/// <param name="Tip">The block the wallet starts watching from.</param>
public sealed record WalletCreated(string Mnemonic, IReadOnlyList<string> Descriptors, ChainTip Tip)
{
    /// <inheritdoc />
    public override string ToString() => $"WalletCreated(*** , {Tip})";
}

/// <summary>The result of <see cref="WalletCommands.RestoreAsync"/>.</summary>
/// <param name="Balance">The balance found by the rescan.</param>
/// <param name="UnspentCount">How many unspent outputs were found.</param>
/// <param name="Tip">The block the rescan reached.</param>
public sealed record WalletRestored(WalletBalance Balance, int UnspentCount, ChainTip Tip);

/// <summary>
/// The wallet operations the command-line interface exposes, each self-contained: it opens the wallet in
/// <see cref="WalletOptions.DataDirectory"/>, catches up with the chain, does its work and closes the wallet again.
/// Text arguments are parsed here so every bad input becomes a <see cref="WalletException"/>.
/// </summary>
public sealed class WalletCommands
{
    private readonly WalletOptions _options;
    private readonly IChainSource _chain;
    private readonly IBroadcaster _broadcaster;

    /// <summary>Creates the command set.</summary>
    /// <param name="options">Network and data directory (required: commands work on a wallet on disk).</param>
    /// <param name="chain">The chain to sync with (devnet or Bitcoin Core RPC).</param>
    /// <param name="broadcaster">Where sends and bumps are broadcast.</param>
    public WalletCommands(WalletOptions options, IChainSource chain, IBroadcaster broadcaster)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(broadcaster);
        if (options.DataDirectory is null)
        {
            throw new WalletException("wallet commands need a data directory");
        }
        if (chain.Network != options.Network)
        {
            throw new WalletException($"the chain follows {chain.Network}, the wallet {options.Network}");
        }
        _options = options;
        _chain = chain;
        _broadcaster = broadcaster;
    }

    /// <summary><c>wallet create</c>: makes a new wallet and returns its mnemonic once.</summary>
    /// <param name="passphrase">Encrypts the seed on disk; asked again by every other command.</param>
    /// <param name="words">12 or 24.</param>
    /// <param name="bip39Passphrase">Optional BIP39 passphrase; without it a restore finds nothing.</param>
    /// <param name="cancellationToken">Cancels the initial sync.</param>
    public async Task<WalletCreated> CreateAsync(string passphrase, int words = 12, string bip39Passphrase = "", CancellationToken cancellationToken = default)
    {
        var creation = OnChainWallet.Create(_options, passphrase, _broadcaster, words, bip39Passphrase);
        using var wallet = creation.Wallet;
        var tip = await wallet.SyncAsync(_chain, cancellationToken).ConfigureAwait(false);
        return new WalletCreated(creation.Mnemonic, wallet.Descriptors, tip);
    }

    /// <summary><c>wallet restore</c>: rebuilds a wallet from its mnemonic in an empty data directory and rescans.</summary>
    /// <param name="mnemonic">The BIP39 words.</param>
    /// <param name="passphrase">The new at-rest passphrase.</param>
    /// <param name="bip39Passphrase">The BIP39 passphrase used when the wallet was created (empty if none).</param>
    /// <param name="fromHeight">First block to scan (the wallet's birthday; 0 scans everything).</param>
    /// <param name="progress">Receives per-block progress.</param>
    /// <param name="cancellationToken">Cancels the rescan (it can be repeated).</param>
    public async Task<WalletRestored> RestoreAsync(string mnemonic, string passphrase, string bip39Passphrase = "", int fromHeight = 0, IProgress<RescanProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var wallet = OnChainWallet.Restore(_options, mnemonic, passphrase, _broadcaster, bip39Passphrase);
        await wallet.RescanAsync(_chain, fromHeight, progress, cancellationToken).ConfigureAwait(false);
        return new WalletRestored(wallet.GetBalance(), wallet.ListUnspent().Count, wallet.Tip ?? await _chain.GetTipAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary><c>wallet new-address</c>: the next receive address.</summary>
    /// <param name="passphrase">The at-rest passphrase.</param>
    /// <param name="type"><c>p2wpkh</c> (bech32, default) or <c>p2tr</c> (bech32m).</param>
    /// <param name="cancellationToken">Cancels the sync.</param>
    public Task<string> NewAddressAsync(string passphrase, string type = "p2wpkh", CancellationToken cancellationToken = default)
    {
        var addressType = ParseAddressType(type);
        return WithWalletAsync(passphrase, w => Task.FromResult(w.GetNewAddress(addressType).Address), cancellationToken);
    }

    /// <summary><c>wallet balance</c>: confirmed, unconfirmed and immature balance after catching up with the chain.</summary>
    public Task<WalletBalance> BalanceAsync(string passphrase, CancellationToken cancellationToken = default) =>
        WithWalletAsync(passphrase, w => Task.FromResult(w.GetBalance()), cancellationToken);

    /// <summary><c>wallet list-unspent</c>: the unspent outputs, largest first.</summary>
    public Task<IReadOnlyList<WalletUtxo>> ListUnspentAsync(string passphrase, CancellationToken cancellationToken = default) =>
        WithWalletAsync(passphrase, w => Task.FromResult(w.ListUnspent()), cancellationToken);

    /// <summary><c>wallet send</c>: pays an address and broadcasts.</summary>
    /// <param name="passphrase">The at-rest passphrase.</param>
    /// <param name="address">Destination address of the wallet's network.</param>
    /// <param name="amount">Satoshis as an integer (<c>150000</c>), bitcoins with a unit (<c>0.0015btc</c>), or <c>all</c>.</param>
    /// <param name="feeRateSatPerVb">Fee rate in sat/vB (fractions allowed, at least 1).</param>
    /// <param name="rbf">Signal replaceability (default true) so <see cref="BumpFeeAsync"/> works.</param>
    /// <param name="cancellationToken">Cancels the sync or broadcast.</param>
    public Task<SendResult> SendAsync(string passphrase, string address, string amount, decimal feeRateSatPerVb, bool rbf = true, CancellationToken cancellationToken = default)
    {
        var destination = ParseAddress(address, _options.Network);
        var sendAmount = ParseAmount(amount);
        var rate = ParseFeeRate(feeRateSatPerVb);
        return WithWalletAsync(passphrase, w => w.SendAsync(destination, sendAmount, rate, rbf, cancellationToken), cancellationToken);
    }

    /// <summary><c>wallet bump-fee</c>: replaces an unconfirmed own transaction at a higher rate (BIP125).</summary>
    /// <param name="passphrase">The at-rest passphrase.</param>
    /// <param name="txid">The transaction id (hex).</param>
    /// <param name="feeRateSatPerVb">The new rate in sat/vB; must be above the current one.</param>
    /// <param name="cancellationToken">Cancels the sync or broadcast.</param>
    public Task<SendResult> BumpFeeAsync(string passphrase, string txid, decimal feeRateSatPerVb, CancellationToken cancellationToken = default)
    {
        if (!uint256.TryParse(txid, out var id))
        {
            throw new WalletException($"'{txid}' is not a transaction id");
        }
        var rate = ParseFeeRate(feeRateSatPerVb);
        return WithWalletAsync(passphrase, w => w.BumpFeeAsync(id, rate, cancellationToken), cancellationToken);
    }

    /// <summary>Parses <c>p2wpkh</c>/<c>wpkh</c>/<c>bech32</c> or <c>p2tr</c>/<c>tr</c>/<c>taproot</c>/<c>bech32m</c>.</summary>
    public static AddressType ParseAddressType(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "p2wpkh" or "wpkh" or "bech32" or "segwit" => AddressType.P2wpkh,
        "p2tr" or "tr" or "taproot" or "bech32m" => AddressType.P2tr,
        _ => throw new WalletException($"unknown address type '{text}' (use p2wpkh or p2tr)"),
    };

    /// <summary>Parses <c>all</c>, an integer number of satoshis, or a decimal with a <c>btc</c> or <c>sat</c> suffix.</summary>
    public static SendAmount ParseAmount(string text)
    {
        var t = text?.Trim().ToLowerInvariant() ?? string.Empty;
        if (t == "all")
        {
            return SendAmount.All;
        }
        decimal sats;
        if (t.EndsWith("btc", StringComparison.Ordinal) && decimal.TryParse(t[..^3], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var btc))
        {
            sats = btc * 100_000_000m;
        }
        else if (!decimal.TryParse(t.EndsWith("sat", StringComparison.Ordinal) ? t[..^3] : t, NumberStyles.None, CultureInfo.InvariantCulture, out sats))
        {
            throw new WalletException($"'{text}' is not an amount (satoshis, '<n>btc' or 'all')");
        }
        if (sats != decimal.Truncate(sats) || sats <= 0 || sats > 21_000_000m * 100_000_000m)
        {
            throw new WalletException($"'{text}' is not a positive whole number of satoshis within 21M BTC");
        }
        return SendAmount.Of(Money.Satoshis((long)sats));
    }

    /// <summary>Converts sat/vB to a fee rate; at least 1 sat/vB, at most 100,000 sat/vB, 3 decimals.</summary>
    public static FeeRate ParseFeeRate(decimal satPerVb)
    {
        if (satPerVb < 1m || satPerVb > 100_000m)
        {
            throw new WalletException($"fee rate {satPerVb} sat/vB is outside 1..100000");
        }
        return new FeeRate(Money.Satoshis((long)decimal.Round(satPerVb * 1000m, MidpointRounding.AwayFromZero)));
    }

    /// <summary>Parses an address of <paramref name="network"/>.</summary>
    public static BitcoinAddress ParseAddress(string text, Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        try
        {
            return BitcoinAddress.Create(text?.Trim() ?? string.Empty, network);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException)
        {
            throw new WalletException($"'{text}' is not a {network} address", ex);
        }
    }

    private async Task<T> WithWalletAsync<T>(string passphrase, Func<OnChainWallet, Task<T>> action, CancellationToken cancellationToken)
    {
        using var wallet = OnChainWallet.Open(_options, passphrase, _broadcaster);
        await wallet.SyncAsync(_chain, cancellationToken).ConfigureAwait(false);
        return await action(wallet).ConfigureAwait(false);
    }
}
