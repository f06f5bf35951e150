using BenchmarkDotNet.Attributes;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Transport;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Transport;

/// <summary>BOLT 8: a full handshake (both sides) and the encrypt + decrypt of a 1 KB message.</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
[MemoryDiagnoser]
public class TransportBenchmarks
{
    private readonly ECPrivKey _initiatorStatic = ECPrivKey.Create(Enumerable.Repeat((byte)0x11, 32).ToArray());
    private readonly ECPrivKey _responderStatic = ECPrivKey.Create(Enumerable.Repeat((byte)0x21, 32).ToArray());
    private readonly ECPrivKey _initiatorEphemeral = ECPrivKey.Create(Enumerable.Repeat((byte)0x12, 32).ToArray());
    private readonly ECPrivKey _responderEphemeral = ECPrivKey.Create(Enumerable.Repeat((byte)0x22, 32).ToArray());
    private readonly byte[] _message = Enumerable.Range(0, 1024).Select(i => (byte)i).ToArray();
    private NodeId _responderId;
    private LightningTransport _sender = null!;
    private LightningTransport _receiver = null!;

    [GlobalSetup]
    public void Setup()
    {
        _responderId = NodeId.FromBytes(_responderStatic.CreatePubKey().ToBytes(true));
        (_sender, _receiver) = Handshake();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sender.Dispose();
        _receiver.Dispose();
    }

    [Benchmark]
    public NodeId? HandshakeBothSides()
    {
        var i = NoiseHandshake.Initiator(_initiatorStatic, _responderId, _initiatorEphemeral);
        var r = NoiseHandshake.Responder(_responderStatic, _responderEphemeral);
        r.ReadActThree(i.ReadActTwo(r.ReadActOne(i.WriteActOne())));
        return r.RemoteStatic;
    }

    [Benchmark]
    public int EncryptDecrypt1KB() => _receiver.DecryptFrame(_sender.Encrypt(_message)).Length;

    private (LightningTransport, LightningTransport) Handshake()
    {
        var i = NoiseHandshake.Initiator(_initiatorStatic, _responderId, _initiatorEphemeral);
        var r = NoiseHandshake.Responder(_responderStatic, _responderEphemeral);
        r.ReadActThree(i.ReadActTwo(r.ReadActOne(i.WriteActOne())));
        return (i.CreateTransport(), r.CreateTransport());
    }
}
