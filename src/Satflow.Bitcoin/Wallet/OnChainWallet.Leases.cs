using NBitcoin;
using NBitcoin.Crypto;

namespace Satflow.Bitcoin.Wallet;

/// <summary>A coin the wallet holds back from coin selection.</summary>
/// <param name="OutPoint">The coin.</param>
/// <param name="ExpiresAtHeight">The lease ends once the wallet's tip reaches this height; null: until released.</param>
public sealed record CoinLease(OutPoint OutPoint, int? ExpiresAtHeight);

/// <summary>
/// A confirmed P2WPKH wallet coin lent to a transaction the wallet does not build itself (an anchor CPFP child, a
/// zero-fee HTLC transaction): it stays leased (out of coin selection) until <see cref="LeasedUntilHeight"/>.
/// </summary>
/// <param name="OutPoint">The coin.</param>
/// <param name="Output">The coin's output (value and P2WPKH script).</param>
/// <param name="PubKey">The coin's compressed public key.</param>
/// <param name="ChangeScript">A P2WPKH script of the wallet's change chain receiving what the fee leaves of the coin.</param>
/// <param name="Signer">Signs a BIP143 (segwit v0) signature hash with the coin's private key (low-R ECDSA).</param>
/// <param name="LeasedUntilHeight">The coin is not selected nor lent again before the tip reaches this height.</param>
public sealed record LentCoin(OutPoint OutPoint, TxOut Output, PubKey PubKey, Script ChangeScript, Func<uint256, ECDSASignature> Signer, int LeasedUntilHeight)
{
    /// <summary>The coin's value.</summary>
    public Money Amount => Output.Value;
}

/// <content>Coin leases and coins lent to externally built transactions.</content>
public sealed partial class OnChainWallet
{
    // Outpoint -> height at which the lease ends (null: until released). In memory only: a restart frees every coin.
    private readonly Dictionary<OutPoint, int?> _leases = [];

    private bool IsLeased(OutPoint outPoint) =>
        _leases.TryGetValue(outPoint, out var expiry) && (expiry is null || TipHeight < expiry);

    private void PruneLeases()
    {
        foreach (var (outPoint, expiry) in _leases.ToList())
        {
            if ((expiry is int e && TipHeight >= e) || !_utxos.TryGetValue(outPoint, out var u) || u.SpentBy is not null)
            {
                _leases.Remove(outPoint);
            }
        }
    }

    /// <summary>
    /// Holds coins back from coin selection (<see cref="SendAsync"/>, <see cref="CreateFundedPsbt(IReadOnlyList{PaymentOutput}, FeeRate, bool, AddressType, PSBTVersion, int?)"/>,
    /// fee bumps, <see cref="LendCoin"/>) for <paramref name="blocks"/> blocks, or until <see cref="ReleaseCoins"/> when
    /// null. Leasing an already leased coin replaces its lease. Leases live in memory only.
    /// </summary>
    /// <param name="outPoints">Coins of the wallet.</param>
    /// <param name="blocks">How many blocks the lease lasts (at least 1), or null for no expiry.</param>
    /// <exception cref="WalletException">A coin is not an unspent output of the wallet, or <paramref name="blocks"/> is below 1.</exception>
    public void LeaseCoins(IEnumerable<OutPoint> outPoints, int? blocks)
    {
        ArgumentNullException.ThrowIfNull(outPoints);
        if (blocks is < 1)
        {
            throw new WalletException("a lease lasts at least one block");
        }
        var list = outPoints.ToList();
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            foreach (var outPoint in list)
            {
                if (outPoint is null || !_utxos.TryGetValue(outPoint, out var u) || u.SpentBy is not null)
                {
                    throw new WalletException($"{outPoint} is not an unspent coin of the wallet");
                }
            }
            foreach (var outPoint in list)
            {
                _leases[outPoint] = blocks is int b ? TipHeight + b : null;
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Ends the leases of <paramref name="outPoints"/> (coins without a lease are ignored).</summary>
    /// <returns>How many leases were ended.</returns>
    public int ReleaseCoins(IEnumerable<OutPoint> outPoints)
    {
        ArgumentNullException.ThrowIfNull(outPoints);
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return outPoints.Count(o => o is not null && _leases.Remove(o));
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The active leases (of coins still unspent), ordered by outpoint.</summary>
    public IReadOnlyList<CoinLease> ListLeases()
    {
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            PruneLeases();
            return [.. _leases.Select(l => new CoinLease(l.Key, l.Value)).OrderBy(l => l.OutPoint.ToString(), StringComparer.Ordinal)];
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Lends the smallest confirmed, unleased P2WPKH coin worth at least <paramref name="minimumAmount"/> (and not one of
    /// <paramref name="exclude"/>) to a transaction built outside the wallet, leasing it for <paramref name="leaseBlocks"/>
    /// blocks. Once the spending transaction confirms the wallet sees the coin spent; if it never does, the coin returns to
    /// selection when the lease ends. The change script is the first unused address of the P2WPKH change chain past the
    /// last used one, so repeated loans (fee bumps that replace one another) do not open a gap in the chain.
    /// </summary>
    /// <param name="minimumAmount">The least value the coin must have.</param>
    /// <param name="exclude">Coins not to lend.</param>
    /// <param name="leaseBlocks">How many blocks the coin stays leased (at least 1).</param>
    /// <returns>The coin with its signer, or null when no coin qualifies.</returns>
    /// <exception cref="WalletException"><paramref name="leaseBlocks"/> is below 1, or the wallet is watch-only.</exception>
    public LentCoin? LendCoin(Money minimumAmount, IReadOnlyCollection<OutPoint> exclude, int leaseBlocks)
    {
        ArgumentNullException.ThrowIfNull(minimumAmount);
        ArgumentNullException.ThrowIfNull(exclude);
        if (leaseBlocks < 1)
        {
            throw new WalletException("a lease lasts at least one block");
        }
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            PruneLeases();
            var coin = _utxos.Values
                .Where(u => u.Type == AddressType.P2wpkh && u.Height is not null && IsSpendable(u, Math.Max(1, _options.MinConfirmations))
                    && u.Amount >= minimumAmount && !exclude.Contains(u.OutPoint))
                .OrderBy(u => u.Amount.Satoshi).ThenBy(u => u.OutPoint.ToString(), StringComparer.Ordinal)
                .FirstOrDefault();
            if (coin is null)
            {
                return null;
            }
            var account = _accounts[AddressType.P2wpkh];
            var key = account.PrivateKey(coin.Chain, coin.Index);
            var pubKey = key.PubKey.Compress();
            if (pubKey.WitHash.ScriptPubKey != coin.Output.ScriptPubKey)
            {
                throw new WalletException($"internal error: the key of {coin.OutPoint} does not match its script");
            }
            var change = ChangeForLoan();
            Commit();
            var until = TipHeight + leaseBlocks;
            _leases[coin.OutPoint] = until;
            return new LentCoin(coin.OutPoint, coin.Output.Clone(), pubKey, change, hash => key.Sign(hash, useLowR: true), until);
        }
        finally
        {
            _lock.Release();
        }
    }

    private Script ChangeForLoan()
    {
        var slot = Slot(AddressType.P2wpkh, KeyChain.Change);
        var next = _lastUsed[slot] + 1;
        return next < _issued[slot] && _byIndex.TryGetValue((AddressType.P2wpkh, KeyChain.Change, next), out var address)
            ? address.ScriptPubKey
            : Issue(AddressType.P2wpkh, KeyChain.Change).ScriptPubKey;
    }
}
