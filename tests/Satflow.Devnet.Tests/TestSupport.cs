using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Devnet.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

internal sealed class RecordingListener : IBlockListener
{
    public List<string> Events { get; } = [];

    public ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
    {
        lock (Events)
        {
            Events.Add($"+{height}:{block.GetHash()}");
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default)
    {
        lock (Events)
        {
            Events.Add($"-{height}:{header.GetHash()}");
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>An in-memory devnet with a funded miner key.</summary>
internal sealed class TestChain : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public TestChain(string? dataDirectory = null, ManualClock? clock = null)
    {
        Clock = clock ?? new ManualClock(Start);
        Chain = DevnetChain.Open(new DevnetOptions { DataDirectory = dataDirectory, TimeProvider = Clock });
    }

    public ManualClock Clock { get; }

    public DevnetChain Chain { get; }

    public Key MinerKey { get; } = new Key(Enumerable.Repeat((byte)7, 32).ToArray());

    public Script MinerScript => MinerKey.PubKey.WitHash.ScriptPubKey;

    public static Network Net => Network.RegTest;

    /// <summary>Mines blocks, advancing the clock a minute per block so timestamps look real.</summary>
    public async Task<IReadOnlyList<uint256>> MineAsync(int count, Script? payout = null)
    {
        var hashes = new List<uint256>();
        for (var i = 0; i < count; i++)
        {
            Clock.Advance(TimeSpan.FromMinutes(1));
            hashes.AddRange(await Chain.MineBlocksAsync(1, payout ?? MinerScript));
        }

        return hashes;
    }

    /// <summary>Mines 100 + n blocks and returns the n mature coinbase coins (one per block from height 1).</summary>
    public async Task<List<Coin>> FundAsync(int n)
    {
        await MineAsync(100 + n);
        var coins = new List<Coin>();
        for (var h = 1; h <= n; h++)
        {
            coins.Add(CoinbaseCoin(h));
        }

        return coins;
    }

    public Coin CoinbaseCoin(int height)
    {
        var block = Chain.GetBlockInfo(Chain.GetBlockHash(height)!)!.Block;
        return new Coin(block.Transactions[0], 0u);
    }

    /// <summary>Spends P2WPKH miner coins to the given outputs, signed.</summary>
    public Transaction Spend(IEnumerable<Coin> coins, params TxOut[] outputs) => Spend(MinerKey, coins, outputs);

    public static Transaction Spend(Key key, IEnumerable<Coin> coins, params TxOut[] outputs)
    {
        var tx = Net.CreateTransaction();
        tx.Version = 2;
        var coinList = coins.ToList();
        foreach (var c in coinList)
        {
            tx.Inputs.Add(new TxIn(c.Outpoint) { Sequence = Sequence.Final });
        }

        foreach (var o in outputs)
        {
            tx.Outputs.Add(o);
        }

        Sign(tx, key, coinList);
        return tx;
    }

    public static void Sign(Transaction tx, Key key, IList<Coin> coins) => tx.Sign(key.GetBitcoinSecret(Net), coins.Cast<ICoin>());

    public Script NewScript() => new Key().PubKey.WitHash.ScriptPubKey;

    /// <summary>Builds a block on <paramref name="prev"/> (default: tip) holding the given transactions, with a valid
    /// coinbase, commitment, merkle root and proof of work.</summary>
    public Block BuildBlock(IEnumerable<Transaction> txs, uint256? prev = null, Money? coinbaseValue = null, int? height = null, DateTimeOffset? time = null)
    {
        var prevInfo = Chain.GetBlockInfo(prev ?? Chain.Tip.Hash)!;
        var h = height ?? prevInfo.Height + 1;
        var block = Net.Consensus.ConsensusFactory.CreateBlock();
        block.Header.Version = 0x20000000;
        block.Header.HashPrevBlock = prevInfo.Hash;
        block.Header.Bits = new Target(DevnetConsensus.RegtestBits);
        block.Header.BlockTime = time ?? DateTimeOffset.FromUnixTimeSeconds(Math.Max(prevInfo.MedianTimePast + 1, Clock.Now.ToUnixTimeSeconds()) + 1);
        var coinbase = Net.CreateTransaction();
        coinbase.Inputs.Add(new TxIn(new Script(Op.GetPushOp(h), OpcodeType.OP_0)));
        coinbase.Inputs[0].WitScript = new WitScript(new List<byte[]> { new byte[32] });
        coinbase.Outputs.Add(new TxOut(coinbaseValue ?? DevnetConsensus.GetBlockSubsidy(h), MinerScript));
        block.Transactions.Add(coinbase);
        block.Transactions.AddRange(txs);
        Finish(block);
        return block;
    }

    /// <summary>Recomputes the witness commitment and merkle root, then grinds.</summary>
    public static void Finish(Block block)
    {
        var coinbase = block.Transactions[0];
        var index = DevnetConsensus.GetWitnessCommitmentIndex(block);
        if (index >= 0)
        {
            coinbase.Outputs.RemoveAt(index);
        }

        var commitment = DevnetConsensus.ComputeWitnessCommitment(DevnetConsensus.ComputeWitnessMerkleRoot(block), new byte[32]);
        coinbase.Outputs.Add(new TxOut(Money.Zero, DevnetConsensus.WitnessCommitmentScript(commitment)));
        block.UpdateMerkleRoot();
        DevnetChain.Grind(block.Header);
    }

    public async Task<string?> SubmitAsync(Block block) => (await Chain.SubmitBlockAsync(block)).ToRpcResult();

    public void Dispose() => Chain.Dispose();
}
