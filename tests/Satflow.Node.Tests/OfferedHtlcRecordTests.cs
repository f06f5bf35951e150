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
    public void Garbage_offered_htlc_records_are_typed_errors()
    {
        Gen.Byte.Array[0, 120].Sample(bytes =>
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
