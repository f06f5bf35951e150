using BenchmarkDotNet.Attributes;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Onion;

/// <summary>BOLT 4 Sphinx costs: peeling one layer of a 1366-byte payment onion and building a 5-hop onion.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class OnionBenchmarks
{
    private ECPrivKey[] _nodeKeys = [];
    private ECPrivKey _sessionKey = null!;
    private OnionHop[] _hops = [];
    private OnionPacket _packet = null!;
    private byte[] _associatedData = [];
    private byte[] _failure = [];
    private Bytes32[] _secrets = [];
    private readonly byte[] _streamKey = new byte[32];
    private readonly byte[] _streamBuffer = new byte[2600];

    [GlobalSetup]
    public void Setup()
    {
        _nodeKeys = [.. Enumerable.Range(1, 5).Select(i => Context.Instance.CreateECPrivKey(Enumerable.Repeat((byte)(0x40 + i), 32).ToArray()))];
        _sessionKey = Context.Instance.CreateECPrivKey(Enumerable.Repeat((byte)0x41, 32).ToArray());
        var payload = new PaymentOnionPayload
        {
            AmountToForward = new MilliSatoshi(100_000),
            OutgoingCltvValue = 800_000,
            ShortChannelId = new ShortChannelId(800_000, 1, 0),
        }.Encode();
        _hops = [.. _nodeKeys.Select(k => new OnionHop(k.CreatePubKey(), payload))];
        _associatedData = Enumerable.Repeat((byte)0x42, 32).ToArray();
        var built = OnionPacket.Create(_sessionKey, _hops, _associatedData);
        _packet = built.Packet;
        _secrets = [.. built.SharedSecrets];
        var failure = FailurePacket.Create(_secrets[4], FailureMessage.Simple(FailureCode.TemporaryNodeFailure));
        for (var i = 4; i >= 0; i--)
        {
            failure = FailurePacket.Wrap(failure, _secrets[i]);
        }
        _failure = failure;
    }

    /// <summary>One hop's work on an incoming payment onion (ECDH, HMAC, 2600-byte ChaCha20, key blinding).</summary>
    [Benchmark]
    public PeeledOnion PeelPaymentOnion() => _packet.Peel(_nodeKeys[0], _associatedData);

    /// <summary>The sender's work to build a 5-hop payment onion.</summary>
    [Benchmark]
    public OnionConstruction Create5HopOnion() => OnionPacket.Create(_sessionKey, _hops, _associatedData);

    /// <summary>The ChaCha20 stream a hop XORs over its doubled hop payloads (2600 bytes).</summary>
    [Benchmark]
    public void ChaCha20Stream2600() => ChaCha20.XorInPlace(_streamKey, _streamBuffer);

    /// <summary>One ECDH shared secret (the dominant cost of peeling with the managed secp256k1).</summary>
    [Benchmark]
    public Bytes32 SharedSecret() => SphinxCrypto.SharedSecret(_hops[0].PublicKey, _sessionKey);

    /// <summary>The origin decrypting a failure returned by the fifth hop.</summary>
    [Benchmark]
    public DecryptedFailure DecryptFailureFromHop5() => FailurePacket.Decrypt(_failure, [], _secrets);
}
