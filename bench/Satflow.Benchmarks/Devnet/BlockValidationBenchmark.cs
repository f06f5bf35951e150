using BenchmarkDotNet.Attributes;
using NBitcoin;
using Satflow.Devnet;

namespace Satflow.Benchmarks.Devnet;

/// <summary>
/// Full validation (CheckBlock, contextual checks, UTXO lookups, BIP68, script verification) of a block holding 2,000
/// single-input P2WPKH spends. Time is reported per input (OperationsPerInvoke), so inputs/s = 1 / mean.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
[MemoryDiagnoser]
public class BlockValidationBenchmark
{
    private const int Spends = 2000;
    private DevnetChain _chain = null!;
    private Block _block = null!;

    [GlobalSetup]
    public void Setup()
    {
        var clock = new StepClock(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        _chain = DevnetChain.Open(new DevnetOptions { TimeProvider = clock });
        var key = new Key();
        var script = key.PubKey.WitHash.ScriptPubKey;
        for (var i = 0; i < 101; i++)
        {
            clock.Now += TimeSpan.FromMinutes(1);
            _chain.MineBlocksAsync(1, script).GetAwaiter().GetResult();
        }

        var coinbase = _chain.GetBlockInfo(_chain.GetBlockHash(1)!)!.Block.Transactions[0];
        var funding = Network.RegTest.CreateTransaction();
        funding.Inputs.Add(new TxIn(new OutPoint(coinbase, 0)));
        var each = Money.Satoshis((coinbase.Outputs[0].Value.Satoshi - 1_000_000) / Spends);
        for (var i = 0; i < Spends; i++)
        {
            funding.Outputs.Add(new TxOut(each, script));
        }

        funding.Sign(key.GetBitcoinSecret(Network.RegTest), new Coin(coinbase, 0u));
        var accepted = _chain.AcceptToMempool(funding);
        if (!accepted.Allowed)
        {
            throw new InvalidOperationException(accepted.RejectReason);
        }

        clock.Now += TimeSpan.FromMinutes(1);
        _chain.MineBlocksAsync(1, script).GetAwaiter().GetResult();

        var secret = key.GetBitcoinSecret(Network.RegTest);
        var destination = new Key().PubKey.WitHash.ScriptPubKey;
        var template = _chain.CreateBlockTemplate(script, includeMempool: false);
        var fees = Money.Zero;
        for (var i = 0; i < Spends; i++)
        {
            var spend = Network.RegTest.CreateTransaction();
            spend.Version = 2;
            spend.Inputs.Add(new TxIn(new OutPoint(funding, i)));
            spend.Outputs.Add(new TxOut(each - Money.Satoshis(500), destination));
            spend.Sign(secret, new Coin(funding, (uint)i));
            template.Transactions.Add(spend);
            fees += Money.Satoshis(500);
        }

        var cb = template.Transactions[0];
        cb.Outputs.RemoveAt(DevnetConsensus.GetWitnessCommitmentIndex(template));
        var commitment = DevnetConsensus.ComputeWitnessCommitment(DevnetConsensus.ComputeWitnessMerkleRoot(template), new byte[32]);
        cb.Outputs.Add(new TxOut(Money.Zero, DevnetConsensus.WitnessCommitmentScript(commitment)));
        template.UpdateMerkleRoot();
        DevnetChain.Grind(template.Header);
        _block = template;
        _chain.TestBlockValidity(_block);
    }

    [GlobalCleanup]
    public void Cleanup() => _chain.Dispose();

    /// <summary>Validates the 2,000-input block against the tip.</summary>
    [Benchmark(OperationsPerInvoke = Spends)]
    public void ValidateBlockOf2000P2wpkhSpends() => _chain.TestBlockValidity(_block);

    private sealed class StepClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
