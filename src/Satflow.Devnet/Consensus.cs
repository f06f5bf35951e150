using System.Numerics;
using NBitcoin;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Devnet;

/// <summary>Regtest consensus constants and the context-free checks Bitcoin Core runs (CheckTransaction, CheckBlock).</summary>
public static class DevnetConsensus
{
    /// <summary>Maximum block weight (BIP141).</summary>
    public const int MaxBlockWeight = 4_000_000;

    /// <summary>Maximum block sigop cost.</summary>
    public const int MaxBlockSigOpsCost = 80_000;

    /// <summary>Blocks a coinbase output must wait before it may be spent.</summary>
    public const int CoinbaseMaturity = 100;

    /// <summary>Regtest subsidy halving interval.</summary>
    public const int SubsidyHalvingInterval = 150;

    /// <summary>The compact target every regtest block must carry.</summary>
    public const uint RegtestBits = 0x207fffff;

    /// <summary>Largest amount of money (21M BTC).</summary>
    public const long MaxMoney = 21_000_000L * 100_000_000L;

    /// <summary>Allowed drift of a block timestamp into the future.</summary>
    public static readonly TimeSpan MaxFutureBlockTime = TimeSpan.FromHours(2);

    internal const uint SequenceFinal = 0xffffffff;
    internal const uint SequenceLockTimeDisableFlag = 1u << 31;
    internal const uint SequenceLockTimeTypeFlag = 1u << 22;
    internal const uint SequenceLockTimeMask = 0x0000ffff;
    internal const uint LockTimeThreshold = 500_000_000;

    /// <summary>Script flags Core enforces in blocks on regtest (every soft fork active).</summary>
    public const ScriptVerify ConsensusFlags = ScriptVerify.P2SH | ScriptVerify.DerSig | ScriptVerify.CheckLockTimeVerify
        | ScriptVerify.CheckSequenceVerify | ScriptVerify.Witness | ScriptVerify.NullDummy | ScriptVerify.Taproot;

    /// <summary>Script flags Core's mempool enforces (consensus plus policy).</summary>
    public const ScriptVerify StandardFlags = ConsensusFlags | ScriptVerify.StrictEnc | ScriptVerify.MinimalData
        | ScriptVerify.DiscourageUpgradableNops | ScriptVerify.CleanStack | ScriptVerify.MinimalIf | ScriptVerify.NullFail
        | ScriptVerify.LowS | ScriptVerify.DiscourageUpgradableWitnessProgram | ScriptVerify.WitnessPubkeyType
        | ScriptVerify.ConstScriptCode | ScriptVerify.DiscourageUpgradableTaprootVersion | ScriptVerify.DiscourageOpSuccess
        | ScriptVerify.DiscourageUpgradablePubKeyType;

    /// <summary>The block subsidy at a height (50 BTC halving every 150 blocks on regtest).</summary>
    public static Money GetBlockSubsidy(int height)
    {
        var halvings = height / SubsidyHalvingInterval;
        if (halvings >= 64)
        {
            return Money.Zero;
        }

        return Money.Satoshis(50L * 100_000_000L >> halvings);
    }

    /// <summary>Serialized size without witness data.</summary>
    public static int StrippedSize(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return tx.GetSerializedSize(TransactionOptions.None);
    }

    /// <summary>Transaction weight (BIP141).</summary>
    public static int Weight(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return (StrippedSize(tx) * 3) + tx.GetSerializedSize(TransactionOptions.All);
    }

    /// <summary>Virtual size: weight / 4 rounded up.</summary>
    public static int VirtualSize(Transaction tx) => (Weight(tx) + 3) / 4;

    /// <summary>Block weight (BIP141).</summary>
    public static int BlockWeight(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var stripped = block.GetSerializedSize(TransactionOptions.None);
        var full = block.GetSerializedSize(TransactionOptions.All);
        return (stripped * 3) + full;
    }

    /// <summary>Core's CheckTransaction: context-free transaction rules.</summary>
    /// <exception cref="DevnetValidationException">With Core's reject reason.</exception>
    public static void CheckTransaction(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        if (tx.Inputs.Count == 0)
        {
            throw new DevnetValidationException("bad-txns-vin-empty");
        }

        if (tx.Outputs.Count == 0)
        {
            throw new DevnetValidationException("bad-txns-vout-empty");
        }

        if (StrippedSize(tx) * 4 > MaxBlockWeight)
        {
            throw new DevnetValidationException("bad-txns-oversize");
        }

        long total = 0;
        foreach (var output in tx.Outputs)
        {
            var value = output.Value.Satoshi;
            if (value < 0)
            {
                throw new DevnetValidationException("bad-txns-vout-negative");
            }

            if (value > MaxMoney)
            {
                throw new DevnetValidationException("bad-txns-vout-toolarge");
            }

            total += value;
            if (total > MaxMoney)
            {
                throw new DevnetValidationException("bad-txns-txouttotal-toolarge");
            }
        }

        var seen = new HashSet<OutPoint>();
        foreach (var input in tx.Inputs)
        {
            if (!seen.Add(input.PrevOut))
            {
                throw new DevnetValidationException("bad-txns-inputs-duplicate");
            }
        }

        if (tx.IsCoinBase)
        {
            var length = tx.Inputs[0].ScriptSig.Length;
            if (length < 2 || length > 100)
            {
                throw new DevnetValidationException("bad-cb-length");
            }
        }
        else
        {
            foreach (var input in tx.Inputs)
            {
                if (input.PrevOut.IsNull)
                {
                    throw new DevnetValidationException("bad-txns-prevout-null");
                }
            }
        }
    }

