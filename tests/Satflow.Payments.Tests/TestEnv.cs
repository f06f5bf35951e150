using Microsoft.Extensions.Time.Testing;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Storage;
using Satflow.Storage.Sqlite;

namespace Satflow.Payments.Tests;

/// <summary>Shared fixtures: deterministic keys, clock, randomness and the two store kinds.</summary>
internal static class TestEnv
{
    public static readonly DateTimeOffset Start = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public static Key NodeKey { get; } = new(Enumerable.Repeat((byte)0x11, 32).ToArray());

    public static FakeTimeProvider Clock() => new(Start);

    /// <summary>A deterministic "random" source: successive fills are distinct counters.</summary>
    public static RandomFill CounterRandom(byte seed = 0)
    {
        var counter = 0;
        return span =>
        {
            span.Fill(seed);
            counter++;
            span[0] = (byte)counter;
            span[1] = (byte)(counter >> 8);
        };
    }

    public static NodeId NodeIdOf(byte b) => new(new Key(Enumerable.Repeat(b, 32).ToArray()).PubKey);

    public static PaymentPreimage PreimageOf(byte b) => PaymentPreimage.FromBytes(Enumerable.Repeat(b, 32).ToArray());

    public static InvoiceService Invoices(IKeyValueStore store, TimeProvider time, RandomFill? random = null) =>
        new(store, NodeKey, Bolt11Network.Regtest, time, random ?? CounterRandom());

    public static TheoryData<string> StoreKinds => ["memory", "sqlite"];

    public static async Task<IKeyValueStore> OpenAsync(string kind, string directory) => kind switch
    {
        "memory" => new InMemoryKeyValueStore(),
        "sqlite" => await SqliteKeyValueStore.OpenAsync(new SqliteKeyValueStoreOptions { DataDirectory = directory }),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "satflow-payments-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }
}
