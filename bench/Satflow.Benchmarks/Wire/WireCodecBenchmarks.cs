using BenchmarkDotNet.Attributes;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Wire;

/// <summary>Decode and encode of the hottest channel and gossip messages.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class WireCodecBenchmarks
{
    private byte[] _updateAddHtlc = [];
    private byte[] _channelUpdate = [];
    private UpdateAddHtlc _updateAddHtlcMessage = null!;
    private ChannelUpdate _channelUpdateMessage = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var onion = new byte[UpdateAddHtlc.OnionPacketLength];
        random.NextBytes(onion);
        var id = new byte[32];
        random.NextBytes(id);
        var signature = new byte[64];
        random.NextBytes(signature);
        _updateAddHtlcMessage = new UpdateAddHtlc(ChannelId.FromBytes(id), 42, new MilliSatoshi(1_000_000), PaymentHash.FromBytes(id), 800_000, onion);
        _updateAddHtlc = _updateAddHtlcMessage.Encode();
        _channelUpdateMessage = new ChannelUpdate(
            Signature64.FromBytes(signature), ChainHash.Bitcoin, new ShortChannelId(800_000, 1234, 1), 1_700_000_000, 1, 0, 144,
            new MilliSatoshi(1000), 1000, 100, new MilliSatoshi(990_000_000), ReadOnlyMemory<byte>.Empty);
        _channelUpdate = _channelUpdateMessage.Encode();
    }

    [Benchmark]
    public LightningMessage DecodeUpdateAddHtlc() => LightningMessage.Decode(_updateAddHtlc);

    [Benchmark]
    public byte[] EncodeUpdateAddHtlc() => _updateAddHtlcMessage.Encode();

    [Benchmark]
    public byte[] RoundTripUpdateAddHtlc() => LightningMessage.Decode(_updateAddHtlc).Encode();

    [Benchmark]
    public LightningMessage DecodeChannelUpdate() => LightningMessage.Decode(_channelUpdate);

    [Benchmark]
    public byte[] EncodeChannelUpdate() => _channelUpdateMessage.Encode();

    [Benchmark]
    public byte[] RoundTripChannelUpdate() => LightningMessage.Decode(_channelUpdate).Encode();
}
