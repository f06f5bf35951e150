using System.Globalization;
using System.Text.Json;
using NBitcoin;
using NBitcoin.DataEncoders;
using NBitcoin.Secp256k1;
using Satflow.Bitcoin.Wallet;
using Satflow.TestSupport;

namespace Satflow.Bitcoin.Tests.Wallet;

/// <summary>BIP32 / BIP84 / BIP86 / BIP340 vectors run through the wallet's own key code.</summary>
public sealed class BipVectorTests
{
    private static JsonDocument Load(string relative) => JsonDocument.Parse(TestVectors.ReadText(relative));

    /// <summary>The 74-byte body of an extended key (depth, fingerprint, child, chain code, key), whatever its version.</summary>
    private static string Body(string base58) => Convert.ToHexString(Encoders.Base58Check.DecodeData(base58).AsSpan(4));

    private static string Body(ExtKey key) => Body(key.GetWif(Network.Main).ToString());

    private static string Body(ExtPubKey key) => Body(key.GetWif(Network.Main).ToString());

    [Fact]
    public void Bip84_MnemonicAccountAndAddresses()
    {
        using var doc = Load("bips/bip-0084.json");
        var root = doc.RootElement;
        var master = new Mnemonic(root.GetProperty("mnemonic").GetString()!, Wordlist.English).DeriveExtKey();
        Assert.Equal(Body(root.GetProperty("rootpriv").GetString()!), Body(master));
        Assert.Equal(Body(root.GetProperty("rootpub").GetString()!), Body(master.Neuter()));
        var account = HdAccount.FromMaster(master, AddressType.P2wpkh, Network.Main);
        var checkedEntries = 0;
        foreach (var entry in root.GetProperty("entries").EnumerateArray())
        {
            var path = entry.GetProperty("path").GetString()!;
            if (entry.TryGetProperty("xpriv", out var xpriv))
            {
                Assert.Equal("m/" + account.Origin.KeyPath, path);
                Assert.Equal(Body(xpriv.GetString()!), Body(master.Derive(new KeyPath(path[2..]))));
                Assert.Equal(Body(entry.GetProperty("xpub").GetString()!), Body(account.AccountPubKey));
                checkedEntries++;
                continue;
            }
            var parts = path.Split('/');
            var chain = (KeyChain)int.Parse(parts[^2], CultureInfo.InvariantCulture);
            var index = int.Parse(parts[^1], CultureInfo.InvariantCulture);
            Assert.Equal(entry.GetProperty("privkey").GetString(), account.PrivateKey(chain, index).GetWif(Network.Main).ToString());
            Assert.Equal(entry.GetProperty("pubkey").GetString(), account.PubKey(chain, index).ToHex());
            Assert.Equal(entry.GetProperty("address").GetString(), account.ScriptPubKey(chain, index).GetDestinationAddress(Network.Main)!.ToString());
            Assert.Equal(path, "m/" + account.FullPath(chain, index).KeyPath);
            checkedEntries++;
        }
        Assert.Equal(4, checkedEntries);
    }

    [Fact]
    public void Bip86_MnemonicAccountKeysAndAddresses()
    {
        using var doc = Load("bips/bip-0086.json");
        var root = doc.RootElement;
        var master = new Mnemonic(root.GetProperty("mnemonic").GetString()!, Wordlist.English).DeriveExtKey();
        Assert.Equal(root.GetProperty("rootpriv").GetString(), master.GetWif(Network.Main).ToString());
        Assert.Equal(root.GetProperty("rootpub").GetString(), master.Neuter().GetWif(Network.Main).ToString());
        var account = HdAccount.FromMaster(master, AddressType.P2tr, Network.Main);
        var checkedEntries = 0;
        foreach (var entry in root.GetProperty("entries").EnumerateArray())
        {
            var path = entry.GetProperty("path").GetString()!;
            var derived = master.Derive(new KeyPath(path[2..]));
            Assert.Equal(entry.GetProperty("xprv").GetString(), derived.GetWif(Network.Main).ToString());
            Assert.Equal(entry.GetProperty("xpub").GetString(), derived.Neuter().GetWif(Network.Main).ToString());
            if (!entry.TryGetProperty("address", out var address))
            {
                Assert.Equal(entry.GetProperty("xpub").GetString(), account.AccountPubKey.GetWif(Network.Main).ToString());
                checkedEntries++;
                continue;
            }
            var parts = path.Split('/');
            var chain = (KeyChain)int.Parse(parts[^2], CultureInfo.InvariantCulture);
            var index = int.Parse(parts[^1], CultureInfo.InvariantCulture);
            var pub = account.PubKey(chain, index);
            Assert.Equal(entry.GetProperty("internal_key").GetString(), Convert.ToHexString(pub.TaprootInternalKey.ToBytes()).ToLowerInvariant());
            Assert.Equal(entry.GetProperty("output_key").GetString(), Convert.ToHexString(pub.GetTaprootFullPubKey().ToBytes()).ToLowerInvariant());
            Assert.Equal(entry.GetProperty("scriptPubKey").GetString(), account.ScriptPubKey(chain, index).ToHex());
            Assert.Equal(address.GetString(), account.ScriptPubKey(chain, index).GetDestinationAddress(Network.Main)!.ToString());
            checkedEntries++;
        }
        Assert.Equal(4, checkedEntries);
    }

