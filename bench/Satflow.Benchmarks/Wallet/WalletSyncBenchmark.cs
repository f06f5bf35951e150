using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Benchmarks.Wallet;

/// <summary>
/// Wallet sync throughput: 10,000 synthetic regtest blocks (coinbase + 3 foreign transactions each; every 10th block also
/// pays the wallet, alternating P2WPKH and P2TR, on consecutive receive addresses so the gap window keeps moving) fed to
/// <see cref="OnChainWallet.BlockConnectedAsync"/>; each block is one SQLite transaction. Blocks/s = 10,000 / mean.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
[MemoryDiagnoser]
public class WalletSyncBenchmark
{
    private const string Mnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    private readonly List<Block> _blocks = [];
    private OnChainWallet? _wallet;
    private string? _dir;

    /// <summary>Number of blocks synced per operation.</summary>
    public const int BlockCount = 10_000;

    /// <summary>False: in-memory SQLite; true: a WAL-mode file in a temporary folder.</summary>
    [Params(false, true)]
    public bool OnDisk { get; set; }

    [GlobalSetup]
    public void BuildBlocks()
    {
        var network = Network.RegTest;
        var master = new Mnemonic(Mnemonic, Wordlist.English).DeriveExtKey();
        var wpkh = HdAccount.FromMaster(master, AddressType.P2wpkh, network);
        var tr = HdAccount.FromMaster(master, AddressType.P2tr, network);
        var foreign = new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Segwit);
        var parent = network.GetGenesis();
        var rng = new Random(1);
        for (var height = 1; height <= BlockCount; height++)
        {
            var block = network.Consensus.ConsensusFactory.CreateBlock();
            block.Header.HashPrevBlock = parent.GetHash();
            block.Header.BlockTime = parent.Header.BlockTime + TimeSpan.FromMinutes(10);
            block.Header.Bits = parent.Header.Bits;
            var coinbase = network.CreateTransaction();
            coinbase.Inputs.Add(new TxIn(new Script(Op.GetPushOp(height))));
            coinbase.Outputs.Add(new TxOut(Money.Coins(50), foreign));
            block.Transactions.Add(coinbase);
            for (var i = 0; i < 3; i++)
            {
                block.Transactions.Add(Payment(network, rng, foreign, Money.Satoshis(rng.Next(1_000, 1_000_000))));
            }
            if (height % 10 == 0)
            {
                var n = height / 10;
                var script = n % 2 == 0 ? wpkh.ScriptPubKey(KeyChain.Receive, n / 2) : tr.ScriptPubKey(KeyChain.Receive, n / 2);
                block.Transactions.Add(Payment(network, rng, script, Money.Satoshis(10_000 + n)));
            }
            block.UpdateMerkleRoot();
            _blocks.Add(block);
            parent = block;
        }
    }

    private static Transaction Payment(Network network, Random rng, Script to, Money amount)
    {
        var tx = network.CreateTransaction();
        var prev = new byte[32];
        rng.NextBytes(prev);
        tx.Inputs.Add(new TxIn(new OutPoint(new uint256(prev), 0)));
        tx.Outputs.Add(new TxOut(amount, to));
        tx.Outputs.Add(new TxOut(Money.Satoshis(5_000), new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.TaprootBIP86)));
        return tx;
    }

    [IterationSetup]
    public void NewWallet()
    {
        _dir = OnDisk ? Path.Combine(Path.GetTempPath(), "satflow-bench-wallet", Guid.NewGuid().ToString("N")) : null;
        _wallet = OnChainWallet.Restore(new WalletOptions(Network.RegTest, _dir) { KdfIterations = 1_000 }, Mnemonic, "bench", new NullBroadcaster());
    }

    [IterationCleanup]
    public void DropWallet()
    {
        var balance = _wallet!.GetBalance().Confirmed;
        if (balance != Money.Satoshis(Enumerable.Range(1, BlockCount / 10).Sum(n => 10_000L + n)))
        {
            throw new InvalidOperationException($"the wallet found {balance}, not every payment");
        }
        _wallet.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_dir is not null)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Benchmark(Description = "sync 10,000 blocks")]
    public async Task SyncBlocks()
    {
        for (var i = 0; i < _blocks.Count; i++)
        {
            await _wallet!.BlockConnectedAsync(_blocks[i], i + 1);
        }
    }

    private sealed class NullBroadcaster : IBroadcaster
    {
        public Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("the sync benchmark never broadcasts");
    }
}
