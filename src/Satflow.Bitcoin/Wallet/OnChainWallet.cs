using System.Buffers.Binary;
using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Wallet;

/// <summary>A newly created wallet and its mnemonic, which is shown to the user once and never stored in clear.</summary>
/// <param name="Wallet">The open wallet.</param>
/// <param name="Mnemonic">The BIP39 words.</param>
public sealed record WalletCreation(OnChainWallet Wallet, string Mnemonic)
{
    /// <inheritdoc />
    public override string ToString() => "WalletCreation(***)";
}

/// <summary>A funded, unsigned PSBT built by the wallet.</summary>
/// <param name="Psbt">The PSBT, with witness UTXOs and BIP32 / taproot key origins of the wallet's inputs and change.</param>
/// <param name="Fee">The fee it pays.</param>
/// <param name="ChangeOutputIndex">The change output's index, or null when there is none.</param>
public sealed record FundedPsbt(PSBT Psbt, Money Fee, int? ChangeOutputIndex);

/// <summary>
/// The on-chain wallet: BIP84 (P2WPKH) and BIP86 (P2TR) accounts from one BIP39 seed, encrypted at rest, persisted in
/// SQLite, kept in sync as an <see cref="IBlockListener"/> (reorg-safe) or by <see cref="RescanAsync"/>, with branch-and-bound
/// coin selection, PSBT signing, sending, RBF fee bumps and CPFP. All public members are safe to call concurrently: they
/// are serialised by one lock. The wallet never starts threads or reads the clock.
/// </summary>
public sealed partial class OnChainWallet : IBlockListener, IDisposable
{
    /// <summary>Confirmations a coinbase output needs before it is spendable.</summary>
    public const int CoinbaseMaturity = 100;

    /// <summary>
    /// Spent outputs are kept while their spend could still be undone by a reorg; once the spending transaction has this
    /// many confirmations they are pruned (checked every <see cref="PruneInterval"/> blocks).
    /// </summary>
    public const int PruneDepth = 144;

    /// <summary>How often (in blocks) spent outputs are pruned.</summary>
    public const int PruneInterval = 144;

    private static readonly AddressType[] Types = [AddressType.P2wpkh, AddressType.P2tr];
    private static readonly KeyChain[] Chains = [KeyChain.Receive, KeyChain.Change];

    private readonly WalletOptions _options;
    private readonly WalletStore _store;
    private readonly IBroadcaster _broadcaster;
    private readonly Dictionary<AddressType, HdAccount> _accounts;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<Script, WalletAddress> _scripts = [];
    private readonly Dictionary<(AddressType, KeyChain, int), WalletAddress> _byIndex = [];
    private readonly int[] _derived = new int[4];
    private readonly int[] _lastUsed = new int[4];
    private readonly int[] _issued = new int[4];
    private readonly Dictionary<OutPoint, WalletUtxo> _utxos = [];
    private readonly Dictionary<uint256, WalletTransaction> _txs = [];
    private readonly WalletChanges _changes = new();
    private ChainTip? _tip;
    private bool _disposed;

    private OnChainWallet(WalletOptions options, WalletStore store, IBroadcaster broadcaster, WalletSecret secret)
    {
        _options = options;
        _store = store;
        _broadcaster = broadcaster;
        var master = new Mnemonic(secret.Mnemonic, Wordlist.English).DeriveExtKey(secret.Bip39Passphrase);
        _accounts = Types.ToDictionary(t => t, t => HdAccount.FromMaster(master, t, options.Network));
    }

    /// <summary>The network.</summary>
    public Network Network => _options.Network;

    /// <summary>The last block the wallet has processed, or null before the first.</summary>
    public ChainTip? Tip => _tip;

    /// <summary>The gap limit in use.</summary>
    public int GapLimit => _options.GapLimit;

    /// <summary>The four ranged descriptors (wpkh receive/change, tr receive/change), with checksums.</summary>
    public IReadOnlyList<string> Descriptors =>
        [.. Types.SelectMany(t => Chains.Select(c => _accounts[t].Descriptor(c).ToString()))];

    private Random Random => _options.Random ?? Random.Shared;

    private int TipHeight => _tip?.Height ?? -1;

    /// <summary>Creates a new wallet with a fresh mnemonic; the caller shows <see cref="WalletCreation.Mnemonic"/> once.</summary>
    /// <param name="options">Network, data directory (must not hold a wallet yet) and tuning.</param>
    /// <param name="passphrase">Encrypts the seed at rest.</param>
    /// <param name="broadcaster">Hands transactions to the network.</param>
    /// <param name="wordCount">12 or 24 words.</param>
    /// <param name="bip39Passphrase">Optional BIP39 passphrase (it changes every key; it must be given again on restore).</param>
    public static WalletCreation Create(WalletOptions options, string passphrase, IBroadcaster broadcaster, int wordCount = 12, string bip39Passphrase = "")
    {
        var count = wordCount switch
        {
            12 => WordCount.Twelve,
            24 => WordCount.TwentyFour,
            _ => throw new WalletException("a new mnemonic has 12 or 24 words"),
        };
        var mnemonic = new Mnemonic(Wordlist.English, count).ToString();
        var wallet = Initialize(options, passphrase, broadcaster, new WalletSecret(mnemonic, bip39Passphrase ?? string.Empty));
        return new WalletCreation(wallet, mnemonic);
    }

