using NBitcoin;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions.Sweeps;

namespace Satflow.Lightning.Harness;

/// <summary>
/// A node's fee coins for anchor CPFP and zero-fee HTLC claims: one key, coins mined to it (coinbase outputs), each
/// lent while unspent on the chain (mempool included).
/// </summary>
public sealed class HarnessFeeWallet : IClaimFeeWallet
{
    private readonly HarnessChain _chain;
    private readonly List<(OutPoint OutPoint, Money Amount)> _coins = [];

    /// <summary>Creates the wallet with a key derived from the node index.</summary>
    public HarnessFeeWallet(HarnessChain chain, int nodeIndex)
    {
        _chain = chain;
        var secret = new byte[32];
        secret[0] = 0xfe;
        secret[31] = (byte)(nodeIndex + 1);
        Key = new Key(secret);
    }

    /// <summary>The key of every coin.</summary>
    public Key Key { get; }

    /// <summary>The script coins are mined to (and change returns to).</summary>
    public Script Script => Key.PubKey.WitHash.ScriptPubKey;

    /// <summary>How many times a coin was lent.</summary>
    public int Lent { get; private set; }

    /// <summary>Records the outputs of a block paying our script.</summary>
    public void BlockConnected(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        foreach (var tx in block.Transactions)
        {
            for (var i = 0; i < tx.Outputs.Count; i++)
            {
                if (tx.Outputs[i].ScriptPubKey == Script)
                {
                    _coins.Add((new OutPoint(tx.GetHash(), i), tx.Outputs[i].Value));
                }
            }
        }
    }

    /// <inheritdoc />
    public ClaimFeeInput? GetFeeInput(Money minimumAmount, IReadOnlyCollection<OutPoint> exclude)
    {
        ArgumentNullException.ThrowIfNull(minimumAmount);
        ArgumentNullException.ThrowIfNull(exclude);
        foreach (var (outPoint, amount) in _coins)
        {
            if (amount >= minimumAmount && !exclude.Contains(outPoint) && _chain.Devnet.GetTxOut(outPoint) is { } utxo
                && (!utxo.IsCoinbase || utxo.Confirmations >= 100))
            {
                Lent++;
                return new ClaimFeeInput(SweepInput.P2wpkh(outPoint, amount, Key), Script);
            }
        }
        return null;
    }
}
