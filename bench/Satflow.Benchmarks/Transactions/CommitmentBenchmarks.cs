using BenchmarkDotNet.Attributes;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Transactions;

/// <summary>
/// BOLT 3: build an anchors commitment transaction with 10 HTLCs and sign it — the commitment signature plus one
/// counterparty HTLC signature per HTLC transaction, as in a <c>commitment_signed</c>.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
[MemoryDiagnoser]
public class CommitmentBenchmarks
{
    private readonly Key _localFunding = new(Enumerable.Repeat((byte)0x30, 32).ToArray());
    private readonly Key _remoteFunding = new(Enumerable.Repeat((byte)0x15, 32).ToArray());
    private readonly Key _remoteHtlcBase = new(Enumerable.Repeat((byte)0x44, 32).ToArray());
    private readonly Key _localBase = new(Enumerable.Repeat((byte)0x11, 32).ToArray());
    private readonly Key _revocationBase = new(Enumerable.Repeat((byte)0x22, 32).ToArray());
    private readonly Key _delayedBase = new(Enumerable.Repeat((byte)0x33, 32).ToArray());
    private CommitmentParameters _parameters = null!;
    private CommitmentKeys _keys = null!;
    private Key _remoteHtlcKey = null!;
    private List<CommitmentHtlc> _htlcs = null!;

    [GlobalSetup]
    public void Setup()
    {
        var point = KeyDerivation.PerCommitmentPoint(new Bytes32(Enumerable.Repeat((byte)0x1f, 32).ToArray()));
        _keys = CommitmentKeys.Derive(_localFunding.PubKey, _remoteFunding.PubKey, _revocationBase.PubKey, _delayedBase.PubKey,
            _localBase.PubKey, _remoteHtlcBase.PubKey, _remoteHtlcBase.PubKey, point);
        _remoteHtlcKey = KeyDerivation.DerivePrivateKey(_remoteHtlcBase, point);
        _parameters = new CommitmentParameters(CommitmentFormat.AnchorOutputs, new OutPoint(uint256.One, 0), Money.Satoshis(10_000_000), 42,
            CommitmentNumberObscuring.Factor(_localBase.PubKey, _remoteHtlcBase.PubKey), 144, Money.Satoshis(546), 2500, LocalIsFunder: true);
        _htlcs = Enumerable.Range(0, 10).Select(i => new CommitmentHtlc(
            (ulong)i,
            i % 2 == 0 ? HtlcDirection.Offered : HtlcDirection.Received,
            MilliSatoshi.FromSatoshis(10_000 + ((ulong)i * 1000)),
            new PaymentPreimage(new Bytes32(Enumerable.Repeat((byte)i, 32).ToArray())).Hash,
            (uint)(800_000 + i))).ToList();
    }

    [Benchmark]
    public int BuildAndSign10Htlcs()
    {
        var commitment = CommitmentTransactionBuilder.Build(_parameters, _keys, MilliSatoshi.FromSatoshis(6_000_000), MilliSatoshi.FromSatoshis(3_855_000), _htlcs);
        ECDSASignature signature = Bolt3Signing.SignCommitment(commitment, _remoteFunding);
        var count = signature.ToDER().Length;
        foreach (var htlcTx in HtlcTransactionBuilder.BuildAll(commitment))
        {
            count += Bolt3Signing.SignHtlc(htlcTx, _remoteHtlcKey, signerIsCommitmentOwner: false).ToDER().Length;
        }
        return count;
    }
}
