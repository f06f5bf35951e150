using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>
/// Exact weight accounting for the transactions the wallet builds (all inputs segwit, so the marker and flag are always
/// present). Input weights are upper bounds that assume the largest signature: a P2WPKH input is 41 non-witness bytes
/// (164 WU) plus a witness of 1 + 1 + 72 + 1 + 33 = 108 WU, 272 WU (68 vB); a P2TR key-path input is 164 WU plus
/// 1 + 1 + 64 = 66 WU, 230 WU (57.5 vB).
/// </summary>
public static class TxWeights
{
    /// <summary>Weight of a P2WPKH input with a 72-byte signature.</summary>
    public const int P2wpkhInput = ((32 + 4 + 1 + 4) * 4) + 1 + 1 + 72 + 1 + 33;

    /// <summary>Weight of a P2TR key-path input with a 64-byte (default sighash) signature.</summary>
    public const int P2trKeyPathInput = ((32 + 4 + 1 + 4) * 4) + 1 + 1 + 64;

    /// <summary>Weight of a P2WPKH output (8 + 1 + 22 bytes).</summary>
    public const int P2wpkhOutput = (8 + 1 + 22) * 4;

    /// <summary>Weight of a P2TR output (8 + 1 + 34 bytes).</summary>
    public const int P2trOutput = (8 + 1 + 34) * 4;

    /// <summary>Dust limit of a P2WPKH output at Bitcoin Core's 3 sat/vB dust relay fee.</summary>
    public const long P2wpkhDust = 294;

    /// <summary>Dust limit of a P2TR output.</summary>
    public const long P2trDust = 330;

    /// <summary>The minimum relay fee and BIP125 incremental relay fee: 1 sat/vB.</summary>
    public static FeeRate IncrementalRelayFee { get; } = new(Money.Satoshis(1000));

    /// <summary>The weight of spending an output of the given account type.</summary>
    public static int InputWeight(AddressType type) => type == AddressType.P2wpkh ? P2wpkhInput : P2trKeyPathInput;

    /// <summary>The weight of an output paying to <paramref name="scriptPubKey"/>.</summary>
    public static int OutputWeight(Script scriptPubKey)
    {
        ArgumentNullException.ThrowIfNull(scriptPubKey);
        var len = scriptPubKey.Length;
        return (8 + VarIntSize(len) + len) * 4;
    }

    /// <summary>The weight of the change output of an account type.</summary>
    public static int ChangeOutputWeight(AddressType type) => type == AddressType.P2wpkh ? P2wpkhOutput : P2trOutput;

    /// <summary>The dust limit of an account type's outputs.</summary>
    public static long Dust(AddressType type) => type == AddressType.P2wpkh ? P2wpkhDust : P2trDust;

    /// <summary>
    /// Bitcoin Core's dust threshold at 3 sat/vB: (output size + the size of the input spending it) × 3, where a witness
    /// program's input counts 67 vB and any other 148 vB.
    /// </summary>
    public static long DustThreshold(Script scriptPubKey)
    {
        ArgumentNullException.ThrowIfNull(scriptPubKey);
        if (scriptPubKey.IsUnspendable)
        {
            return 0;
        }
        var outputSize = 8 + VarIntSize(scriptPubKey.Length) + scriptPubKey.Length;
        var spendSize = scriptPubKey.IsScriptType(ScriptType.Witness) ? 32 + 4 + 1 + (107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
        return (outputSize + spendSize) * 3L;
    }

    /// <summary>
    /// The weight of a transaction with segwit inputs: 4 × (version + locktime + the two count varints) + 2 for the
    /// marker and flag, plus the inputs' and outputs' weights.
    /// </summary>
    public static long TransactionWeight(int inputCount, long inputsWeight, int outputCount, long outputsWeight) =>
        (4L * (4 + 4 + VarIntSize(inputCount) + VarIntSize(outputCount))) + 2 + inputsWeight + outputsWeight;

    /// <summary>
    /// The fee at <paramref name="rate"/> for <paramref name="weight"/>: the rate times the virtual size (weight / 4
    /// rounded up, as Bitcoin Core measures it for relay and mining), rounded up to the satoshi. Charging fractional
    /// vbytes instead would leave the transaction just under the requested rate in every node's eyes.
    /// </summary>
    public static long FeeFor(FeeRate rate, long weight)
    {
        ArgumentNullException.ThrowIfNull(rate);
        var perKvb = rate.FeePerK.Satoshi;
        return ((perKvb * VirtualSize(weight)) + 999) / 1000;
    }

    /// <summary>The virtual size of a weight (rounded up).</summary>
    public static long VirtualSize(long weight) => (weight + 3) / 4;

    /// <summary>The size of a Bitcoin CompactSize integer.</summary>
    public static int VarIntSize(long value) => value switch
    {
        < 0xfd => 1,
        <= 0xffff => 3,
        <= 0xffffffff => 5,
        _ => 9,
    };
}

/// <summary>Weights of finished transactions.</summary>
public static class TransactionWeight
{
    /// <summary>The BIP141 weight of a transaction: 3 × stripped size + total size.</summary>
    public static long Of(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var total = transaction.ToBytes().Length;
        if (!transaction.HasWitness)
        {
            return total * 4L;
        }
        var stripped = transaction.Clone();
        foreach (var input in stripped.Inputs)
        {
            input.WitScript = WitScript.Empty;
        }
        return (stripped.ToBytes().Length * 3L) + total;
    }
}
