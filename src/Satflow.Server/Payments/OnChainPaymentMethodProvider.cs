using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;

namespace Satflow.Server.Payments;

/// <summary>Where fresh on-chain receive addresses come from (the node's wallet, or a watch-only descriptor).</summary>
public interface IOnChainAddressSource
{
    /// <summary>A short description for logs and <c>/health</c> (never contains key material).</summary>
    string Description { get; }

    /// <summary>Returns an address that has not been handed out before.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The address string.</returns>
    Task<string> NextAddressAsync(CancellationToken cancellationToken = default);
}

/// <summary>Addresses from the node's own <see cref="OnChainWallet"/> (BIP 84 receive chain).</summary>
public sealed class WalletAddressSource : IOnChainAddressSource
{
    private readonly OnChainWallet _wallet;

    /// <summary>Creates the source.</summary>
    /// <param name="wallet">The unlocked wallet.</param>
    public WalletAddressSource(OnChainWallet wallet)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        _wallet = wallet;
    }

    /// <inheritdoc />
    public string Description => "node wallet";

    /// <inheritdoc />
    public Task<string> NextAddressAsync(CancellationToken cancellationToken = default)
        => Task.FromResult(_wallet.GetNewAddress(AddressType.P2wpkh).Address);
}

/// <summary>
/// Watch-only addresses derived from an account descriptor (<c>wpkh([fp/84h/1h/0h]tpub.../0/*)#checksum</c>). The next
/// index is kept in a file in the data directory and advanced (flushed to disk) before an address is returned, so a
/// restart never hands out an address twice.
/// </summary>
public sealed class DescriptorAddressSource : IOnChainAddressSource
{
    private readonly HdAccount _account;
    private readonly KeyChain _chain;
    private readonly Network _network;
    private readonly string _indexFile;
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <summary>Creates the source.</summary>
    /// <param name="descriptor">The descriptor text with its checksum.</param>
    /// <param name="network">The network the addresses are for.</param>
    /// <param name="indexFile">File holding the next unused index.</param>
    /// <exception cref="WalletFormatException">The descriptor is malformed.</exception>
    public DescriptorAddressSource(string descriptor, Network network, string indexFile)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(indexFile);
        var parsed = WalletDescriptor.Parse(descriptor, network);
        _account = HdAccount.FromDescriptor(parsed);
        _chain = parsed.Chain;
        _network = network;
        _indexFile = indexFile;
    }

    /// <inheritdoc />
    public string Description => $"watch-only descriptor ({_account.Type}, {_network.ChainName})";

    /// <summary>The index the next address will use.</summary>
    public int NextIndex => ReadIndex();

    /// <inheritdoc />
    public async Task<string> NextAddressAsync(CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var index = ReadIndex();
            if (index >= int.MaxValue - 1)
            {
                throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "The descriptor's address indexes are exhausted.");
            }

            var temp = _indexFile + ".tmp";
            await File.WriteAllTextAsync(temp, (index + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            File.Move(temp, _indexFile, overwrite: true);
            return _account.ScriptPubKey(_chain, index).GetDestinationAddress(_network)!.ToString();
        }
        finally
        {
            _lock.Release();
        }
    }

    private int ReadIndex()
    {
        if (!File.Exists(_indexFile))
        {
            return 0;
        }

        var text = File.ReadAllText(_indexFile).Trim();
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i >= 0
            ? i
            : throw new MerchantException(MerchantErrorReason.InvalidConfiguration, $"The address index file {_indexFile} is corrupt.");
    }
}

/// <summary>The merchant's on-chain payment method: each invoice gets a fresh address from an <see cref="IOnChainAddressSource"/>.</summary>
public sealed class OnChainPaymentMethodProvider : IPaymentMethodProvider
{
    private readonly IOnChainAddressSource _addresses;

    /// <summary>Creates the provider.</summary>
    /// <param name="addresses">The address source.</param>
    public OnChainPaymentMethodProvider(IOnChainAddressSource addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        _addresses = addresses;
    }

    /// <inheritdoc />
    public PaymentMethodId Method => PaymentMethodId.OnChain;

    /// <inheritdoc />
    public async Task<PaymentPrompt> CreatePromptAsync(PaymentPromptRequest request, CancellationToken cancellationToken = default)
        => new(PaymentMethodId.OnChain, await _addresses.NextAddressAsync(cancellationToken).ConfigureAwait(false), null);
}