    /// <summary>Legacy (non-accurate) sigop count of a transaction, as Core's GetLegacySigOpCount.</summary>
    public static int LegacySigOpCount(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        long count = 0;
        foreach (var input in tx.Inputs)
        {
            count += input.ScriptSig.GetSigOpCount(false);
        }

        foreach (var output in tx.Outputs)
        {
            count += output.ScriptPubKey.GetSigOpCount(false);
        }

        return (int)Math.Min(count, int.MaxValue);
    }

    /// <summary>
    /// Core's GetTransactionSigOpCost: legacy sigops and P2SH sigops count four each, witness sigops one each.
    /// <paramref name="spentOutputs"/> must match the inputs (ignored for a coinbase).
    /// </summary>
    public static long SigOpCost(Transaction tx, IReadOnlyList<TxOut> spentOutputs)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(spentOutputs);
        long cost = LegacySigOpCount(tx) * 4L;
        if (tx.IsCoinBase)
        {
            return cost;
        }

        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            var input = tx.Inputs[i];
            var prevScript = spentOutputs[i].ScriptPubKey;
            if (prevScript.IsScriptType(ScriptType.P2SH))
            {
                cost += prevScript.GetSigOpCount(input.ScriptSig) * 4L;
            }

            cost += WitnessSigOps(input, prevScript);
        }

        return cost;
    }

    private static long WitnessSigOps(TxIn input, Script prevScript)
    {
        var program = prevScript.ToBytes(true);
        if (prevScript.IsScriptType(ScriptType.P2SH) && input.ScriptSig.IsPushOnly)
        {
            var pushes = input.ScriptSig.ToOps().ToList();
            if (pushes.Count == 0 || pushes[^1].PushData is null)
            {
                return 0;
            }

            program = pushes[^1].PushData;
        }

        if (program.Length < 4 || program.Length > 42 || program[1] + 2 != program.Length || program[0] != 0)
        {
            return 0;
        }

        var programLength = program[1];
        if (programLength == 20)
        {
            return 1;
        }

        if (programLength == 32 && input.WitScript.PushCount > 0)
        {
            var witnessScript = Script.FromBytesUnsafe(input.WitScript[input.WitScript.PushCount - 1]);
            return witnessScript.GetSigOpCount(true);
        }

        return 0;
    }

    /// <summary>Computes the merkle root of a list of hashes, reporting CVE-2012-2459 mutation as Core does.</summary>
    public static uint256 ComputeMerkleRoot(IReadOnlyList<uint256> leaves, out bool mutated)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        mutated = false;
        if (leaves.Count == 0)
        {
            return uint256.Zero;
        }

        var level = new List<byte[]>(leaves.Count);
        foreach (var leaf in leaves)
        {
            level.Add(leaf.ToBytes());
        }

        var buffer = new byte[64];
        while (level.Count > 1)
        {
            for (var i = 0; i + 1 < level.Count; i += 2)
            {
                if (level[i].AsSpan().SequenceEqual(level[i + 1]))
                {
                    mutated = true;
                }
            }

            if (level.Count % 2 == 1)
            {
                level.Add(level[^1]);
            }

            var next = new List<byte[]>(level.Count / 2);
            for (var i = 0; i < level.Count; i += 2)
            {
                level[i].CopyTo(buffer, 0);
                level[i + 1].CopyTo(buffer, 32);
                next.Add(SHA256.HashData(SHA256.HashData(buffer)));
            }

            level = next;
        }

        return new uint256(level[0]);
    }

    /// <summary>The BIP141 commitment header in a coinbase output: OP_RETURN, push 36, 0xaa21a9ed.</summary>
    internal static ReadOnlySpan<byte> WitnessCommitmentHeader => [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

    /// <summary>Index of the coinbase output holding the witness commitment (the last matching one), or -1.</summary>
    public static int GetWitnessCommitmentIndex(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (block.Transactions.Count == 0)
        {
            return -1;
        }

        var index = -1;
        var outputs = block.Transactions[0].Outputs;
        for (var i = 0; i < outputs.Count; i++)
        {
            var bytes = outputs[i].ScriptPubKey.ToBytes(true);
            if (bytes.Length >= 38 && bytes.AsSpan(0, 6).SequenceEqual(WitnessCommitmentHeader))
            {
                index = i;
            }
        }

        return index;
    }

    /// <summary>The witness merkle root (coinbase wtxid taken as zero).</summary>
    public static uint256 ComputeWitnessMerkleRoot(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var leaves = new List<uint256>(block.Transactions.Count) { uint256.Zero };
        for (var i = 1; i < block.Transactions.Count; i++)
        {
            leaves.Add(block.Transactions[i].GetWitHash());
        }

        return ComputeMerkleRoot(leaves, out _);
    }

    /// <summary>The 32-byte commitment: SHA256d(witness root || reserved value).</summary>
    public static byte[] ComputeWitnessCommitment(uint256 witnessRoot, ReadOnlySpan<byte> reservedValue)
    {
        ArgumentNullException.ThrowIfNull(witnessRoot);
        var buffer = new byte[64];
        witnessRoot.ToBytes().CopyTo(buffer, 0);
        reservedValue.CopyTo(buffer.AsSpan(32));
        return SHA256.HashData(SHA256.HashData(buffer));
    }

    /// <summary>Builds the coinbase output script carrying a witness commitment.</summary>
    public static Script WitnessCommitmentScript(byte[] commitment)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        var bytes = new byte[38];
        WitnessCommitmentHeader.CopyTo(bytes);
        commitment.CopyTo(bytes, 6);
        return Script.FromBytesUnsafe(bytes);
    }

    /// <summary>Core's CheckBlock: proof of work, merkle root, size, coinbase placement, transactions, legacy sigops.</summary>
    /// <exception cref="DevnetValidationException">With Core's reject reason.</exception>
    public static void CheckBlock(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        CheckProofOfWork(block.Header);

        var root = ComputeMerkleRoot(block.Transactions.Select(t => t.GetHash()).ToList(), out var mutated);
        if (root != block.Header.HashMerkleRoot)
        {
            throw new DevnetValidationException("bad-txnmrklroot", "hashMerkleRoot mismatch");
        }

        if (mutated)
        {
            throw new DevnetValidationException("bad-txns-duplicate", "duplicate transaction");
        }

        if (block.Transactions.Count == 0 || block.Transactions.Count * 4 > MaxBlockWeight
            || block.GetSerializedSize(TransactionOptions.None) * 4 > MaxBlockWeight)
        {
            throw new DevnetValidationException("bad-blk-length", "size limits failed");
        }

        if (!block.Transactions[0].IsCoinBase)
        {
            throw new DevnetValidationException("bad-cb-missing", "first tx is not coinbase");
        }

        for (var i = 1; i < block.Transactions.Count; i++)
        {
            if (block.Transactions[i].IsCoinBase)
            {
                throw new DevnetValidationException("bad-cb-multiple", "more than one coinbase");
            }
        }

        long sigops = 0;
        foreach (var tx in block.Transactions)
        {
            CheckTransaction(tx);
            sigops += LegacySigOpCount(tx);
        }

        if (sigops * 4 > MaxBlockSigOpsCost)
        {
            throw new DevnetValidationException("bad-blk-sigops", "out-of-bounds SigOpCount");
        }
    }

    /// <summary>The regtest proof-of-work limit (the target <see cref="RegtestBits"/> encodes).</summary>
    private static readonly BigInteger PowLimit = new BigInteger(RegtestBits & 0x007fffff) << (8 * ((int)(RegtestBits >> 24) - 3));

    /// <summary>Checks that the header hash meets the target its nBits encode (and that nBits is within the pow limit).</summary>
    public static void CheckProofOfWork(BlockHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        // Core's arith_uint256::SetCompact: the mantissa is shifted before the sign and overflow checks, so a size of 0..2
        // can shift it to zero (NBitcoin's Target throws on those instead of answering zero).
        var bits = header.Bits.ToCompact();
        var size = (int)(bits >> 24);
        var word = bits & 0x007fffff;
        if (size <= 3)
        {
            word >>= 8 * (3 - size);
        }
        var negative = word != 0 && (bits & 0x00800000) != 0;
        var overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
        if (negative || overflow || word == 0)
        {
            throw new DevnetValidationException("high-hash", "proof of work failed");
        }

        var target = size <= 3 ? new BigInteger(word) : new BigInteger(word) << (8 * (size - 3));
        if (target > PowLimit || new BigInteger(header.GetHash().ToBytes(), isUnsigned: true) > target)
        {
            throw new DevnetValidationException("high-hash", "proof of work failed");
        }
    }

    /// <summary>Core's IsFinalTx.</summary>
    public static bool IsFinal(Transaction tx, int height, long blockTime)
    {
        ArgumentNullException.ThrowIfNull(tx);
        var lockTime = (uint)tx.LockTime;
        if (lockTime == 0)
        {
            return true;
        }

        var limit = lockTime < LockTimeThreshold ? height : blockTime;
        if (lockTime < limit)
        {
            return true;
        }

        foreach (var input in tx.Inputs)
        {
            if ((uint)input.Sequence != SequenceFinal)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Bitcoin Core's ScriptErrorString text for an NBitcoin script error.</summary>
    public static string ScriptErrorText(ScriptError? error) => error switch
    {
        ScriptError.OK => "No error",
        ScriptError.EvalFalse => "Script evaluated without error but finished with a false/empty top stack element",
        ScriptError.Verify => "Script failed an OP_VERIFY operation",
        ScriptError.EqualVerify => "Script failed an OP_EQUALVERIFY operation",
        ScriptError.CheckMultiSigVerify => "Script failed an OP_CHECKMULTISIGVERIFY operation",
        ScriptError.CheckSigVerify => "Script failed an OP_CHECKSIGVERIFY operation",
        ScriptError.NumEqualVerify => "Script failed an OP_NUMEQUALVERIFY operation",
        ScriptError.ScriptSize => "Script is too big",
        ScriptError.PushSize => "Push value size limit exceeded",
        ScriptError.OpCount => "Operation limit exceeded",
        ScriptError.StackSize => "Stack size limit exceeded",
        ScriptError.SigCount => "Signature count negative or greater than pubkey count",
        ScriptError.PubkeyCount => "Pubkey count negative or limit exceeded",
        ScriptError.BadOpCode => "Opcode missing or not understood",
        ScriptError.DisabledOpCode => "Attempted to use a disabled opcode",
        ScriptError.InvalidStackOperation => "Operation not valid with the current stack size",
        ScriptError.InvalidAltStackOperation => "Operation not valid with the current altstack size",
        ScriptError.OpReturn => "OP_RETURN was encountered",
        ScriptError.UnbalancedConditional => "Invalid OP_IF construction",
        ScriptError.NegativeLockTime => "Negative locktime",
        ScriptError.UnsatisfiedLockTime => "Locktime requirement not satisfied",
        ScriptError.SigHashType => "Signature hash type missing or not understood",
        ScriptError.SigDer => "Non-canonical DER signature",
        ScriptError.MinimalData => "Data push larger than necessary",
        ScriptError.SigPushOnly => "Only push operators allowed in signatures",
        ScriptError.SigHighS => "Non-canonical signature: S value is unnecessarily high",
        ScriptError.SigNullDummy => "Dummy CHECKMULTISIG argument must be zero",
        ScriptError.MinimalIf => "OP_IF/NOTIF argument must be minimal",
        ScriptError.NullFail => "Signature must be zero for failed CHECK(MULTI)SIG operation",
        ScriptError.DiscourageUpgradableNops => "NOPx reserved for soft-fork upgrades",
        ScriptError.DiscourageUpgradableWitnessProgram => "Witness version reserved for soft-fork upgrades",
        ScriptError.DiscourageUpgradableTaprootVersion => "Taproot version reserved for soft-fork upgrades",
        ScriptError.DiscourageOpSuccess => "OP_SUCCESSx reserved for soft-fork upgrades",
        ScriptError.DiscourageUpgradablePubKeyType => "Public key version reserved for soft-fork upgrades",
        ScriptError.PubKeyType => "Public key is neither compressed or uncompressed",
        ScriptError.CleanStack => "Stack size must be exactly one after execution",
        ScriptError.WitnessProgramWrongLength => "Witness program has incorrect length",
        ScriptError.WitnessProgramEmpty => "Witness program was passed an empty witness",
        ScriptError.WitnessProgramMissmatch => "Witness program hash mismatch",
        ScriptError.WitnessMalleated => "Witness requires empty scriptSig",
        ScriptError.WitnessMalleatedP2SH => "Witness requires only-redeemscript scriptSig",
        ScriptError.WitnessUnexpected => "Witness provided for non-witness script",
        ScriptError.WitnessPubkeyType => "Using non-compressed keys in segwit",
        ScriptError.SchnorrSigSize => "Invalid Schnorr signature size",
        ScriptError.SchnorrSigHashType => "Invalid Schnorr signature hash type",
        ScriptError.SchnorrSig => "Invalid Schnorr signature",
        ScriptError.TaprootWrongControlSize => "Invalid Taproot control block size",
        ScriptError.TapscriptValidationWeight => "Too much signature validation relative to witness weight",
        ScriptError.TapscriptCheckMultiSig => "OP_CHECKMULTISIG(VERIFY) is not available in tapscript",
        _ => "unknown error",
    };
}