    /// <summary>Creates a wallet from an existing mnemonic; call <see cref="RescanAsync"/> afterwards to find its coins.</summary>
    /// <exception cref="WalletFormatException">The mnemonic has unknown words or a bad checksum.</exception>
    public static OnChainWallet Restore(WalletOptions options, string mnemonic, string passphrase, IBroadcaster broadcaster, string bip39Passphrase = "")
    {
        ArgumentNullException.ThrowIfNull(mnemonic);
        var normalized = string.Join(' ', mnemonic.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();
        Mnemonic parsed;
        try
        {
            parsed = new Mnemonic(normalized, Wordlist.English);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or IndexOutOfRangeException)
        {
            throw new WalletFormatException("the mnemonic is not a valid English BIP39 mnemonic", ex);
        }
        if (!parsed.IsValidChecksum || parsed.Words.Length is not (12 or 15 or 18 or 21 or 24))
        {
            throw new WalletFormatException("the mnemonic's checksum is wrong");
        }
        return Initialize(options, passphrase, broadcaster, new WalletSecret(normalized, bip39Passphrase ?? string.Empty));
    }

    /// <summary>Opens an existing wallet from its data directory.</summary>
    /// <exception cref="WalletPassphraseException">Wrong passphrase.</exception>
    /// <exception cref="WalletFormatException">The database is not a wallet this version can read.</exception>
    public static OnChainWallet Open(WalletOptions options, string passphrase, IBroadcaster broadcaster)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(passphrase);
        ArgumentNullException.ThrowIfNull(broadcaster);
        if (options.DataDirectory is null)
        {
            throw new WalletException("an in-memory wallet cannot be reopened");
        }
        var store = WalletStore.Open(options.DataDirectory, create: false);
        try
        {
            var network = store.GetMetaString("network");
            if (network != options.Network.ToString())
            {
                throw new WalletException($"the wallet belongs to network '{network}', not '{options.Network}'");
            }
            var blob = store.GetMeta("seed") ?? throw new WalletFormatException("the wallet has no seed");
            var secret = SeedVault.Decrypt(blob, passphrase);
            var wallet = new OnChainWallet(options, store, broadcaster, secret);
            var stored = store.GetMetaString("descriptors");
            if (stored != string.Join('\n', wallet.Descriptors))
            {
                throw new WalletFormatException("the seed does not match the wallet's stored descriptors");
            }
            wallet.LoadState();
            return wallet;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static OnChainWallet Initialize(WalletOptions options, string passphrase, IBroadcaster broadcaster, WalletSecret secret)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(passphrase);
        ArgumentNullException.ThrowIfNull(broadcaster);
        if (options.GapLimit is < 1 or > 10_000)
        {
            throw new WalletException("the gap limit must be between 1 and 10,000");
        }
        var blob = SeedVault.Encrypt(secret, passphrase, options.KdfIterations);
        var store = WalletStore.Open(options.DataDirectory, create: true);
        try
        {
            var wallet = new OnChainWallet(options, store, broadcaster, secret);
            Array.Fill(wallet._lastUsed, -1);
            wallet._changes.Meta["network"] = System.Text.Encoding.UTF8.GetBytes(options.Network.ToString());
            wallet._changes.Meta["seed"] = blob;
            wallet._changes.Meta["descriptors"] = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', wallet.Descriptors));
            foreach (var t in Types)
            {
                foreach (var c in Chains)
                {
                    wallet.EnsureLookahead(t, c);
                }
            }
            wallet.WriteCounters();
            wallet.Commit();
            return wallet;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    // ---------------------------------------------------------------- addresses

    /// <summary>Hands out the next unused receive address of an account type.</summary>
    public WalletAddress GetNewAddress(AddressType type)
    {
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            var address = Issue(type, KeyChain.Receive);
            Commit();
            return address;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Whether a script belongs to the wallet (within the derived look-ahead).</summary>
    public bool IsMine(Script scriptPubKey)
    {
        ArgumentNullException.ThrowIfNull(scriptPubKey);
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return _scripts.ContainsKey(scriptPubKey);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Every derived address (receive and change, both accounts), in derivation order.</summary>
    public IReadOnlyList<WalletAddress> ListAddresses()
    {
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return [.. _byIndex.Values.OrderBy(a => a.Type).ThenBy(a => a.Chain).ThenBy(a => a.Index)];
        }
        finally
        {
            _lock.Release();
        }
    }

    private static int Slot(AddressType type, KeyChain chain) => ((int)type * 2) + (int)chain;

    private WalletAddress Issue(AddressType type, KeyChain chain)
    {
        var slot = Slot(type, chain);
        var index = _issued[slot]++;
        EnsureLookahead(type, chain);
        WriteCounters();
        return _byIndex[(type, chain, index)];
    }

    private void EnsureLookahead(AddressType type, KeyChain chain)
    {
        var slot = Slot(type, chain);
        var target = Math.Max(_lastUsed[slot], _issued[slot] - 1) + 1 + _options.GapLimit;
        var account = _accounts[type];
        while (_derived[slot] < target)
        {
            var index = _derived[slot];
            var script = account.ScriptPubKey(chain, index);
            var address = new WalletAddress(type, chain, index, script, script.GetDestinationAddress(Network)!.ToString(), false);
            _scripts[script] = address;
            _byIndex[(type, chain, index)] = address;
            _changes.Addresses.Add(address);
            _derived[slot]++;
        }
    }

    private void MarkUsed(WalletAddress address)
    {
        var slot = Slot(address.Type, address.Chain);
        if (!address.Used)
        {
            var used = address with { Used = true };
            _scripts[used.ScriptPubKey] = used;
            _byIndex[(used.Type, used.Chain, used.Index)] = used;
            _changes.Addresses.Add(used);
        }
        if (address.Index > _lastUsed[slot])
        {
            _lastUsed[slot] = address.Index;
            if (_issued[slot] <= address.Index)
            {
                _issued[slot] = address.Index + 1;
                WriteCounters();
            }
            EnsureLookahead(address.Type, address.Chain);
        }
    }

    private void WriteCounters()
    {
        var bytes = new byte[16];
        for (var i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(i * 4), _issued[i]);
        }
        _changes.Meta["issued"] = bytes;
    }

    // ---------------------------------------------------------------- balance and coins

    /// <summary>The balance: confirmed, unconfirmed (own transactions) and immature coinbase outputs.</summary>
    public WalletBalance GetBalance()
    {
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            long confirmed = 0, unconfirmed = 0, immature = 0;
            foreach (var u in _utxos.Values)
            {
                if (u.SpentBy is not null)
                {
                    continue;
                }
                if (u.Height is null)
                {
                    unconfirmed += u.Amount.Satoshi;
                }
                else if (u.IsCoinbase && u.Confirmations(TipHeight) < CoinbaseMaturity)
                {
                    immature += u.Amount.Satoshi;
                }
                else
                {
                    confirmed += u.Amount.Satoshi;
                }
            }
            return new WalletBalance(Money.Satoshis(confirmed), Money.Satoshis(unconfirmed), Money.Satoshis(immature));
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The unspent outputs (confirmed or not, mature or not), largest first.</summary>
    public IReadOnlyList<WalletUtxo> ListUnspent()
    {
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return [.. _utxos.Values.Where(u => u.SpentBy is null).OrderByDescending(u => u.Amount.Satoshi).ThenBy(u => u.OutPoint.ToString(), StringComparer.Ordinal)];
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The wallet's transactions, unconfirmed first, then by descending height.</summary>
    public IReadOnlyList<WalletTransaction> ListTransactions()
    {
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return [.. _txs.Values.OrderByDescending(t => t.Height ?? int.MaxValue)];
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>A wallet transaction by id, or null.</summary>
    public WalletTransaction? GetTransaction(uint256 txid)
    {
        ArgumentNullException.ThrowIfNull(txid);
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return _txs.GetValueOrDefault(txid);
        }
        finally
        {
            _lock.Release();
        }
    }

    private bool IsSpendable(WalletUtxo u, int minConfirmations)
    {
        if (u.SpentBy is not null)
        {
            return false;
        }
        if (u.Height is null)
        {
            return minConfirmations == 0 && _txs.TryGetValue(u.OutPoint.Hash, out var t) && t.IsOwn;
        }
        var confirmations = u.Confirmations(TipHeight);
        return confirmations >= minConfirmations && (!u.IsCoinbase || confirmations >= CoinbaseMaturity) && !IsLeased(u.OutPoint);
    }

    // ---------------------------------------------------------------- sync

    /// <inheritdoc />
    public async ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            ConnectBlock(block, height, rescan: false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(header);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            var hash = header.GetHash();
            if (_tip is not { } tip || tip.Hash != hash || tip.Height != height)
            {
                throw new WalletSyncException($"block {hash} at height {height} is not the wallet's tip ({_tip?.Height.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"})");
            }
            Guarded(() =>
            {
                foreach (var t in _txs.Values.Where(t => t.BlockHash == hash).ToList())
                {
                    if (!_txs.ContainsKey(t.TxId))
                    {
                        continue; // removed by an earlier cascade
                    }
                    if (t.IsOwn)
                    {
                        // Our own transaction goes back to the mempool: its outputs and spends stay, unconfirmed.
                        _txs[t.TxId] = t with { Height = null, BlockHash = null };
                        _changes.Transactions.Add(t.TxId);
                        for (var i = 0; i < t.Transaction.Outputs.Count; i++)
                        {
                            var op = new OutPoint(t.TxId, i);
                            if (_utxos.TryGetValue(op, out var u))
                            {
                                _utxos[op] = u with { Height = null, BlockHash = null };
                                _changes.Utxos.Add(op);
                            }
                        }
                    }
                    else
                    {
                        // Someone else's transaction: forget it; it comes back if a block of the new branch holds it.
                        RemoveTransaction(t.TxId);
                    }
                }
                _tip = height > 0 ? new ChainTip(height - 1, header.HashPrevBlock) : null;
                WriteTip();
            });
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Scans the chain from <paramref name="fromHeight"/> to its tip for the wallet's coins (used after a restore). When
    /// the scan discovers used addresses that extend the look-ahead, the range is scanned again until no new address
    /// appears, so coins are found even when a later-derived address was paid in an earlier block.
    /// </summary>
    public async Task RescanAsync(IChainSource chain, int fromHeight, IProgress<RescanProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentOutOfRangeException.ThrowIfNegative(fromHeight);
        for (var pass = 1; ; pass++)
        {
            var derivedBefore = _derived.Sum();
            var tip = await chain.GetTipAsync(cancellationToken).ConfigureAwait(false);
            for (var h = fromHeight; h <= tip.Height; h++)
            {
                var hash = await chain.GetBlockHashAsync(h, cancellationToken).ConfigureAwait(false)
                    ?? throw new ChainSourceException($"the chain has no block at height {h} during the rescan");
                var block = await chain.GetBlockAsync(hash, cancellationToken).ConfigureAwait(false)
                    ?? throw new ChainSourceException($"the chain does not serve block {hash}");
                await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    ThrowIfDisposed();
                    ConnectBlock(block, h, rescan: true);
                }
                finally
                {
                    _lock.Release();
                }
                progress?.Report(new RescanProgress(h, tip.Height, pass));
            }
            if (_derived.Sum() == derivedBefore)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Catches up with <paramref name="chain"/>: blocks the chain abandoned are disconnected (from the wallet's tip down
    /// to the fork point), then the new best blocks are connected one by one. A wallet that has never seen a block (a
    /// freshly created one, which cannot have coins yet) starts at the chain's tip without scanning history.
    /// </summary>
    /// <returns>The wallet's tip afterwards.</returns>
    public async Task<ChainTip> SyncAsync(IChainSource chain, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chain);
        while (_tip is { } tip)
        {
            var hashAtHeight = await chain.GetBlockHashAsync(tip.Height, cancellationToken).ConfigureAwait(false);
            if (hashAtHeight == tip.Hash)
            {
                break;
            }
            var header = await chain.GetHeaderAsync(tip.Hash, cancellationToken).ConfigureAwait(false)
                ?? throw new WalletSyncException($"the chain does not know the wallet's tip {tip.Hash}; rescan instead");
            await BlockDisconnectedAsync(header.Header, tip.Height, cancellationToken).ConfigureAwait(false);
        }
        var chainTip = await chain.GetTipAsync(cancellationToken).ConfigureAwait(false);
        if (_tip is null)
        {
            await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfDisposed();
                Guarded(() =>
                {
                    _tip = chainTip;
                    WriteTip();
                });
            }
            finally
            {
                _lock.Release();
            }
            return chainTip;
        }
        for (var h = _tip.Value.Height + 1; h <= chainTip.Height; h++)
        {
            var hash = await chain.GetBlockHashAsync(h, cancellationToken).ConfigureAwait(false)
                ?? throw new ChainSourceException($"the chain has no block at height {h}");
            var block = await chain.GetBlockAsync(hash, cancellationToken).ConfigureAwait(false)
                ?? throw new ChainSourceException($"the chain does not serve block {hash}");
            await BlockConnectedAsync(block, h, cancellationToken).ConfigureAwait(false);
        }
        return _tip ?? chainTip;
    }

    private void ConnectBlock(Block block, int height, bool rescan)
    {
        var hash = block.GetHash();
        if (!rescan && _tip is { } tip)
        {
            if (height == tip.Height && hash == tip.Hash)
            {
                return;
            }
            if (height != tip.Height + 1 || block.Header.HashPrevBlock != tip.Hash)
            {
                throw new WalletSyncException($"block {hash} at height {height} does not extend the wallet's tip {tip.Hash} at height {tip.Height}");
            }
        }
        Guarded(() =>
        {
            var txs = block.Transactions;
            for (var i = 0; i < txs.Count; i++)
            {
                ProcessTransaction(txs[i], height, hash, isCoinbase: i == 0, own: false, knownFee: null);
            }
            if (!rescan || _tip is null || height >= _tip.Value.Height)
            {
                _tip = new ChainTip(height, hash);
                WriteTip();
            }
            if (height % PruneInterval == 0)
            {
                PruneSpent(height);
            }
        });
    }

    private void PruneSpent(int height)
    {
        var deep = _utxos.Values
            .Where(u => u.SpentBy is { } s && _txs.TryGetValue(s, out var spender) && spender.Height is int h && height - h + 1 >= PruneDepth)
            .Select(u => u.OutPoint)
            .ToList();
        foreach (var op in deep)
        {
            _utxos.Remove(op);
            _changes.Utxos.Add(op);
        }
    }

    private void ProcessTransaction(Transaction tx, int? height, uint256? blockHash, bool isCoinbase, bool own, Money? knownFee)
    {
        // Most transactions in a block are not the wallet's: hashing is the dominant cost, so the id is computed only
        // once something matches.
        if (!own && !Touches(tx, isCoinbase))
        {
            return;
        }
        var txid = tx.GetHash();
        var relevant = false;
        var allInputsKnown = !isCoinbase;
        long inputSum = 0;
        if (!isCoinbase)
        {
            foreach (var input in tx.Inputs)
            {
                if (_utxos.TryGetValue(input.PrevOut, out var spent))
                {
                    if (spent.SpentBy is { } other && other != txid && _txs.TryGetValue(other, out var rival) && rival.Height is null)
                    {
                        // A conflicting transaction wins: our unconfirmed spender is gone for good.
                        RemoveTransaction(other);
                        spent = _utxos[input.PrevOut];
                    }
                    _utxos[input.PrevOut] = spent with { SpentBy = txid };
                    _changes.Utxos.Add(input.PrevOut);
                    inputSum += spent.Amount.Satoshi;
                    relevant = true;
                }
                else
                {
                    allInputsKnown = false;
                }
            }
        }
        var outputs = tx.Outputs;
        for (var i = 0; i < outputs.Count; i++)
        {
            if (!_scripts.TryGetValue(outputs[i].ScriptPubKey, out var address))
            {
                continue;
            }
            relevant = true;
            var op = new OutPoint(txid, i);
            var existing = _utxos.GetValueOrDefault(op);
            _utxos[op] = new WalletUtxo(op, outputs[i], address.Type, address.Chain, address.Index, height, blockHash, isCoinbase, existing?.SpentBy);
            _changes.Utxos.Add(op);
            MarkUsed(address);
        }
        if (!relevant && !own)
        {
            return;
        }
        var previous = _txs.GetValueOrDefault(txid);
        var fee = knownFee ?? previous?.Fee ?? (allInputsKnown ? Money.Satoshis(inputSum - outputs.Sum(o => o.Value.Satoshi)) : null);
        _txs[txid] = new WalletTransaction(tx, height, blockHash, own || (previous?.IsOwn ?? false), fee);
        _changes.Transactions.Add(txid);
    }

    private bool Touches(Transaction tx, bool isCoinbase)
    {
        if (!isCoinbase)
        {
            foreach (var input in tx.Inputs)
            {
                if (_utxos.ContainsKey(input.PrevOut))
                {
                    return true;
                }
            }
        }
        foreach (var output in tx.Outputs)
        {
            if (_scripts.ContainsKey(output.ScriptPubKey))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Forgets a transaction: its spends are undone, its outputs removed, and its descendants removed too.</summary>
    private void RemoveTransaction(uint256 txid)
    {
        if (!_txs.Remove(txid, out var wt))
        {
            return;
        }
        _changes.Transactions.Add(txid);
        foreach (var input in wt.Transaction.Inputs)
        {
            if (_utxos.TryGetValue(input.PrevOut, out var u) && u.SpentBy == txid)
            {
                _utxos[input.PrevOut] = u with { SpentBy = null };
                _changes.Utxos.Add(input.PrevOut);
            }
        }
        for (var i = 0; i < wt.Transaction.Outputs.Count; i++)
        {
            var op = new OutPoint(txid, i);
            if (_utxos.Remove(op, out var u))
            {
                _changes.Utxos.Add(op);
                if (u.SpentBy is { } child && child != txid)
                {
                    RemoveTransaction(child);
                }
            }
        }
    }

    private void WriteTip()
    {
        if (_tip is { } tip)
        {
            var bytes = new byte[36];
            BinaryPrimitives.WriteInt32BigEndian(bytes, tip.Height);
            tip.Hash.ToBytes().CopyTo(bytes, 4);
            _changes.Meta["tip"] = bytes;
        }
        else
        {
            _changes.Meta["tip"] = [];
        }
    }

    // ---------------------------------------------------------------- PSBT

    /// <summary>
    /// Builds a funded, unsigned PSBT paying <paramref name="outputs"/> at <paramref name="feeRate"/> from confirmed coins,
    /// with change (to a fresh change address of <paramref name="changeType"/>) only when it is above dust.
    /// </summary>
    /// <param name="outputs">Payment outputs (at least one, each at or above its dust limit).</param>
    /// <param name="feeRate">Target fee rate; the final fee is at least rate × weight.</param>
    /// <param name="rbf">Signal BIP125 replaceability (sequence 0xfffffffd).</param>
    /// <param name="changeType">Account type for change.</param>
    /// <param name="version">BIP174 version 0 (default) or BIP370 version 2.</param>
    /// <exception cref="InsufficientFundsException">Not enough spendable coins.</exception>
    /// <param name="leaseBlocks">
    /// When set, the selected inputs are leased (see <see cref="LeaseCoins"/>) for this many blocks so no other send, PSBT
    /// or <see cref="LendCoin"/> picks them before this transaction is broadcast and confirmed; release them with
    /// <see cref="ReleaseCoins"/> if it is abandoned. Null (the default) leases nothing.
    /// </param>
    public FundedPsbt CreateFundedPsbt(IReadOnlyList<PaymentOutput> outputs, FeeRate feeRate, bool rbf = true, AddressType changeType = AddressType.P2wpkh, PSBTVersion version = PSBTVersion.PSBTv0, int? leaseBlocks = null)
    {
        if (leaseBlocks is < 1)
        {
            throw new WalletException("a lease lasts at least one block");
        }
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            var (tx, fee, change) = BuildPayment(outputs, feeRate, rbf, changeType);
            Commit();
            if (leaseBlocks is int blocks)
            {
                foreach (var input in tx.Inputs)
                {
                    _leases[input.PrevOut] = TipHeight + blocks;
                }
            }
            return new FundedPsbt(ToPsbt(tx, change, version), fee, change);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// <see cref="CreateFundedPsbt(IReadOnlyList{PaymentOutput}, FeeRate, bool, AddressType, PSBTVersion, int?)"/> with a
    /// Lightning-style rate in sat per 1,000 weight units (for channel funding).
    /// </summary>
    public FundedPsbt CreateFundedPsbt(IReadOnlyList<PaymentOutput> outputs, FeeRatePerKw feeRate, bool rbf = true, AddressType changeType = AddressType.P2wpkh, PSBTVersion version = PSBTVersion.PSBTv0, int? leaseBlocks = null) =>
        CreateFundedPsbt(outputs, feeRate.ToFeeRate(), rbf, changeType, version, leaseBlocks);

    /// <summary>
    /// Signs every input of <paramref name="psbt"/> that spends one of the wallet's outputs (P2WPKH with ECDSA, P2TR with a
    /// BIP86 key-path Schnorr signature) and adds the BIP32 / taproot key origins. Inputs need their witness UTXO (and for
    /// taproot every input's UTXO must be known). Returns how many inputs were signed.
    /// </summary>
    public int SignPsbt(PSBT psbt)
    {
        ArgumentNullException.ThrowIfNull(psbt);
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            return SignPsbtCore(psbt);
        }
        finally
        {
            _lock.Release();
        }
    }

    private int SignPsbtCore(PSBT psbt)
    {
        var signed = 0;
        foreach (var input in psbt.Inputs)
        {
            var txOut = input.GetTxOut();
            if (txOut is null || !_scripts.TryGetValue(txOut.ScriptPubKey, out var address))
            {
                continue;
            }
            AddKeyOrigin(input, address);
            var key = _accounts[address.Type].PrivateKey(address.Chain, address.Index);
            try
            {
                input.Sign(key);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or NotSupportedException)
            {
                throw new WalletException($"cannot sign input {input.Index}: {ex.Message}", ex);
            }
            signed++;
        }
        return signed;
    }

    private void AddKeyOrigin(PSBTCoin coin, WalletAddress address)
    {
        var account = _accounts[address.Type];
        var pubKey = account.PubKey(address.Chain, address.Index);
        var path = account.FullPath(address.Chain, address.Index);
        if (address.Type == AddressType.P2wpkh)
        {
            coin.HDKeyPaths[pubKey] = path;
        }
        else
        {
            var internalKey = pubKey.TaprootInternalKey;
            coin.TaprootInternalKey = internalKey;
            coin.HDTaprootKeyPaths[internalKey.AsTaprootPubKey()] = new TaprootKeyPath(path);
        }
    }

    private PSBT ToPsbt(Transaction tx, int? changeIndex, PSBTVersion version = PSBTVersion.PSBTv0)
    {
        var psbt = PSBT.FromTransaction(tx, Network, version);
        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            var u = _utxos[tx.Inputs[i].PrevOut];
            psbt.Inputs[i].WitnessUtxo = u.Output;
            AddKeyOrigin(psbt.Inputs[i], _byIndex[(u.Type, u.Chain, u.Index)]);
        }
        if (changeIndex is int c && _scripts.TryGetValue(tx.Outputs[c].ScriptPubKey, out var change))
        {
            AddKeyOrigin(psbt.Outputs[c], change);
        }
        return psbt;
    }

    private Transaction SignAndExtract(Transaction unsigned, int? changeIndex)
    {
        var psbt = ToPsbt(unsigned, changeIndex);
        if (SignPsbtCore(psbt) != unsigned.Inputs.Count)
        {
            throw new WalletException("not every input could be signed");
        }
        if (!psbt.TryFinalize(out var errors))
        {
            throw new WalletException("the transaction could not be finalized: " + string.Join("; ", errors));
        }
        return psbt.ExtractTransaction();
    }

    // ---------------------------------------------------------------- building

    private (Transaction Tx, Money Fee, int? Change) BuildPayment(IReadOnlyList<PaymentOutput> outputs, FeeRate feeRate, bool rbf, AddressType changeType)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(feeRate);
        if (outputs.Count == 0)
        {
            throw new WalletException("a payment needs at least one output");
        }
        foreach (var o in outputs)
        {
            if (o.Amount.Satoshi < TxWeights.DustThreshold(o.ScriptPubKey))
            {
                throw new WalletException($"output of {o.Amount.Satoshi} sat is below the dust limit of {TxWeights.DustThreshold(o.ScriptPubKey)} sat");
            }
        }
        var coins = _utxos.Values.Where(u => IsSpendable(u, _options.MinConfirmations)).ToDictionary(u => u.OutPoint);
        var candidates = coins.Values.Select(u => new SpendCandidate(u.OutPoint, u.Amount.Satoshi, TxWeights.InputWeight(u.Type))).ToList();
        var parameters = new CoinSelectionParameters(
            outputs.Sum(o => o.Amount.Satoshi),
            outputs.Count,
            outputs.Sum(o => (long)TxWeights.OutputWeight(o.ScriptPubKey)),
            feeRate,
            _options.LongTermFeeRate,
            TxWeights.ChangeOutputWeight(changeType),
            TxWeights.InputWeight(changeType),
            TxWeights.Dust(changeType));
        var selection = CoinSelector.Select(parameters, candidates, Random);
        TxOut? change = null;
        if (selection.HasChange)
        {
            change = new TxOut(Money.Satoshis(selection.ChangeSat), Issue(changeType, KeyChain.Change).ScriptPubKey);
        }
        var inputs = selection.Selected.Select(c => coins[c.OutPoint]).ToList();
        var (tx, changeIndex) = Assemble(inputs, [.. outputs.Select(o => new TxOut(o.Amount, o.ScriptPubKey))], change, rbf, null);
        return (tx, Money.Satoshis(selection.FeeSat), changeIndex);
    }

    private (Transaction Tx, int? ChangeIndex) Assemble(List<WalletUtxo> inputs, List<TxOut> payments, TxOut? change, bool rbf, LockTime? lockTime)
    {
        var tx = Network.CreateTransaction();
        tx.Version = 2;
        tx.LockTime = lockTime ?? (_tip is { } tip ? new LockTime(tip.Height) : LockTime.Zero);
        foreach (var u in inputs)
        {
            tx.Inputs.Add(new TxIn(u.OutPoint) { Sequence = rbf ? new Sequence(0xFFFFFFFD) : new Sequence(0xFFFFFFFE) });
        }
        foreach (var p in payments)
        {
            tx.Outputs.Add(p);
        }
        int? changeIndex = null;
        if (change is not null)
        {
            changeIndex = Random.Next(tx.Outputs.Count + 1);
            tx.Outputs.Insert(changeIndex.Value, change);
        }
        return (tx, changeIndex);
    }

    /// <summary>
    /// Greedy funding for replacements and children: starts from <paramref name="preset"/> inputs and adds the largest
    /// spendable coins until the payments and the fee <paramref name="requiredFee"/>(weight) are covered, with change when it
    /// is at least dust.
    /// </summary>
    private (List<WalletUtxo> Inputs, long ChangeSat, long FeeSat) Plan(
        List<WalletUtxo> preset, IEnumerable<WalletUtxo> extras, List<TxOut> payments, AddressType changeType, Func<long, long> requiredFee)
    {
        var inputs = preset.ToList();
        var queue = new Queue<WalletUtxo>(extras.OrderByDescending(u => u.Amount.Satoshi));
        var paySum = payments.Sum(p => p.Value.Satoshi);
        var payWeight = payments.Sum(p => (long)TxWeights.OutputWeight(p.ScriptPubKey));
        while (true)
        {
            var inSum = inputs.Sum(u => u.Amount.Satoshi);
            var inWeight = inputs.Sum(u => (long)TxWeights.InputWeight(u.Type));
            var withChange = TxWeights.TransactionWeight(inputs.Count, inWeight, payments.Count + 1, payWeight + TxWeights.ChangeOutputWeight(changeType));
            var feeWithChange = requiredFee(withChange);
            var change = inSum - paySum - feeWithChange;
            if (change >= TxWeights.Dust(changeType))
            {
                return (inputs, change, feeWithChange);
            }
            if (payments.Count > 0)
            {
                var without = TxWeights.TransactionWeight(inputs.Count, inWeight, payments.Count, payWeight);
                if (inSum - paySum >= requiredFee(without))
                {
                    return (inputs, 0, inSum - paySum);
                }
            }
            if (queue.Count == 0)
            {
                throw new InsufficientFundsException(paySum + feeWithChange + TxWeights.Dust(changeType), inSum);
            }
            inputs.Add(queue.Dequeue());
        }
    }

    // ---------------------------------------------------------------- send, bump, cpfp

    /// <summary>Pays <paramref name="amount"/> (or everything) to <paramref name="destination"/> and broadcasts it.</summary>
    /// <param name="destination">Where to pay; must be an address of the wallet's network.</param>
    /// <param name="amount">A fixed amount (with change when above dust), or <see cref="SendAmount.All"/> to sweep every spendable coin.</param>
    /// <param name="feeRate">Target fee rate; the fee is at least rate × final weight.</param>
    /// <param name="rbf">Signal BIP125 replaceability so <see cref="BumpFeeAsync"/> can replace it.</param>
    /// <param name="cancellationToken">Cancels waiting for the wallet lock or the broadcast.</param>
    /// <exception cref="InsufficientFundsException">Not enough spendable coins.</exception>
    /// <exception cref="BroadcastRejectedException">The backend refused it; the wallet is unchanged.</exception>
    public async Task<SendResult> SendAsync(BitcoinAddress destination, SendAmount amount, FeeRate feeRate, bool rbf = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(feeRate);
        if (destination.Network != Network)
        {
            throw new WalletException($"the address is for {destination.Network}, the wallet for {Network}");
        }
        var changeType = destination.ScriptPubKey.IsScriptType(ScriptType.Taproot) ? AddressType.P2tr : AddressType.P2wpkh;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            Transaction unsigned;
            Money fee;
            int? changeIndex;
            if (amount.IsAll)
            {
                var coins = _utxos.Values.Where(u => IsSpendable(u, _options.MinConfirmations))
                    .Where(u => u.Amount.Satoshi > TxWeights.FeeFor(feeRate, TxWeights.InputWeight(u.Type)))
                    .OrderBy(u => u.OutPoint.ToString(), StringComparer.Ordinal).ToList();
                var weight = TxWeights.TransactionWeight(coins.Count, coins.Sum(u => (long)TxWeights.InputWeight(u.Type)), 1, TxWeights.OutputWeight(destination.ScriptPubKey));
                var feeSat = TxWeights.FeeFor(feeRate, weight);
                var value = coins.Sum(u => u.Amount.Satoshi) - feeSat;
                if (coins.Count == 0 || value < TxWeights.DustThreshold(destination.ScriptPubKey))
                {
                    throw new InsufficientFundsException(feeSat + TxWeights.DustThreshold(destination.ScriptPubKey), coins.Sum(u => u.Amount.Satoshi));
                }
                (unsigned, changeIndex) = Assemble(coins, [new TxOut(Money.Satoshis(value), destination.ScriptPubKey)], null, rbf, null);
                fee = Money.Satoshis(feeSat);
            }
            else
            {
                (unsigned, fee, changeIndex) = BuildPayment([new PaymentOutput(destination.ScriptPubKey, amount.Amount!)], feeRate, rbf, changeType);
            }
            Commit(); // the change address handed out stays handed out, whatever the broadcast does
            var signed = SignAndExtract(unsigned, changeIndex);
            EnsureFeeMeetsRate(signed, fee, feeRate);
            await _broadcaster.BroadcastAsync(signed, cancellationToken).ConfigureAwait(false);
            Guarded(() => ProcessTransaction(signed, null, null, isCoinbase: false, own: true, knownFee: fee));
            return new SendResult(signed.GetHash(), fee, signed, changeIndex);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Replaces an unconfirmed own transaction with one paying <paramref name="newFeeRate"/> (BIP125): same inputs and
    /// payments, the extra fee taken from change or from added inputs. The new fee is at least the old fee plus 1 sat/vB
    /// of the new size, and the new rate is above the old.
    /// </summary>
    /// <exception cref="WalletException">Unknown, confirmed, non-replaceable, or with unconfirmed descendants; or a rate not above the old one.</exception>
    /// <exception cref="InsufficientFundsException">The extra fee cannot be paid.</exception>
    public async Task<SendResult> BumpFeeAsync(uint256 txid, FeeRate newFeeRate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(txid);
        ArgumentNullException.ThrowIfNull(newFeeRate);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            if (!_txs.TryGetValue(txid, out var original) || !original.IsOwn)
            {
                throw new WalletException($"transaction {txid} is not one of the wallet's own transactions");
            }
            if (original.Height is not null)
            {
                throw new WalletException($"transaction {txid} is already confirmed");
            }
            var tx = original.Transaction;
            if (!tx.Inputs.Any(i => (uint)i.Sequence < 0xFFFFFFFE))
            {
                throw new WalletException($"transaction {txid} does not signal replaceability");
            }
            if (_utxos.Values.Any(u => u.OutPoint.Hash == txid && u.SpentBy is not null))
            {
                throw new WalletException($"transaction {txid} has unconfirmed descendants; bump the child instead");
            }
            var oldFee = original.Fee!.Satoshi;
            var oldWeight = TransactionWeight.Of(tx);
            if (newFeeRate.FeePerK.Satoshi * oldWeight <= oldFee * 4000)
            {
                throw new WalletException($"the new rate {newFeeRate} is not above the current {new FeeRate(Money.Satoshis(oldFee), (int)TxWeights.VirtualSize(oldWeight))}");
            }
            var preset = tx.Inputs.Select(i => _utxos.GetValueOrDefault(i.PrevOut) ?? throw new WalletException("the transaction spends coins the wallet does not own")).ToList();
            int? oldChange = null;
            for (var i = tx.Outputs.Count - 1; i >= 0 && oldChange is null; i--)
            {
                if (_utxos.TryGetValue(new OutPoint(txid, i), out var u) && u.Chain == KeyChain.Change)
                {
                    oldChange = i;
                }
            }
            var payments = tx.Outputs.Where((_, i) => i != oldChange).Select(o => o.Clone()).ToList();
            var changeType = oldChange is int ci ? _utxos[new OutPoint(txid, ci)].Type : AddressType.P2wpkh;
            var presetSet = preset.Select(u => u.OutPoint).ToHashSet();
            var extras = _utxos.Values.Where(u => IsSpendable(u, _options.MinConfirmations) && !presetSet.Contains(u.OutPoint)).ToList();
            long Required(long weight) => Math.Max(TxWeights.FeeFor(newFeeRate, weight), oldFee + TxWeights.FeeFor(TxWeights.IncrementalRelayFee, weight));
            var (inputs, changeSat, feeSat) = Plan(preset, extras, payments, changeType, Required);
            TxOut? change = null;
            if (changeSat > 0)
            {
                var script = oldChange is int oc ? tx.Outputs[oc].ScriptPubKey : Issue(changeType, KeyChain.Change).ScriptPubKey;
                change = new TxOut(Money.Satoshis(changeSat), script);
            }
            var (unsigned, changeIndex) = Assemble(inputs, payments, change, rbf: true, tx.LockTime);
            Commit();
            var signed = SignAndExtract(unsigned, changeIndex);
            var fee = Money.Satoshis(feeSat);
            EnsureFeeMeetsRate(signed, fee, newFeeRate);
            await _broadcaster.BroadcastAsync(signed, cancellationToken).ConfigureAwait(false);
            Guarded(() =>
            {
                RemoveTransaction(txid);
                ProcessTransaction(signed, null, null, isCoinbase: false, own: true, knownFee: fee);
            });
            return new SendResult(signed.GetHash(), fee, signed, changeIndex);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Child-pays-for-parent: spends an unconfirmed output of the wallet's transaction <paramref name="parentTxid"/> to a
    /// fresh change address with a fee such that parent and child together pay <paramref name="targetPackageFeeRate"/>
    /// (and the child alone at least 1 sat/vB), adding confirmed coins when the output alone cannot pay.
    /// </summary>
    /// <param name="parentTxid">An unconfirmed transaction known to the wallet with a known fee.</param>
    /// <param name="outputIndex">The parent's output to spend, or null for the first unspent one the wallet owns.</param>
    /// <param name="targetPackageFeeRate">The rate the package (parent + child) must reach.</param>
    /// <param name="cancellationToken">Cancels waiting for the lock or the broadcast.</param>
    public async Task<SendResult> CpfpAsync(uint256 parentTxid, int? outputIndex, FeeRate targetPackageFeeRate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentTxid);
        ArgumentNullException.ThrowIfNull(targetPackageFeeRate);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            if (!_txs.TryGetValue(parentTxid, out var parent) || parent.Height is not null)
            {
                throw new WalletException($"transaction {parentTxid} is not an unconfirmed wallet transaction");
            }
            if (parent.Fee is null)
            {
                throw new WalletException($"the fee of {parentTxid} is unknown");
            }
            WalletUtxo output;
            if (outputIndex is int index)
            {
                output = _utxos.GetValueOrDefault(new OutPoint(parentTxid, index)) ?? throw new WalletException($"output {index} of {parentTxid} is not the wallet's");
            }
            else
            {
                output = _utxos.Values.Where(u => u.OutPoint.Hash == parentTxid && u.SpentBy is null).OrderBy(u => u.OutPoint.N).FirstOrDefault()
                    ?? throw new WalletException($"the wallet owns no unspent output of {parentTxid}");
            }
            if (output.SpentBy is not null)
            {
                throw new WalletException($"output {output.OutPoint} is already spent");
            }
            var parentWeight = TransactionWeight.Of(parent.Transaction);
            var parentFee = parent.Fee.Satoshi;
            long Required(long weight) => Math.Max(TxWeights.FeeFor(targetPackageFeeRate, parentWeight + weight) - parentFee, TxWeights.FeeFor(TxWeights.IncrementalRelayFee, weight));
            var extras = _utxos.Values.Where(u => IsSpendable(u, Math.Max(1, _options.MinConfirmations)) && u.OutPoint != output.OutPoint).ToList();
            var (inputs, changeSat, feeSat) = Plan([output], extras, [], output.Type, Required);
            var change = new TxOut(Money.Satoshis(changeSat), Issue(output.Type, KeyChain.Change).ScriptPubKey);
            var (unsigned, changeIndex) = Assemble(inputs, [], change, rbf: true, null);
            Commit();
            var signed = SignAndExtract(unsigned, changeIndex);
            var fee = Money.Satoshis(feeSat);
            await _broadcaster.BroadcastAsync(signed, cancellationToken).ConfigureAwait(false);
            Guarded(() => ProcessTransaction(signed, null, null, isCoinbase: false, own: true, knownFee: fee));
            return new SendResult(signed.GetHash(), fee, signed, changeIndex);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Broadcasts every unconfirmed own transaction again, parents before children (after a reorg returned them to the
    /// mempool, or after a restart). Transactions the backend refuses are left as they are: a conflicting transaction
    /// that confirms removes them, or <see cref="AbandonTransaction"/> does.
    /// </summary>
    /// <returns>How many transactions the backend accepted.</returns>
    public async Task<int> RebroadcastUnconfirmedAsync(CancellationToken cancellationToken = default)
    {
        List<Transaction> pending;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            var unconfirmed = _txs.Values.Where(t => t.IsOwn && t.Height is null).ToDictionary(t => t.TxId, t => t.Transaction);
            pending = [];
            var done = new HashSet<uint256>();
            void Visit(uint256 id)
            {
                if (!done.Add(id))
                {
                    return;
                }
                foreach (var input in unconfirmed[id].Inputs)
                {
                    if (unconfirmed.ContainsKey(input.PrevOut.Hash))
                    {
                        Visit(input.PrevOut.Hash);
                    }
                }
                pending.Add(unconfirmed[id]);
            }
            foreach (var id in unconfirmed.Keys.OrderBy(k => k.ToString(), StringComparer.Ordinal))
            {
                Visit(id);
            }
        }
        finally
        {
            _lock.Release();
        }
        var accepted = 0;
        foreach (var tx in pending)
        {
            try
            {
                await _broadcaster.BroadcastAsync(tx, cancellationToken).ConfigureAwait(false);
                accepted++;
            }
            catch (BroadcastRejectedException)
            {
                // Left for a conflicting confirmation or AbandonTransaction to resolve.
            }
        }
        return accepted;
    }

    /// <summary>
    /// Forgets an unconfirmed own transaction (and its unconfirmed descendants) so its inputs become spendable again —
    /// for a transaction the network dropped. If it confirms after all, the next block brings it back.
    /// </summary>
    /// <exception cref="WalletException">Unknown, foreign or confirmed.</exception>
    public void AbandonTransaction(uint256 txid)
    {
        ArgumentNullException.ThrowIfNull(txid);
        _lock.Wait();
        try
        {
            ThrowIfDisposed();
            if (!_txs.TryGetValue(txid, out var t) || !t.IsOwn || t.Height is not null)
            {
                throw new WalletException($"transaction {txid} is not an unconfirmed own transaction");
            }
            Guarded(() => RemoveTransaction(txid));
        }
        finally
        {
            _lock.Release();
        }
    }

    private static void EnsureFeeMeetsRate(Transaction signed, Money fee, FeeRate rate)
    {
        var weight = TransactionWeight.Of(signed);
        if (fee.Satoshi < TxWeights.FeeFor(rate, weight))
        {
            throw new WalletException($"internal error: fee {fee} is below {rate} for weight {weight}");
        }
    }

    // ---------------------------------------------------------------- persistence

    /// <summary>Runs a state change and commits it; on failure the in-memory state is reloaded from the database.</summary>
    private void Guarded(Action change)
    {
        try
        {
            change();
            Commit();
        }
        catch
        {
            _changes.Clear();
            LoadState();
            throw;
        }
    }

    private void Commit()
    {
        if (_changes.IsEmpty)
        {
            return;
        }
        _store.Commit(_changes, _utxos, _txs);
        _changes.Clear();
    }

    private void LoadState()
    {
        _scripts.Clear();
        _byIndex.Clear();
        _utxos.Clear();
        _txs.Clear();
        Array.Clear(_derived);
        Array.Fill(_lastUsed, -1);
        Array.Clear(_issued);
        foreach (var a in _store.LoadAddresses())
        {
            _scripts[a.ScriptPubKey] = a;
            _byIndex[(a.Type, a.Chain, a.Index)] = a;
            var slot = Slot(a.Type, a.Chain);
            _derived[slot] = Math.Max(_derived[slot], a.Index + 1);
            if (a.Used)
            {
                _lastUsed[slot] = Math.Max(_lastUsed[slot], a.Index);
            }
        }
        if (_store.GetMeta("issued") is { Length: 16 } issued)
        {
            for (var i = 0; i < 4; i++)
            {
                _issued[i] = BinaryPrimitives.ReadInt32BigEndian(issued.AsSpan(i * 4));
            }
        }
        foreach (var u in _store.LoadUtxos())
        {
            _utxos[u.OutPoint] = u;
        }
        foreach (var t in _store.LoadTransactions(Network))
        {
            _txs[t.TxId] = t;
        }
        _tip = _store.GetMeta("tip") is { Length: 36 } tip
            ? new ChainTip(BinaryPrimitives.ReadInt32BigEndian(tip), new uint256(tip.AsSpan(4, 32).ToArray()))
            : null;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _store.Dispose();
    }
}
