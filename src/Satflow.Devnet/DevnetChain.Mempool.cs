using System.Globalization;
using NBitcoin;

namespace Satflow.Devnet;

public sealed partial class DevnetChain
{
    /// <summary>Core's default <c>maxfeerate</c> for <c>sendrawtransaction</c> and <c>testmempoolaccept</c>: 0.10 BTC/kvB.</summary>
    public static FeeRate DefaultMaxFeeRate { get; } = new(Money.Coins(0.10m));

    private const int AncestorLimit = 25;
    private const int DescendantLimit = 25;
    private const int AncestorSizeLimitVBytes = 101_000;
    private const int DescendantSizeLimitVBytes = 101_000;
    private const int MaxReplacementCandidates = 100;
    private const int MaxStandardTxWeight = 400_000;
    private const int MaxStandardTxSigOpsCost = 16_000;
    private const int MinStandardTxNonWitnessSize = 65;
    private const int MaxStandardScriptSigSize = 1650;
    private const int MaxOpReturnRelay = 83;
    private const long DustRelayFeePerK = 3000;

    /// <summary>
    /// Core's <c>testmempoolaccept</c> for one transaction: runs every mempool check without adding it.
    /// <paramref name="maxFeeRate"/> defaults to <see cref="DefaultMaxFeeRate"/>; a zero rate disables the check.
    /// </summary>
    public MempoolAcceptResult TestMempoolAccept(Transaction transaction, FeeRate? maxFeeRate = null)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        lock (_sync)
        {
            ThrowIfDisposed();
            return TryAccept(transaction, testOnly: true, maxFeeRate ?? DefaultMaxFeeRate);
        }
    }

    /// <summary>
    /// Core's <c>testmempoolaccept</c> for several transactions: package rules (at most 25 transactions and 101 kvB,
    /// no duplicates, parents before children, no conflicts inside the package), then each transaction is checked as if
    /// the earlier ones had been accepted. Replacing mempool transactions is not allowed in a package. Nothing is kept.
    /// </summary>
    public PackageAcceptResult TestPackageAccept(IReadOnlyList<Transaction> transactions, FeeRate? maxFeeRate = null)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        var maxFee = maxFeeRate ?? DefaultMaxFeeRate;
        lock (_sync)
        {
            ThrowIfDisposed();
            var packageError = CheckPackage(transactions);
            if (packageError is not null)
            {
                return new PackageAcceptResult(packageError, transactions.Select(_ => (MempoolAcceptResult?)null).ToList());
            }

            var results = new MempoolAcceptResult?[transactions.Count];
            var added = new List<uint256>();
            var savedSequence = _nextMempoolSequence;
            var packageTxids = transactions.Select(t => t.GetHash()).ToHashSet();
            _store.Begin();
            try
            {
                for (var i = 0; i < transactions.Count; i++)
                {
                    var tx = transactions[i];
                    try
                    {
                        if (tx.Inputs.Any(input => _mempool.SpenderOf(input.PrevOut) is { } spender && !packageTxids.Contains(spender)))
                        {
                            throw new DevnetValidationException("bip125-replacement-disallowed");
                        }

                        var entry = AcceptCore(tx, testOnly: false, bypassFeeChecks: false, maxFee: null, Clock.GetUtcNow().ToUnixTimeSeconds());
                        added.Add(entry.Txid);
                        results[i] = maxFee.FeePerK > Money.Zero && entry.Fee > maxFee.GetFee(entry.VirtualSize)
                            ? new MempoolAcceptResult(entry.Txid, entry.Wtxid, false, entry.VirtualSize, entry.Fee, new DevnetValidationException("max-fee-exceeded"))
                            : new MempoolAcceptResult(entry.Txid, entry.Wtxid, true, entry.VirtualSize, entry.Fee, null);
                    }
                    catch (DevnetValidationException ex)
                    {
                        var failed = new MempoolAcceptResult?[transactions.Count];
                        failed[i] = new MempoolAcceptResult(tx.GetHash(), tx.GetWitHash(), false, null, null, ex);
                        return new PackageAcceptResult(null, failed);
                    }
                }

                return new PackageAcceptResult(null, results);
            }
            finally
            {
                _store.Rollback();
                for (var i = added.Count - 1; i >= 0; i--)
                {
                    _mempool.Remove(added[i]);
                }

                _nextMempoolSequence = savedSequence;
            }
        }
    }

    private static string? CheckPackage(IReadOnlyList<Transaction> transactions)
    {
        if (transactions.Count > 25)
        {
            return "package-too-many-transactions";
        }

        if (transactions.Sum(t => (long)DevnetConsensus.VirtualSize(t)) > 101_000)
        {
            return "package-too-large";
        }

        var txids = transactions.Select(t => t.GetHash()).ToList();
        if (txids.Distinct().Count() != txids.Count)
        {
            return "package-contains-duplicates";
        }

        var later = new HashSet<uint256>(txids);
        foreach (var tx in transactions)
        {
            later.Remove(tx.GetHash());
            if (tx.Inputs.Any(i => later.Contains(i.PrevOut.Hash)))
            {
                return "package-not-sorted";
            }
        }

        var spent = new HashSet<OutPoint>();
        foreach (var tx in transactions)
        {
            foreach (var input in tx.Inputs)
            {
                if (!spent.Add(input.PrevOut))
                {
                    return "conflict-in-package";
                }
            }
        }

        return null;
    }

    /// <summary>Adds a transaction to the mempool if it passes every check (no max-fee check).</summary>
    public MempoolAcceptResult AcceptToMempool(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        lock (_sync)
        {
            ThrowIfDisposed();
            return TryAccept(transaction, testOnly: false, maxFeeRate: null);
        }
    }

    /// <summary>
    /// Core's <c>sendrawtransaction</c>: succeeds when the transaction is accepted or already in the mempool; throws
    /// <see cref="DevnetValidationException"/> with Core's code and message otherwise (-27 "Transaction outputs already in
    /// utxo set" when confirmed, -25 for missing inputs or a fee above <paramref name="maxFeeRate"/>, -26 for rejections).
    /// </summary>
    public uint256 SendRawTransaction(Transaction transaction, FeeRate? maxFeeRate = null)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        lock (_sync)
        {
            ThrowIfDisposed();
            var txid = transaction.GetHash();
            if (_mempool.Contains(txid))
            {
                return txid;
            }

            for (var o = 0; o < transaction.Outputs.Count; o++)
            {
                if (_utxo.ContainsKey(new OutPoint(txid, o)))
                {
                    throw new DevnetValidationException("Transaction outputs already in utxo set", rpcCode: RpcErrorCodes.TransactionAlreadyInChain);
                }
            }

            var result = TryAccept(transaction, testOnly: false, maxFeeRate ?? DefaultMaxFeeRate);
            if (result.Rejection is { } rejection)
            {
                if (rejection.Reason == "max-fee-exceeded")
                {
                    throw new DevnetValidationException(
                        "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)", rpcCode: RpcErrorCodes.TransactionError);
                }

                throw rejection;
            }

            return txid;
        }
    }

    private MempoolAcceptResult TryAccept(Transaction tx, bool testOnly, FeeRate? maxFeeRate)
    {
        try
        {
            var entry = AcceptCore(tx, testOnly, bypassFeeChecks: false, maxFeeRate, Clock.GetUtcNow().ToUnixTimeSeconds());
            return new MempoolAcceptResult(entry.Txid, entry.Wtxid, true, entry.VirtualSize, entry.Fee, null);
        }
        catch (DevnetValidationException ex)
        {
            return new MempoolAcceptResult(tx.GetHash(), tx.GetWitHash(), false, null, null, ex);
        }
    }

    /// <summary>Core's AcceptToMemoryPool. Must run under the state lock. Persists the entry unless <paramref name="testOnly"/>.</summary>
    private MempoolEntry AcceptCore(Transaction tx, bool testOnly, bool bypassFeeChecks, FeeRate? maxFee, long entryTime)
    {
        var txid = tx.GetHash();
        DevnetConsensus.CheckTransaction(tx);
        if (tx.IsCoinBase)
        {
            throw new DevnetValidationException("coinbase");
        }

        CheckStandard(tx);
        if (DevnetConsensus.StrippedSize(tx) < MinStandardTxNonWitnessSize)
        {
            throw new DevnetValidationException("tx-size-small");
        }

        var tip = TipEntry;
        var nextHeight = tip.Height + 1;
        if (!DevnetConsensus.IsFinal(tx, nextHeight, tip.MedianTimePast))
        {
            throw new DevnetValidationException("non-final");
        }

        if (_mempool.TryGet(txid, out var existing))
        {
            throw new DevnetValidationException(existing.Wtxid == tx.GetWitHash() ? "txn-already-in-mempool" : "txn-same-nonwitness-data-in-mempool");
        }

        var directConflicts = new HashSet<uint256>();
        foreach (var input in tx.Inputs)
        {
            if (_mempool.SpenderOf(input.PrevOut) is { } spender)
            {
                _mempool.TryGet(spender, out var conflicting);
                if (!Options.FullReplaceByFee && !Mempool.SignalsOptIn(conflicting.Transaction))
                {
                    throw new DevnetValidationException("txn-mempool-conflict");
                }

                directConflicts.Add(spender);
            }
        }

        var coins = new UtxoCoin[tx.Inputs.Count];
        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            var prevOut = tx.Inputs[i].PrevOut;
            if (_utxo.TryGetValue(prevOut, out var coin))
            {
                coins[i] = coin;
            }
            else if (_mempool.TryGet(prevOut.Hash, out var parent) && prevOut.N < parent.Transaction.Outputs.Count)
            {
                coins[i] = new UtxoCoin(parent.Transaction.Outputs[(int)prevOut.N], nextHeight, false);
            }
            else
            {
                for (var o = 0; o < tx.Outputs.Count; o++)
                {
                    if (_utxo.ContainsKey(new OutPoint(txid, o)))
                    {
                        throw new DevnetValidationException("txn-already-known");
                    }
                }

                throw new DevnetValidationException("bad-txns-inputs-missingorspent", rpcCode: RpcErrorCodes.TransactionError);
            }
        }

        if (!SequenceLocksSatisfied(tx, coins.Select(c => c.Height).ToArray(), nextHeight, tip.MedianTimePast, tip))
        {
            throw new DevnetValidationException("non-BIP68-final");
        }

        var fee = CheckTxInputs(tx, coins, nextHeight);
        var sigOpCost = DevnetConsensus.SigOpCost(tx, coins.Select(c => c.Output).ToArray());
        if (sigOpCost > MaxStandardTxSigOpsCost)
        {
            throw new DevnetValidationException("bad-txns-too-many-sigops", string.Create(CultureInfo.InvariantCulture, $"{sigOpCost}"));
        }

        var weight = DevnetConsensus.Weight(tx);
        var vsize = (weight + 3) / 4;
        if (!bypassFeeChecks)
        {
            var minFee = RelayFee(Options.MinRelayFeeRate, vsize);
            if (fee < minFee)
            {
                throw new DevnetValidationException("min relay fee not met", string.Create(CultureInfo.InvariantCulture, $"{fee} < {minFee}"));
            }
        }

        var ancestors = _mempool.Ancestors(tx);
        CheckPackageLimits(tx, ancestors, vsize);
        if (ancestors.Overlaps(directConflicts))
        {
            throw new DevnetValidationException("bad-txns-spends-conflicting-tx", $"{txid} spends conflicting transaction {ancestors.First(directConflicts.Contains)}");
        }

        var allConflicting = new HashSet<uint256>();
        if (directConflicts.Count > 0)
        {
            CheckReplacement(tx, txid, fee, vsize, directConflicts, allConflicting);
        }

        VerifyScripts(tx, coins.Select(c => c.Output).ToArray(), DevnetConsensus.StandardFlags, policy: true);

        if (maxFee is not null && maxFee.FeePerK > Money.Zero && fee > maxFee.GetFee(vsize).Satoshi)
        {
            throw new DevnetValidationException("max-fee-exceeded", string.Create(CultureInfo.InvariantCulture, $"{fee} > {maxFee.GetFee(vsize).Satoshi}"));
        }

        var spendsCoinbase = coins.Any(c => c.IsCoinbase);
        var entry = new MempoolEntry(tx, Money.Satoshis(fee), weight, entryTime, testOnly ? -1 : _nextMempoolSequence, tip.Height, spendsCoinbase);
        if (testOnly)
        {
            return entry;
        }

        var ownTransaction = !_store.InTransaction;
        if (ownTransaction)
        {
            _store.Begin();
        }

        try
        {
            foreach (var conflict in allConflicting)
            {
                _store.RemoveMempoolTx(conflict);
            }

            _store.AddMempoolTx(txid, entry.Sequence, entryTime, tx);
            if (ownTransaction)
            {
                _store.Commit();
            }
        }
        catch
        {
            if (ownTransaction)
            {
                _store.Rollback();
            }

            throw;
        }

        _nextMempoolSequence++;
        foreach (var conflict in allConflicting)
        {
            _mempool.Remove(conflict);
        }

        _mempool.Add(entry);
        return entry;
    }

    private static long RelayFee(FeeRate rate, int vsize)
    {
        var fee = rate.FeePerK.Satoshi * vsize / 1000;
        return fee == 0 && vsize != 0 && rate.FeePerK.Satoshi > 0 ? 1 : fee;
    }

    private void CheckPackageLimits(Transaction tx, HashSet<uint256> ancestors, int vsize)
    {
        if (ancestors.Count + 1 > AncestorLimit)
        {
            throw new DevnetValidationException("too-long-mempool-chain", $"too many unconfirmed ancestors [limit: {AncestorLimit}]");
        }

        long ancestorSize = vsize;
        foreach (var a in ancestors)
        {
            _mempool.TryGet(a, out var e);
            ancestorSize += e.VirtualSize;
        }

        if (ancestorSize > AncestorSizeLimitVBytes)
        {
            throw new DevnetValidationException("too-long-mempool-chain", $"exceeds ancestor size limit [limit: {AncestorSizeLimitVBytes}]");
        }

        foreach (var a in ancestors)
        {
            var descendants = _mempool.Descendants(a);
            if (descendants.Count + 2 > DescendantLimit)
            {
                throw new DevnetValidationException("too-long-mempool-chain", $"too many descendants for tx {a} [limit: {DescendantLimit}]");
            }

            _mempool.TryGet(a, out var self);
            long size = self.VirtualSize + vsize;
            foreach (var d in descendants)
            {
                _mempool.TryGet(d, out var e);
                size += e.VirtualSize;
            }

            if (size > DescendantSizeLimitVBytes)
            {
                throw new DevnetValidationException("too-long-mempool-chain", $"exceeds descendant size limit for tx {a} [limit: {DescendantSizeLimitVBytes}]");
            }
        }

        _ = tx;
    }

    private void CheckReplacement(Transaction tx, uint256 txid, long fee, int vsize, HashSet<uint256> directConflicts, HashSet<uint256> allConflicting)
    {
        // Rule 6: the replacement's fee rate must beat every directly conflicting transaction's.
        foreach (var c in directConflicts)
        {
            _mempool.TryGet(c, out var conflict);
            if ((decimal)fee / vsize <= (decimal)conflict.Fee.Satoshi / conflict.VirtualSize)
            {
                throw new DevnetValidationException(
                    "insufficient fee",
                    $"rejecting replacement {txid}; new feerate {FormatFeeRate(fee, vsize)} <= old feerate {FormatFeeRate(conflict.Fee.Satoshi, conflict.VirtualSize)}");
            }
        }

        // Rule 5: at most 100 transactions evicted.
        var count = 0;
        foreach (var c in directConflicts)
        {
            count += _mempool.Descendants(c).Count + 1;
        }

        if (count > MaxReplacementCandidates)
        {
            throw new DevnetValidationException(
                "too many potential replacements",
                $"rejecting replacement {txid}; too many potential replacements ({count} > {MaxReplacementCandidates})");
        }

        foreach (var c in directConflicts)
        {
            allConflicting.Add(c);
            allConflicting.UnionWith(_mempool.Descendants(c));
        }

        // Rule 2: no new unconfirmed inputs.
        var conflictParents = new HashSet<uint256>();
        foreach (var c in directConflicts)
        {
            _mempool.TryGet(c, out var conflict);
            conflictParents.UnionWith(conflict.Transaction.Inputs.Select(i => i.PrevOut.Hash));
        }

        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            var parent = tx.Inputs[i].PrevOut.Hash;
            if (!conflictParents.Contains(parent) && _mempool.Contains(parent))
            {
                throw new DevnetValidationException("replacement-adds-unconfirmed", $"replacement {txid} adds unconfirmed input, idx {i}");
            }
        }

        // Rules 3 and 4: pay more in absolute fees, and at least the incremental relay fee for its own size.
        long conflictingFees = 0;
        foreach (var c in allConflicting)
        {
            _mempool.TryGet(c, out var e);
            conflictingFees += e.Fee.Satoshi;
        }

        if (fee < conflictingFees)
        {
            throw new DevnetValidationException(
                "insufficient fee",
                $"rejecting replacement {txid}, less fees than conflicting txs; {FormatAmount(Money.Satoshis(fee))} < {FormatAmount(Money.Satoshis(conflictingFees))}");
        }

        var additional = fee - conflictingFees;
        var required = RelayFee(Options.IncrementalRelayFeeRate, vsize);
        if (additional < required)
        {
            throw new DevnetValidationException(
                "insufficient fee",
                $"rejecting replacement {txid}, not enough additional fees to relay; {FormatAmount(Money.Satoshis(additional))} < {FormatAmount(Money.Satoshis(required))}");
        }
    }

    private static string FormatFeeRate(long fee, int vsize)
    {
        var perKvB = fee * 1000 / vsize;
        return string.Create(CultureInfo.InvariantCulture, $"{FormatAmount(Money.Satoshis(perKvB))} BTC/kvB");
    }

    private static void CheckStandard(Transaction tx)
    {
        if ((int)tx.Version < 1 || tx.Version > 2)
        {
            throw new DevnetValidationException("version");
        }

        if (DevnetConsensus.Weight(tx) > MaxStandardTxWeight)
        {
            throw new DevnetValidationException("tx-size");
        }

        foreach (var input in tx.Inputs)
        {
            if (input.ScriptSig.Length > MaxStandardScriptSigSize)
            {
                throw new DevnetValidationException("scriptsig-size");
            }

            if (!input.ScriptSig.IsPushOnly)
            {
                throw new DevnetValidationException("scriptsig-not-pushonly");
            }
        }

        var dataOutputs = 0;
        foreach (var output in tx.Outputs)
        {
            var kind = ClassifyOutput(output.ScriptPubKey);
            if (kind == OutputKind.NonStandard)
            {
                throw new DevnetValidationException("scriptpubkey");
            }

            if (kind == OutputKind.NullData)
            {
                dataOutputs++;
            }
            else if (output.Value.Satoshi < DustThreshold(output))
            {
                throw new DevnetValidationException("dust");
            }
        }

        if (dataOutputs > 1)
        {
            throw new DevnetValidationException("multi-op-return");
        }
    }

    private enum OutputKind
    {
        NonStandard,
        Standard,
        NullData,
    }

    private static OutputKind ClassifyOutput(Script script)
    {
        var bytes = script.ToBytes(true);
        if (bytes.Length > 0 && bytes[0] == (byte)OpcodeType.OP_RETURN)
        {
            var rest = Script.FromBytesUnsafe(bytes[1..]);
            return bytes.Length <= MaxOpReturnRelay && rest.IsPushOnly ? OutputKind.NullData : OutputKind.NonStandard;
        }

        if (script.IsScriptType(ScriptType.P2PKH) || script.IsScriptType(ScriptType.P2SH) || script.IsScriptType(ScriptType.P2PK))
        {
            return OutputKind.Standard;
        }

        // Witness programs (v0 P2WPKH/P2WSH, v1 P2TR and unknown future versions are standard outputs).
        if (bytes.Length >= 4 && bytes.Length <= 42 && (bytes[0] == 0 || (bytes[0] >= 0x51 && bytes[0] <= 0x60)) && bytes[1] + 2 == bytes.Length && bytes[1] >= 2)
        {
            if (bytes[0] == 0 && bytes[1] != 20 && bytes[1] != 32)
            {
                return OutputKind.NonStandard;
            }

            return OutputKind.Standard;
        }

        if (script.IsScriptType(ScriptType.MultiSig))
        {
            var keys = PayToMultiSigTemplate.Instance.ExtractScriptPubKeyParameters(script);
            return keys is not null && keys.PubKeys.Length <= 3 && keys.PubKeys.Length >= 1 ? OutputKind.Standard : OutputKind.NonStandard;
        }

        return OutputKind.NonStandard;
    }

    private static long DustThreshold(TxOut output)
    {
        var size = output.GetSerializedSize();
        var bytes = output.ScriptPubKey.ToBytes(true);
        var isWitness = bytes.Length >= 4 && bytes.Length <= 42 && (bytes[0] == 0 || (bytes[0] >= 0x51 && bytes[0] <= 0x60)) && bytes[1] + 2 == bytes.Length;
        size += isWitness ? 32 + 4 + 1 + (107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
        return DustRelayFeePerK * size / 1000;
    }
}
