using CsCheck;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Storage;

namespace Satflow.Node.Tests;

public sealed class NodeStoreTests
{
    [Fact]
    public void Offered_htlc_record_round_trips()
    {
        var record = new OfferedHtlcRecord(42, new PaymentHash(new Bytes32(Enumerable.Repeat((byte)3, 32).ToArray())), new MilliSatoshi(77_000), new Bytes32(Enumerable.Repeat((byte)5, 32).ToArray()));
        Assert.Equal(record, OfferedHtlcRecord.Decode(record.Encode()));
    }

    [Fact]
    public void A_version_1_record_still_decodes_as_a_one_hop_part()
    {
        // The version 1 layout, written byte by byte as the old node did: version, id, hash, amount, secret.
        var bytes = new byte[81];
        bytes[0] = 1;
        bytes[8] = 9;
        bytes.AsSpan(9, 32).Fill(3);
        bytes[48] = 100;
        bytes.AsSpan(49, 32).Fill(5);
        var record = OfferedHtlcRecord.Decode(bytes);
        Assert.Equal(9ul, record.HtlcId);
        Assert.Equal(new MilliSatoshi(100), record.Amount);
        Assert.Equal(new Bytes32(Enumerable.Repeat((byte)5, 32).ToArray()), record.SharedSecret);
        Assert.Equal(0ul, record.PartId);
        Assert.Null(record.Route);
        Assert.Equal([record.SharedSecret], record.HopSharedSecrets);
        Assert.Equal(record, OfferedHtlcRecord.Decode(record.Encode()));
    }

    [Fact]
    public void A_multi_hop_record_round_trips_with_its_route_and_secrets()
    {
        var keys = Enumerable.Range(1, 3).Select(i => new NodeId(new NBitcoin.Key(Enumerable.Repeat((byte)i, 32).ToArray()).PubKey)).ToArray();
        var route = new Satflow.Lightning.Routing.Route(keys[0], [
            new Satflow.Lightning.Routing.RouteHop(new ShortChannelId(101, 1, 0), keys[1], new MilliSatoshi(10_100), new MilliSatoshi(100), 58),
            new Satflow.Lightning.Routing.RouteHop(new ShortChannelId(102, 2, 1), keys[2], new MilliSatoshi(10_000), MilliSatoshi.Zero, 18, FromRouteHint: true),
        ], new MilliSatoshi(10_000));
        var secrets = new[] { new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray()), new Bytes32(Enumerable.Repeat((byte)8, 32).ToArray()) };
        var record = new OfferedHtlcRecord(3, new PaymentHash(new Bytes32(Enumerable.Repeat((byte)2, 32).ToArray())), new MilliSatoshi(10_100), secrets[1])
        {
            PartId = 77,
            Route = route,
            HopSharedSecrets = secrets,
        };
        var decoded = OfferedHtlcRecord.Decode(record.Encode());
        Assert.Equal(record, decoded);
        Assert.Equal(77ul, decoded.PartId);
        Assert.Equal(route.Hops, decoded.Route!.Hops);
        Assert.Equal(secrets, decoded.HopSharedSecrets);
        var encoded = record.Encode();
        Gen.Int[0, encoded.Length - 1].Sample(cut =>
        {
            try
            {
                OfferedHtlcRecord.Decode(encoded.AsSpan(0, cut));
            }
            catch (NodeStateCorruptException)
            {
            }
        }, iter: 200);
    }

    [Fact]
    public void Garbage_offered_htlc_records_are_typed_errors()
    {
        Gen.Byte.Array[0, 400].Select(Gen.Byte[1, 2], (b, v) => { if (b.Length > 0) { b[0] = v; } return b; }).Sample(bytes =>
        {
            try
            {
                OfferedHtlcRecord.Decode(bytes);
            }
            catch (NodeStateCorruptException)
            {
            }
        }, iter: 500);
    }

    [Fact]
    public async Task Batched_records_read_back_through_the_layout()
    {
        var store = new InMemoryKeyValueStore();
        var nodeStore = new NodeStore(store);
        var channel = new ChannelId(new Bytes32(Enumerable.Repeat((byte)0xab, 32).ToArray()));
        var htlc = new OfferedHtlcRecord(7, new PaymentHash(new Bytes32(Enumerable.Repeat((byte)1, 32).ToArray())), new MilliSatoshi(1), Bytes32.Zero);
        await nodeStore.CommitAsync([NodeStore.WriteChannel(channel, new byte[] { 1, 2 }), NodeStore.WriteMonitor(channel, new byte[] { 3 }), NodeStore.WriteOfferedHtlc(channel, htlc), NodeStore.WriteNextKeyIndex(5)]);

        Assert.Equal(5u, await nodeStore.ReadNextKeyIndexAsync());
        var channels = await nodeStore.ReadAllAsync(NodeStore.ChannelsNamespace);
        Assert.Equal(channel, NodeStore.ParseChannelKey(Assert.Single(channels).Key));
        Assert.Equal(new byte[] { 1, 2 }, channels[0].Value.ToArray());
        var htlcs = await nodeStore.ReadOfferedHtlcsAsync();
        Assert.Equal((channel, htlc), Assert.Single(htlcs));

        await nodeStore.CommitAsync([NodeStore.RemoveOfferedHtlc(channel, 7)]);
        Assert.Empty(await nodeStore.ReadOfferedHtlcsAsync());
    }

    [Fact]
    public async Task A_damaged_key_index_is_a_typed_error()
    {
        var store = new InMemoryKeyValueStore();
        await store.WriteAsync(NodeStore.PrimaryNamespace, NodeStore.MetaNamespace, "next-channel-key-index", new byte[] { 1 });
        await Assert.ThrowsAsync<NodeStateCorruptException>(() => new NodeStore(store).ReadNextKeyIndexAsync());
        Assert.Throws<NodeStateCorruptException>(() => NodeStore.ParseChannelKey("zz"));
    }
}
