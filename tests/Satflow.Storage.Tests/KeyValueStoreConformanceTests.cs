using CsCheck;

namespace Satflow.Storage.Tests;

/// <summary>
/// The contract every <see cref="IKeyValueStore"/> meets. An implementation's test class inherits this (or
/// <see cref="DurableKeyValueStoreConformanceTests"/> for stores that survive a re-open) and supplies a fresh, empty store.
/// </summary>
public abstract class KeyValueStoreConformanceTests : IAsyncLifetime
{
    private static readonly string[] PropertyKeys = ["a", "B", "c-1", "_d"];
    private static readonly string[] PropertySecondaries = ["", "s1", "s2"];
    private static int s_propertyRun;

    /// <summary>The store under test; replaced by re-open tests.</summary>
    protected IKeyValueStore Store { get; set; } = null!;

    /// <summary>How many random operation sequences the model property test runs (durable stores fsync, so fewer).</summary>
    protected virtual int PropertyIterations => 200;

    public async Task InitializeAsync() => Store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        await CleanupAsync();
    }

    public static TheoryData<string?, string?, string?, KeyValueStoreErrorReason> InvalidKeys => new()
    {
        { "", "", "", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", "", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", null, KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", "a/b", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", "a b", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", "a.b", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", "ä", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", "k\0", KeyValueStoreErrorReason.InvalidKey },
        { "p", "s", new string('k', KeyValueStoreKeys.MaxLength + 1), KeyValueStoreErrorReason.InvalidKey },
        { null, "", "k", KeyValueStoreErrorReason.InvalidPrimaryNamespace },
        { "p/q", "", "k", KeyValueStoreErrorReason.InvalidPrimaryNamespace },
        { "p'; DROP TABLE kv; --", "", "k", KeyValueStoreErrorReason.InvalidPrimaryNamespace },
        { new string('p', KeyValueStoreKeys.MaxLength + 1), "", "k", KeyValueStoreErrorReason.InvalidPrimaryNamespace },
        { "p", null, "k", KeyValueStoreErrorReason.InvalidSecondaryNamespace },
        { "p", "s%", "k", KeyValueStoreErrorReason.InvalidSecondaryNamespace },
        { "p", new string('s', KeyValueStoreKeys.MaxLength + 1), "k", KeyValueStoreErrorReason.InvalidSecondaryNamespace },
        { "", "s", "k", KeyValueStoreErrorReason.InvalidNamespaceCombination },
    };

    [Fact]
    public async Task Read_of_a_missing_key_returns_null()
    {
        Assert.Null(await Store.ReadAsync("p", "s", "missing"));
        Assert.Null(await Store.ReadAsync("", "", "missing"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(1024 * 1024)]
    public async Task Write_then_read_round_trips(int size)
    {
        var value = RandomBytes(size, seed: size);
        await Store.WriteAsync("channels", "monitors", "k" + size, value);
        var read = await Store.ReadAsync("channels", "monitors", "k" + size);
        Assert.NotNull(read);
        Assert.Equal(value, read.Value.ToArray());
    }

    [Fact]
    public async Task Values_are_copied_in_and_out()
    {
        var value = new byte[] { 1, 2, 3, 4 };
        await Store.WriteAsync("p", "", "k", value.AsMemory(1, 2));
        value[1] = 99;
        var first = await Store.ReadAsync("p", "", "k");
        Assert.Equal(new byte[] { 2, 3 }, first!.Value.ToArray());

        System.Runtime.InteropServices.MemoryMarshal.AsMemory(first.Value).Span[0] = 77;
        var second = await Store.ReadAsync("p", "", "k");
        Assert.Equal(new byte[] { 2, 3 }, second!.Value.ToArray());
    }

    [Fact]
    public async Task Write_replaces_the_previous_value()
    {
        await Store.WriteAsync("p", "s", "k", RandomBytes(5000, 1));
        await Store.WriteAsync("p", "s", "k", new byte[] { 42 });
        Assert.Equal(new byte[] { 42 }, (await Store.ReadAsync("p", "s", "k"))!.Value.ToArray());
        await Store.WriteAsync("p", "s", "k", ReadOnlyMemory<byte>.Empty);
        Assert.Empty((await Store.ReadAsync("p", "s", "k"))!.Value.ToArray());
        Assert.Equal(["k"], await Store.ListAsync("p", "s"));
    }

    [Fact]
    public async Task Remove_deletes_and_is_idempotent()
    {
        await Store.WriteAsync("p", "s", "k", new byte[] { 1 });
        await Store.WriteAsync("p", "s", "other", new byte[] { 2 });
        Assert.True(await Store.RemoveAsync("p", "s", "k"));
        Assert.Null(await Store.ReadAsync("p", "s", "k"));
        Assert.False(await Store.RemoveAsync("p", "s", "k"));
        Assert.False(await Store.RemoveAsync("p", "s", "never-written"));
        Assert.Equal(["other"], await Store.ListAsync("p", "s"));
        Assert.Equal(new byte[] { 2 }, (await Store.ReadAsync("p", "s", "other"))!.Value.ToArray());
    }

    [Fact]
    public async Task List_returns_keys_in_ordinal_order()
    {
        string[] keys = ["b", "A", "a", "_", "-", "0", "aa", "Z9", "a-", "a_", "B"];
        foreach (var key in keys)
        {
            await Store.WriteAsync("p", "s", key, new byte[] { 1 });
        }

        var expected = keys.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, await Store.ListAsync("p", "s"));
    }

    [Fact]
    public async Task List_of_an_unused_namespace_is_empty()
    {
        Assert.Empty(await Store.ListAsync("nothing", "here"));
        Assert.Empty(await Store.ListAsync("", ""));
    }

    [Fact]
    public async Task Namespaces_are_isolated()
    {
        (string P, string S)[] spaces = [("", ""), ("p", ""), ("p", "s"), ("p", "t"), ("q", "s"), ("ps", ""), ("p", "s-")];
        for (var i = 0; i < spaces.Length; i++)
        {
            await Store.WriteAsync(spaces[i].P, spaces[i].S, "k", new byte[] { (byte)i });
            await Store.WriteAsync(spaces[i].P, spaces[i].S, "only" + i, new byte[] { (byte)i });
        }

        for (var i = 0; i < spaces.Length; i++)
        {
            Assert.Equal(["k", "only" + i], await Store.ListAsync(spaces[i].P, spaces[i].S));
            Assert.Equal(new byte[] { (byte)i }, (await Store.ReadAsync(spaces[i].P, spaces[i].S, "k"))!.Value.ToArray());
        }

        Assert.True(await Store.RemoveAsync("p", "s", "k"));
        Assert.Null(await Store.ReadAsync("p", "s", "k"));
        for (var i = 0; i < spaces.Length; i++)
        {
            if (spaces[i] != ("p", "s"))
            {
                Assert.NotNull(await Store.ReadAsync(spaces[i].P, spaces[i].S, "k"));
            }
        }
    }

    [Fact]
    public async Task Longest_valid_names_are_accepted()
    {
        var max = new string('x', KeyValueStoreKeys.MaxLength);
        await Store.WriteAsync(max, max, max, new byte[] { 7 });
        Assert.Equal(new byte[] { 7 }, (await Store.ReadAsync(max, max, max))!.Value.ToArray());
        Assert.Equal([max], await Store.ListAsync(max, max));
        Assert.True(await Store.RemoveAsync(max, max, max));
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task Invalid_keys_are_rejected_with_a_typed_error(string? primary, string? secondary, string? key, KeyValueStoreErrorReason reason)
    {
        await Store.WriteAsync("p", "s", "existing", new byte[] { 1 });

        await AssertRejected(reason, () => Store.ReadAsync(primary!, secondary!, key!).AsTask());
        await AssertRejected(reason, () => Store.WriteAsync(primary!, secondary!, key!, new byte[] { 2 }).AsTask());
        await AssertRejected(reason, () => Store.RemoveAsync(primary!, secondary!, key!).AsTask());
        await AssertRejected(reason, () => Store.WriteBatchAsync([KvOperation.Write(primary!, secondary!, key!, new byte[] { 3 })]).AsTask());
        await AssertRejected(reason, () => Store.WriteBatchAsync([KvOperation.Remove(primary!, secondary!, key!)]).AsTask());
        if (reason != KeyValueStoreErrorReason.InvalidKey)
        {
            await AssertRejected(reason, () => Store.ListAsync(primary!, secondary!).AsTask());
        }

        Assert.Equal(["existing"], await Store.ListAsync("p", "s"));
        Assert.Equal(new byte[] { 1 }, (await Store.ReadAsync("p", "s", "existing"))!.Value.ToArray());
    }

    [Fact]
    public async Task Batch_applies_every_operation_in_order()
    {
        await Store.WriteAsync("chan", "a", "gone", new byte[] { 9 });
        await Store.WriteBatchAsync(
        [
            KvOperation.Write("chan", "a", "state", new byte[] { 1 }),
            KvOperation.Write("chan", "a", "state", new byte[] { 2 }),
            KvOperation.Write("chan", "b", "htlcs", RandomBytes(70_000, 3)),
            KvOperation.Remove("chan", "a", "gone"),
            KvOperation.Remove("chan", "a", "never"),
            KvOperation.Write("chan", "a", "temp", new byte[] { 5 }),
            KvOperation.Remove("chan", "a", "temp"),
            KvOperation.Write("", "", "root", ReadOnlyMemory<byte>.Empty),
        ]);

        Assert.Equal(["state"], await Store.ListAsync("chan", "a"));
        Assert.Equal(new byte[] { 2 }, (await Store.ReadAsync("chan", "a", "state"))!.Value.ToArray());
        Assert.Equal(RandomBytes(70_000, 3), (await Store.ReadAsync("chan", "b", "htlcs"))!.Value.ToArray());
        Assert.Empty((await Store.ReadAsync("", "", "root"))!.Value.ToArray());
    }

    [Fact]
    public async Task Empty_batch_changes_nothing()
    {
        await Store.WriteAsync("p", "", "k", new byte[] { 1 });
        await Store.WriteBatchAsync([]);
        Assert.Equal(["k"], await Store.ListAsync("p", ""));
    }

    [Fact]
    public async Task Batch_with_an_invalid_operation_changes_nothing()
    {
        await Store.WriteAsync("chan", "a", "state", new byte[] { 1 });
        await Store.WriteAsync("chan", "a", "keep", new byte[] { 2 });

        var error = await Assert.ThrowsAsync<KeyValueStoreException>(() => Store.WriteBatchAsync(
        [
            KvOperation.Write("chan", "a", "state", new byte[] { 100 }),
            KvOperation.Remove("chan", "a", "keep"),
            KvOperation.Write("chan", "a", "new", new byte[] { 101 }),
            KvOperation.Write("chan", "a", "bad/key", new byte[] { 102 }),
            KvOperation.Write("chan", "b", "later", new byte[] { 103 }),
        ]).AsTask());
        Assert.Equal(KeyValueStoreErrorReason.InvalidKey, error.Reason);

        var nullOp = await Assert.ThrowsAsync<KeyValueStoreException>(() => Store.WriteBatchAsync(
            [KvOperation.Remove("chan", "a", "keep"), null!]).AsTask());
        Assert.Equal(KeyValueStoreErrorReason.InvalidBatch, nullOp.Reason);
        var nullList = await Assert.ThrowsAsync<KeyValueStoreException>(() => Store.WriteBatchAsync(null!).AsTask());
        Assert.Equal(KeyValueStoreErrorReason.InvalidBatch, nullList.Reason);

        Assert.Equal(["keep", "state"], await Store.ListAsync("chan", "a"));
        Assert.Empty(await Store.ListAsync("chan", "b"));
        Assert.Equal(new byte[] { 1 }, (await Store.ReadAsync("chan", "a", "state"))!.Value.ToArray());
        Assert.Equal(new byte[] { 2 }, (await Store.ReadAsync("chan", "a", "keep"))!.Value.ToArray());
    }

    [Fact]
    public async Task Concurrent_writers_to_different_keys_all_land()
    {
        const int writers = 8;
        const int perWriter = 15;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                if (i % 5 == 4)
                {
                    await Store.WriteBatchAsync(
                    [
                        KvOperation.Write("w" + w, "", "k" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture), new byte[] { (byte)w, (byte)i }),
                        KvOperation.Write("w" + w, "batch", "k" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture), new byte[] { (byte)i }),
                    ]);
                }
                else
                {
                    await Store.WriteAsync("w" + w, "", "k" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture), new byte[] { (byte)w, (byte)i });
                }

                Assert.NotNull(await Store.ReadAsync("w" + w, "", "k00"));
            }
        })));

        for (var w = 0; w < writers; w++)
        {
            var keys = await Store.ListAsync("w" + w, "");
            Assert.Equal(perWriter, keys.Count);
            for (var i = 0; i < perWriter; i++)
            {
                var value = await Store.ReadAsync("w" + w, "", keys[i]);
                Assert.Equal(new byte[] { (byte)w, (byte)i }, value!.Value.ToArray());
            }

            Assert.Equal(perWriter / 5, (await Store.ListAsync("w" + w, "batch")).Count);
        }
    }

    [Fact]
    public async Task Disposed_store_refuses_calls()
    {
        await Store.WriteAsync("p", "", "k", new byte[] { 1 });
        await Store.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Store.ReadAsync("p", "", "k").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Store.WriteAsync("p", "", "k", new byte[] { 2 }).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Store.WriteBatchAsync([KvOperation.Remove("p", "", "k")]).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Store.ListAsync("p", "").AsTask());
    }

    [Fact]
    public async Task Cancelled_calls_do_not_apply()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store.WriteAsync("p", "", "k", new byte[] { 1 }, cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store.WriteBatchAsync([KvOperation.Write("p", "", "b", new byte[] { 1 })], cancelled.Token).AsTask());
        Assert.Empty(await Store.ListAsync("p", ""));
    }

    [Fact]
    public async Task Random_operation_sequences_match_a_dictionary_model()
    {
        var value = Gen.Byte.Array[0, 40];
        var primitive = Gen.OneOf(
            Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], value, (n, k, v) => (Step)new WriteStep(n, k, v)),
            Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], (n, k) => (Step)new RemoveStep(n, k)));
        var step = Gen.Frequency(
            (4, primitive),
            (2, Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], (n, k) => (Step)new ReadStep(n, k))),
            (1, Gen.Int[0, 2].Select(n => (Step)new ListStep(n))),
            (2, primitive.Array[0, 6].Select(ops => (Step)new BatchStep(ops))));

        await step.Array[1, 25].SampleAsync(
            async steps =>
            {
                var primary = "prop" + Interlocked.Increment(ref s_propertyRun).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var model = new Dictionary<(int Ns, int Key), byte[]>();
                foreach (var s in steps)
                {
                    await ApplyAndCompare(primary, s, model);
                }

                for (var n = 0; n < PropertySecondaries.Length; n++)
                {
                    await ApplyAndCompare(primary, new ListStep(n), model);
                    for (var k = 0; k < PropertyKeys.Length; k++)
                    {
                        await ApplyAndCompare(primary, new ReadStep(n, k), model);
                    }
                }
            },
            iter: PropertyIterations,
            threads: 1);
    }

    protected abstract Task<IKeyValueStore> CreateStoreAsync();

    protected virtual Task CleanupAsync() => Task.CompletedTask;

    protected static byte[] RandomBytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected static async Task AssertRejected(KeyValueStoreErrorReason reason, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<KeyValueStoreException>(call);
        Assert.Equal(reason, error.Reason);
    }

    private async Task ApplyAndCompare(string primary, Step step, Dictionary<(int Ns, int Key), byte[]> model)
    {
        switch (step)
        {
            case WriteStep w:
                await Store.WriteAsync(primary, PropertySecondaries[w.Ns], PropertyKeys[w.Key], w.Value);
                model[(w.Ns, w.Key)] = w.Value;
                break;
            case RemoveStep r:
                var removed = await Store.RemoveAsync(primary, PropertySecondaries[r.Ns], PropertyKeys[r.Key]);
                Assert.Equal(model.Remove((r.Ns, r.Key)), removed);
                break;
            case ReadStep r:
                var read = await Store.ReadAsync(primary, PropertySecondaries[r.Ns], PropertyKeys[r.Key]);
                if (model.TryGetValue((r.Ns, r.Key), out var expected))
                {
                    Assert.Equal(expected, read!.Value.ToArray());
                }
                else
                {
                    Assert.Null(read);
                }

                break;
            case ListStep l:
                var listed = await Store.ListAsync(primary, PropertySecondaries[l.Ns]);
                var expectedKeys = model.Keys.Where(x => x.Ns == l.Ns).Select(x => PropertyKeys[x.Key]).Order(StringComparer.Ordinal);
                Assert.Equal(expectedKeys, listed);
                break;
            case BatchStep b:
                await Store.WriteBatchAsync(b.Operations.Select(op => op switch
                {
                    WriteStep w => KvOperation.Write(primary, PropertySecondaries[w.Ns], PropertyKeys[w.Key], w.Value),
                    RemoveStep r => KvOperation.Remove(primary, PropertySecondaries[r.Ns], PropertyKeys[r.Key]),
                    _ => throw new InvalidOperationException("batches hold writes and removes only"),
                }).ToList());
                foreach (var op in b.Operations)
                {
                    if (op is WriteStep w)
                    {
                        model[(w.Ns, w.Key)] = w.Value;
                    }
                    else if (op is RemoveStep r)
                    {
                        model.Remove((r.Ns, r.Key));
                    }
                }

                break;
            default:
                throw new InvalidOperationException($"unknown step {step}");
        }
    }

    private abstract record Step;

    private sealed record WriteStep(int Ns, int Key, byte[] Value) : Step
    {
        public override string ToString() => $"Write({Ns},{Key},{Convert.ToHexString(Value)})";
    }

    private sealed record RemoveStep(int Ns, int Key) : Step;

    private sealed record ReadStep(int Ns, int Key) : Step;

    private sealed record ListStep(int Ns) : Step;

    private sealed record BatchStep(Step[] Operations) : Step
    {
        public override string ToString() => $"Batch[{string.Join(", ", Operations.Select(o => o.ToString()))}]";
    }
}

