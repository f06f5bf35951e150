using CsCheck;
using NBitcoin;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

public sealed class DescriptorTests
{
    [Fact]
    public void Checksum_MatchesPublishedExamples()
    {
        // BIP380's vector and Bitcoin Core's wallet test descriptor.
        Assert.Equal("89f8spxm", DescriptorChecksum.Compute("raw(deadbeef)"));
        Assert.Equal("cjjspncu", DescriptorChecksum.Compute("wpkh([d34db33f/84h/0h/0h]xpub6DJ2dNUysrn5Vt36jH2KLBT2i1auw1tTSSomg8PhqNiUtx8QX2SvC9nrHu81fT41fvDUnhMjEzQgXnQjKEu3oaqMSzhSrHMxyyoEAmUHQbY/0/*)"));
        Assert.Throws<WalletFormatException>(() => DescriptorChecksum.Compute("raw(Ü)"));
    }

    [Fact]
    public void WalletDescriptors_HaveTheExpectedShape_AndRoundTrip()
    {
        var master = new Mnemonic("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", Wordlist.English).DeriveExtKey();
        var fp = master.GetPublicKey().GetHDFingerPrint().ToString();
        var wpkh = HdAccount.FromMaster(master, AddressType.P2wpkh, Network.RegTest);
        var tr = HdAccount.FromMaster(master, AddressType.P2tr, Network.RegTest);
        var receive = wpkh.Descriptor(KeyChain.Receive).ToString();
        Assert.Matches($"^wpkh\\(\\[{fp}/84'/1'/0'\\]tpub[1-9A-HJ-NP-Za-km-z]+/0/\\*\\)#[a-z0-9]{{8}}$", receive);
        Assert.Matches($"^tr\\(\\[{fp}/86'/1'/0'\\]tpub[1-9A-HJ-NP-Za-km-z]+/1/\\*\\)#[a-z0-9]{{8}}$", tr.Descriptor(KeyChain.Change).ToString());
        Assert.Matches("^wpkh\\(\\[[0-9a-f]{8}/84'/0'/0'\\]xpub", HdAccount.FromMaster(master, AddressType.P2wpkh, Network.Main).Descriptor(KeyChain.Receive).ToString());

        var parsed = WalletDescriptor.Parse(receive, Network.RegTest);
        Assert.Equal(receive, parsed.ToString());
        var watchOnly = HdAccount.FromDescriptor(parsed);
        Assert.False(watchOnly.CanSign);
        Assert.Equal(wpkh.ScriptPubKey(KeyChain.Receive, 7), watchOnly.ScriptPubKey(KeyChain.Receive, 7));
        Assert.Throws<WalletException>(() => watchOnly.PrivateKey(KeyChain.Receive, 0));
    }

    [Fact]
    public void BadDescriptors_AreTyped()
    {
        var master = new ExtKey();
        var text = HdAccount.FromMaster(master, AddressType.P2tr, Network.RegTest).Descriptor(KeyChain.Receive).ToString();
        Assert.Throws<WalletFormatException>(() => WalletDescriptor.Parse(text[..^1] + (text[^1] == 'q' ? 'p' : 'q'), Network.RegTest));
        Assert.Throws<WalletFormatException>(() => WalletDescriptor.Parse(text[..text.IndexOf('#', StringComparison.Ordinal)], Network.RegTest));
        Assert.Throws<WalletFormatException>(() => WalletDescriptor.Parse(text, Network.Main)); // tpub on mainnet
        Gen.String.Sample(s => Assert.IsAssignableFrom<WalletException>(Record.Exception(() => WalletDescriptor.Parse(s, Network.RegTest))), iter: 500);
        Gen.Select(Gen.Int[0, text.Length - 1], Gen.Char['!', '~']).Sample(t =>
        {
            var mutated = string.Concat(text.AsSpan(0, t.Item1), t.Item2.ToString(), text.AsSpan(t.Item1 + 1));
            var e = Record.Exception(() => WalletDescriptor.Parse(mutated, Network.RegTest));
            Assert.True(mutated == text || e is WalletFormatException, $"{mutated}: {e?.GetType().Name ?? "accepted"}");
        }, iter: 500);
    }
}
