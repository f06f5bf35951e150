namespace Satflow.Storage.Tests;

public sealed class InMemoryKeyValueStoreTests : KeyValueStoreConformanceTests
{
    [Fact]
    public async Task Count_tracks_keys_across_namespaces()
    {
        var store = (InMemoryKeyValueStore)Store;
        await store.WriteAsync("a", "", "k", new byte[] { 1 });
        await store.WriteAsync("a", "b", "k", new byte[] { 1 });
        await store.WriteAsync("a", "b", "k", new byte[] { 2 });
        Assert.Equal(2, store.Count);
        await store.RemoveAsync("a", "b", "k");
        Assert.Equal(1, store.Count);
    }

    protected override Task<IKeyValueStore> CreateStoreAsync() => Task.FromResult<IKeyValueStore>(new InMemoryKeyValueStore());
}