/// <summary>The conformance contract plus what only durable stores promise: data survives closing and re-opening.</summary>
public abstract class DurableKeyValueStoreConformanceTests : KeyValueStoreConformanceTests
{
    protected override int PropertyIterations => 30;

    [Fact]
    public async Task Data_survives_reopening()
    {
        var big = RandomBytes(1024 * 1024, 11);
        await Store.WriteAsync("chan", "mon", "a", new byte[] { 1 });
        await Store.WriteAsync("chan", "mon", "gone", new byte[] { 2 });
        await Store.WriteAsync("", "", "root", big);
        await Store.WriteBatchAsync(
        [
            KvOperation.Write("chan", "mon", "a", new byte[] { 3 }),
            KvOperation.Write("chan", "", "b", ReadOnlyMemory<byte>.Empty),
            KvOperation.Remove("chan", "mon", "gone"),
        ]);

        await Store.DisposeAsync();
        Store = await ReopenAsync();

        Assert.Equal(["a"], await Store.ListAsync("chan", "mon"));
        Assert.Equal(new byte[] { 3 }, (await Store.ReadAsync("chan", "mon", "a"))!.Value.ToArray());
        Assert.Empty((await Store.ReadAsync("chan", "", "b"))!.Value.ToArray());
        Assert.Equal(big, (await Store.ReadAsync("", "", "root"))!.Value.ToArray());

        await Store.WriteAsync("chan", "mon", "after", new byte[] { 4 });
        Assert.Equal(["a", "after"], await Store.ListAsync("chan", "mon"));
    }

    /// <summary>Opens the same storage location again after <see cref="KeyValueStoreConformanceTests.Store"/> was disposed.</summary>
    protected abstract Task<IKeyValueStore> ReopenAsync();
}
