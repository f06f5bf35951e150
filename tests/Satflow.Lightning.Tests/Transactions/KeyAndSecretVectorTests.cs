using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>BOLT 3 Appendix E (key derivation) and Appendix D (per-commitment secret generation and storage).</summary>
public sealed class KeyAndSecretVectorTests
{
    private static readonly Lazy<JsonElement> KeyVectors = new(() => Load("bolts/bolt03-key-derivation.json"));
    private static readonly Lazy<JsonElement> SecretVectors = new(() => Load("bolts/bolt03-per-commitment-secrets.json"));

    public static TheoryData<string> KeyDerivationCases() => Names(KeyVectors.Value.GetProperty("cases"), "name");

    public static TheoryData<string> GenerationCases() => Names(SecretVectors.Value.GetProperty("generation"), "name");

    public static TheoryData<string> StorageCases() => Names(SecretVectors.Value.GetProperty("storage"), "name");

    [Theory]
    [MemberData(nameof(KeyDerivationCases))]
    public void KeyDerivationMatches(string name)
    {
        var inputs = KeyVectors.Value.GetProperty("inputs");
        var c = KeyVectors.Value.GetProperty("cases").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var baseSecret = new Key(Convert.FromHexString(inputs.GetProperty("base_secret").GetString()!));
        var perCommitmentSecret = Bytes32.Parse(inputs.GetProperty("per_commitment_secret").GetString()!);
        var basePoint = new PubKey(inputs.GetProperty("base_point").GetString()!);
        var perCommitmentPoint = new PubKey(inputs.GetProperty("per_commitment_point").GetString()!);
        Assert.Equal(basePoint, baseSecret.PubKey);
        Assert.Equal(perCommitmentPoint, KeyDerivation.PerCommitmentPoint(perCommitmentSecret));

        var expected = c.GetProperty("output").GetString()!;
        var actual = c.GetProperty("output_name").GetString() switch
        {
            "localpubkey" => KeyDerivation.DerivePubKey(basePoint, perCommitmentPoint).ToHex(),
            "localprivkey" => KeyDerivation.DerivePrivateKey(baseSecret, perCommitmentPoint).ToHex(),
            "revocationpubkey" => KeyDerivation.DeriveRevocationPubKey(basePoint, perCommitmentPoint).ToHex(),
            "revocationprivkey" => KeyDerivation.DeriveRevocationPrivateKey(baseSecret, perCommitmentSecret).ToHex(),
            var other => throw new InvalidOperationException($"Unknown output {other}"),
        };
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void DerivedPrivateKeysMatchDerivedPublicKeys()
    {
        var inputs = KeyVectors.Value.GetProperty("inputs");
        var baseSecret = new Key(Convert.FromHexString(inputs.GetProperty("base_secret").GetString()!));
        var perCommitmentSecret = Bytes32.Parse(inputs.GetProperty("per_commitment_secret").GetString()!);
        var point = KeyDerivation.PerCommitmentPoint(perCommitmentSecret);
        Assert.Equal(KeyDerivation.DerivePubKey(baseSecret.PubKey, point), KeyDerivation.DerivePrivateKey(baseSecret, point).PubKey);
        Assert.Equal(KeyDerivation.DeriveRevocationPubKey(baseSecret.PubKey, point), KeyDerivation.DeriveRevocationPrivateKey(baseSecret, perCommitmentSecret).PubKey);
    }

    [Theory]
    [MemberData(nameof(GenerationCases))]
    public void GenerationMatches(string name)
    {
        var c = SecretVectors.Value.GetProperty("generation").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var seed = Bytes32.Parse(c.GetProperty("seed").GetString()!.ToLowerInvariant());
        var index = c.GetProperty("index").GetUInt64();
        Assert.Equal(c.GetProperty("output").GetString(), PerCommitmentSecrets.Generate(seed, index).ToHex());
    }

    [Theory]
    [MemberData(nameof(StorageCases))]
    public void StorageMatches(string name)
    {
        var c = SecretVectors.Value.GetProperty("storage").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var store = new PerCommitmentSecretStore();
        var accepted = new List<(ulong Index, Bytes32 Secret)>();
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            var index = step.GetProperty("index").GetUInt64();
            var secret = Bytes32.Parse(step.GetProperty("secret").GetString()!);
            if (step.GetProperty("output").GetString() == "OK")
            {
                store.Insert(secret, index);
                accepted.Add((index, secret));
            }
            else
            {
                Assert.Equal("ERROR", step.GetProperty("output").GetString());
                var before = store.LastIndex;
                Assert.Throws<PerCommitmentSecretException>(() => store.Insert(secret, index));
                Assert.Equal(before, store.LastIndex);
            }
        }
        // Every accepted secret is still retrievable from the compact store.
        foreach (var (index, secret) in accepted)
        {
            Assert.True(store.TryGetSecret(index, out var found));
            Assert.Equal(secret, found);
        }
    }

