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
/// Watch-only addresses derived from an account descriptor (<c>wpkh([fp/84h/1h/0h]tpub.../0/*)#checksum</c>). A file
/// in the data directory holds the first index not yet reserved. Indexes are reserved in blocks of
/// <see cref="ReserveAhead"/>: the new high-water mark is written (and flushed to disk) <em>before</em> any index of the
/// block is handed out, and handing out is then a counter increment; so a restart (or crash) never hands out an address
/// twice — it skips at most the rest of the block, which is why the block is kept at most the usual gap limit of 20.
/// Handing out takes a short lock; derivation (one BIP 32 step from the chain key <see cref="HdAccount"/> caches) runs outside it.
/// </summary>
public sealed class DescriptorAddressSource : IOnChainAddressSource
{
    /// <summary>The reservation block the server uses: the BIP 44 gap limit, so a crash leaves a gap a restoring wallet still scans past.</summary>
    public const int DefaultReserveAhead = 20;

    private readonly HdAccount _account;
    private readonly KeyChain _chain;
    private readonly Network _network;
    private readonly string _indexFile;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _reserve = new(1, 1);
    private int _next = -1;
    private int _reservedUpTo = -1;

    /// <summary>Creates the source.</summary>
    /// <param name="descriptor">The descriptor text with its checksum.</param>
    /// <param name="network">The network the addresses are for.</param>
    /// <param name="indexFile">File holding the first index not yet reserved.</param>
    /// <param name="reserveAhead">How many indexes one write of the file reserves (1: a write per address).</param>
    /// <exception cref="WalletFormatException">The descriptor is malformed.</exception>
    public DescriptorAddressSource(string descriptor, Network network, string indexFile, int reserveAhead = 1)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(indexFile);
        ArgumentOutOfRangeException.ThrowIfLessThan(reserveAhead, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(reserveAhead, 1000);
        var parsed = WalletDescriptor.Parse(descriptor, network);
        _account = HdAccount.FromDescriptor(parsed);
        _chain = parsed.Chain;
        _network = network;
        _indexFile = indexFile;
        ReserveAhead = reserveAhead;

    }

    /// <inheritdoc />
    public string Description => $"watch-only descriptor ({_account.Type}, {_network.ChainName})";

    /// <summary>How many indexes one write of the index file reserves.</summary>
    public int ReserveAhead { get; }

    /// <summary>The index the next address will use (after a restart: the first index the previous run had not reserved).</summary>
    public int NextIndex
    {
        get
        {
            lock (_gate)
            {
                if (_next >= 0 && _next < _reservedUpTo)
                {
                    return _next;
                }
            }

            return ReadIndex();
        }
    }

    /// <inheritdoc />
    public async Task<string> NextAddressAsync(CancellationToken cancellationToken = default)
    {
        int index;
        while (!TryTake(out index))
        {
            // The block is used up: one caller reserves the next block (a file write) while the others wait for it.
            await _reserve.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                int handedOut;
                lock (_gate)
                {
                    if (_next >= 0 && _next < _reservedUpTo)
                    {
                        continue;
                    }

                    handedOut = _next;
                }

                // Start at the persisted high-water mark (never below what this instance handed out), persist the end
                // of the block, and only then make its indexes available.
                var start = Math.Max(ReadIndex(), handedOut);
                if (start >= int.MaxValue - 1)
                {
                    throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "The descriptor's address indexes are exhausted.");
                }

                var end = (int)Math.Min((long)start + ReserveAhead, int.MaxValue - 1);
                WriteIndex(end);
                lock (_gate)
                {
                    _next = start;
                    _reservedUpTo = end;
                }
            }
            finally
            {
                _reserve.Release();
            }
        }

        return _account.ScriptPubKey(_chain, index).GetDestinationAddress(_network)!.ToString();
    }

    private bool TryTake(out int index)
    {
        lock (_gate)
        {
            if (_next >= 0 && _next < _reservedUpTo)
            {
                index = _next++;
                return true;
            }
        }

        index = -1;
        return false;
    }

    private void WriteIndex(int value)
    {
        var temp = _indexFile + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(System.Text.Encoding.ASCII.GetBytes(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, _indexFile, overwrite: true);
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
