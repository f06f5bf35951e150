using CsCheck;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

public sealed class SeedVaultTests
{
    private static readonly WalletSecret Secret = new("legal winner thank year wave sausage worth useful legal winner thank yellow", "TREZOR");

    [Fact]
    public void RoundTrips_AndUsesFreshSaltAndNonce()
    {
        var a = SeedVault.Encrypt(Secret, "pw", iterations: 1_000);
        var b = SeedVault.Encrypt(Secret, "pw", iterations: 1_000);
        Assert.NotEqual(a, b);
        Assert.Equal(Secret, SeedVault.Decrypt(a, "pw"));
        Assert.Equal(Secret, SeedVault.Decrypt(b, "pw"));
        Assert.Equal((byte)'S', a[0]);
        Assert.Equal(SeedVault.FormatVersion, a[4]);
        Assert.DoesNotContain("legal", System.Text.Encoding.UTF8.GetString(a), StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultIterations_AreAtLeast600k()
    {
        Assert.True(SeedVault.DefaultIterations >= 600_000);
        Assert.Equal(SeedVault.DefaultIterations, new WalletOptions(NBitcoin.Network.RegTest, null).KdfIterations);
    }

    [Fact]
    public void WrongPassphrase_IsTyped()
    {
        var blob = SeedVault.Encrypt(Secret, "right", iterations: 1_000);
        Assert.Throws<WalletPassphraseException>(() => SeedVault.Decrypt(blob, "wrong"));
        Assert.Throws<WalletPassphraseException>(() => SeedVault.Decrypt(blob, ""));
    }

    [Fact]
    public void TamperedHeaderOrCiphertext_FailsAuthentication()
    {
        var blob = SeedVault.Encrypt(Secret, "pw", iterations: 1_000);
        var iterationsChanged = (byte[])blob.Clone();
        iterationsChanged[9] ^= 1; // 1000 → 1001: authenticated as associated data
        Assert.Throws<WalletPassphraseException>(() => SeedVault.Decrypt(iterationsChanged, "pw"));
        foreach (var index in new[] { 12, 30, 40, blob.Length - 1 })
        {
            var copy = (byte[])blob.Clone();
            copy[index] ^= 0x40;
            Assert.Throws<WalletPassphraseException>(() => SeedVault.Decrypt(copy, "pw"));
        }
        var version = (byte[])blob.Clone();
        version[4] = 9;
        Assert.Throws<WalletFormatException>(() => SeedVault.Decrypt(version, "pw"));
        Assert.Throws<WalletFormatException>(() => SeedVault.Decrypt(blob.AsSpan(0, 40), "pw"));
    }

    [Fact]
    public void RandomAndMutatedBlobs_OnlyEverGiveWalletErrors()
    {
        var blob = SeedVault.Encrypt(Secret, "pw", iterations: 10);
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            var e = Record.Exception(() => SeedVault.Decrypt(bytes, "pw"));
            Assert.IsAssignableFrom<WalletException>(e);
        }, iter: 500);
        // mutate anything but the iteration count (a huge count is valid input, only slow)
        Gen.Select(Gen.Int[0, blob.Length - 1], Gen.Byte[1, 255]).Where(t => t.Item1 is < 6 or > 9).Sample(t =>
        {
            var copy = (byte[])blob.Clone();
            copy[t.Item1] ^= t.Item2;
            var e = Record.Exception(() => SeedVault.Decrypt(copy, "pw"));
            Assert.IsAssignableFrom<WalletException>(e);
        }, iter: 300);
    }
}