    [Fact]
    public void StoreDerivesEveryOldSecretOfOneSeed()
    {
        var seed = Bytes32.Parse("0101010101010101010101010101010101010101010101010101010101010101");
        var store = new PerCommitmentSecretStore();
        for (ulong n = 0; n < 70; n++)
        {
            var index = PerCommitmentSecrets.IndexOfCommitment(n);
            store.Insert(PerCommitmentSecrets.Generate(seed, index), index);
        }
        for (ulong n = 0; n < 70; n++)
        {
            var index = PerCommitmentSecrets.IndexOfCommitment(n);
            Assert.True(store.TryGetSecret(index, out var secret));
            Assert.Equal(PerCommitmentSecrets.Generate(seed, index), secret);
        }
        Assert.False(store.TryGetSecret(PerCommitmentSecrets.IndexOfCommitment(70), out _));
    }

    [Fact]
    public void SnapshotRestoresAndRefusesTampering()
    {
        var seed = Bytes32.Parse("0303030303030303030303030303030303030303030303030303030303030303");
        var store = new PerCommitmentSecretStore();
        for (ulong n = 0; n < 48; n++)
        {
            var index = PerCommitmentSecrets.IndexOfCommitment(n);
            store.Insert(PerCommitmentSecrets.Generate(seed, index), index);
            var restored = PerCommitmentSecretStore.Restore(store.Snapshot());
            Assert.Equal(store.LastIndex, restored.LastIndex);
            Assert.Equal(store.Snapshot(), restored.Snapshot());
        }
        var copy = PerCommitmentSecretStore.Restore(store.Snapshot());
        var next = PerCommitmentSecrets.IndexOfCommitment(48);
        copy.Insert(PerCommitmentSecrets.Generate(seed, next), next);
        for (ulong n = 0; n <= 48; n++)
        {
            var index = PerCommitmentSecrets.IndexOfCommitment(n);
            Assert.True(copy.TryGetSecret(index, out var secret));
            Assert.Equal(PerCommitmentSecrets.Generate(seed, index), secret);
        }

        var entries = store.Snapshot().ToList();
        Assert.Throws<PerCommitmentSecretException>(() => PerCommitmentSecretStore.Restore(entries.Skip(1)));
        // The last index (...d0) has four trailing zeros, so the entries for ...d1, ...d2, ...d4 and ...d8 must derive from it.
        var last = store.LastIndex!.Value;
        Assert.Equal(0xd0UL, last & 0xff);
        var tampered = entries.Select(e => e.Index == last + 1 ? (e.Index, Bytes32.Zero) : e).ToList();
        Assert.Throws<PerCommitmentSecretException>(() => PerCommitmentSecretStore.Restore(tampered));
        Assert.Throws<PerCommitmentSecretException>(() => PerCommitmentSecretStore.Restore(entries.Append(entries[0])));
        Assert.Null(PerCommitmentSecretStore.Restore([]).LastIndex);
    }

    [Fact]
    public void StoreRefusesOutOfOrderIndexes()
    {
        var seed = Bytes32.Parse("0202020202020202020202020202020202020202020202020202020202020202");
        var store = new PerCommitmentSecretStore();
        Assert.Throws<PerCommitmentSecretException>(() => store.Insert(PerCommitmentSecrets.Generate(seed, 5), 5));
        store.Insert(PerCommitmentSecrets.Generate(seed, PerCommitmentSecrets.FirstIndex), PerCommitmentSecrets.FirstIndex);
        Assert.Throws<PerCommitmentSecretException>(() => store.Insert(PerCommitmentSecrets.Generate(seed, PerCommitmentSecrets.FirstIndex - 2), PerCommitmentSecrets.FirstIndex - 2));
        Assert.Throws<PerCommitmentSecretException>(() => store.Insert(Bytes32.Zero, 1UL << 48));
    }

    private static JsonElement Load(string path)
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText(path));
        return doc.RootElement.Clone();
    }

    private static TheoryData<string> Names(JsonElement array, string property)
    {
        var data = new TheoryData<string>();
        foreach (var e in array.EnumerateArray())
        {
            data.Add(e.GetProperty(property).GetString()!);
        }
        return data;
    }
}