    [Theory]
    [InlineData("Test vector 1")]
    [InlineData("Test vector 2")]
    [InlineData("Test vector 3")]
    [InlineData("Test vector 4")]
    public void Bip32_Derivation(string name)
    {
        using var doc = Load("bips/bip-0032.json");
        var vector = doc.RootElement.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("name").GetString() == name);
        var master = ExtKey.CreateFromSeed(Convert.FromHexString(vector.GetProperty("seed").GetString()!));
        var chains = 0;
        foreach (var chain in vector.GetProperty("chains").EnumerateArray())
        {
            var path = chain.GetProperty("path").GetString()!;
            var key = path == "m" ? master : master.Derive(new KeyPath(path[2..]));
            var prv = chain.GetProperty("ext_prv").GetString()!;
            var pub = chain.GetProperty("ext_pub").GetString()!;
            Assert.Equal(prv, key.GetWif(Network.Main).ToString());
            Assert.Equal(pub, key.Neuter().GetWif(Network.Main).ToString());
            // and the strict parser accepts what the spec gives
            Assert.Equal(key, ExtendedKeyParser.ParsePrivate(prv, Network.Main));
            Assert.Equal(key.Neuter(), ExtendedKeyParser.ParsePublic(pub, Network.Main));
            chains++;
        }
        Assert.True(chains >= 2);
    }

    [Fact]
    public void Bip32_Vector5_InvalidKeys_AreRejectedWithATypedError()
    {
        using var doc = Load("bips/bip-0032.json");
        var keys = doc.RootElement.GetProperty("invalid_extended_keys").GetProperty("keys").EnumerateArray()
            .Select(k => (Key: k.GetProperty("key").GetString()!, Reason: k.GetProperty("reason").GetString()!))
            .ToList();
        Assert.True(keys.Count >= 15, $"only {keys.Count} invalid keys in the file");
        foreach (var (key, reason) in keys)
        {
            // Whatever the kind the version claims, neither parser may accept the key.
            var asPublic = Record.Exception(() => ExtendedKeyParser.ParsePublic(key, Network.Main));
            var asPrivate = Record.Exception(() => ExtendedKeyParser.ParsePrivate(key, Network.Main));
            Assert.True(asPublic is WalletFormatException, $"public parse of '{reason}' gave {asPublic?.GetType().Name ?? "success"}");
            Assert.True(asPrivate is WalletFormatException, $"private parse of '{reason}' gave {asPrivate?.GetType().Name ?? "success"}");
        }
    }

    private static List<string[]> Bip340Rows() =>
        [.. TestVectors.ReadText("bips/bip-0340/test-vectors.csv").Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.TrimEnd('\r').Split(','))];

    [Fact]
    public void Bip340_Rows0To14_SignAndVerifyWith32ByteMessages()
    {
        var rows = Bip340Rows().Where(r => int.Parse(r[0], CultureInfo.InvariantCulture) <= 14).ToList();
        Assert.Equal(15, rows.Count);
        foreach (var r in rows)
        {
            var message = Convert.FromHexString(r[4]);
            var expected = r[6] == "TRUE";
            if (r[1].Length > 0)
            {
                using var key = ECPrivKey.Create(Convert.FromHexString(r[1]));
                var sig = key.SignBIP340(message, Convert.FromHexString(r[3]));
                Assert.Equal(r[5], Convert.ToHexString(sig.ToBytes()));
            }
            var verified = ECXOnlyPubKey.TryCreate(Convert.FromHexString(r[2]), out var pub)
                && SecpSchnorrSignature.TryCreate(Convert.FromHexString(r[5]), out var parsed)
                && pub!.SigVerifyBIP340(parsed!, message);
            Assert.True(expected == verified, $"row {r[0]}: expected {expected}");
        }
    }

    /// <summary>
    /// Rows 15–18 sign messages of 0, 1, 17 and 100 bytes. NBitcoin.Secp256k1 4.0.4 only takes 32-byte messages:
    /// <c>SignBIP340</c> throws <see cref="ArgumentException"/> ("msg32 should be 32 bytes") and <c>SigVerifyBIP340</c>
    /// returns false for these valid signatures. This test pins that limitation so an upgrade that lifts it is noticed.
    /// </summary>
    [Fact]
    public void Bip340_Rows15To18_VariableLengthMessages_AreNotSupportedByNBitcoinSecp256k1()
    {
        var rows = Bip340Rows().Where(r => int.Parse(r[0], CultureInfo.InvariantCulture) is >= 15 and <= 18).ToList();
        Assert.Equal(4, rows.Count);
        foreach (var r in rows)
        {
            var message = Convert.FromHexString(r[4]);
            Assert.NotEqual(32, message.Length);
            Assert.Equal("TRUE", r[6]);
            using var key = ECPrivKey.Create(Convert.FromHexString(r[1]));
            Assert.Throws<ArgumentException>(() => key.SignBIP340(message, Convert.FromHexString(r[3])));
            Assert.True(ECXOnlyPubKey.TryCreate(Convert.FromHexString(r[2]), out var pub));
            Assert.True(SecpSchnorrSignature.TryCreate(Convert.FromHexString(r[5]), out var sig));
            Assert.False(pub!.SigVerifyBIP340(sig!, message));
        }
    }
}
