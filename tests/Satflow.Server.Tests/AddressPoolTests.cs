using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Merchant;
using Satflow.Server.Payments;

namespace Satflow.Server.Tests;

/// <summary>The descriptor address source's block reservation (crash safety, concurrency, both address types).</summary>
public sealed class AddressPoolTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("satflowd-pool-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static string Expected(HdAccount account, int index) => account.ScriptPubKey(KeyChain.Receive, index).GetDestinationAddress(Network.RegTest)!.ToString();

    [Fact]
    public async Task The_high_water_mark_is_on_disk_before_the_first_address_of_a_block_and_a_restart_never_reuses_one()
    {
        var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
        var descriptor = account.Descriptor(KeyChain.Receive).ToString();
        var file = Path.Combine(_dir.FullName, "index");
        var handedOut = new HashSet<string>(StringComparer.Ordinal);

        var first = new DescriptorAddressSource(descriptor, Network.RegTest, file, reserveAhead: 20);
        Assert.Equal(0, first.NextIndex);
        var a0 = await first.NextAddressAsync();
        Assert.Equal(Expected(account, 0), a0);

        // The whole block is reserved on disk before index 0 was returned: a crash now skips 1..19, never reuses 0.
        Assert.Equal("20", (await File.ReadAllTextAsync(file)).Trim());
        Assert.True(handedOut.Add(a0));
        for (var i = 1; i < 25; i++)
        {
            var a = await first.NextAddressAsync();
            Assert.Equal(Expected(account, i), a);
            Assert.True(handedOut.Add(a));
        }

        // Index 20 started a second block, persisted before it was handed out.
        Assert.Equal("40", (await File.ReadAllTextAsync(file)).Trim());
        Assert.Equal(25, first.NextIndex);

        // "Crash": a new instance on the same file (the first is simply abandoned) starts after the reserved block.
        var restarted = new DescriptorAddressSource(descriptor, Network.RegTest, file, reserveAhead: 20);
        Assert.Equal(40, restarted.NextIndex);
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => restarted.NextAddressAsync())));
        foreach (var a in concurrent)
        {
            Assert.True(handedOut.Add(a), "an address was handed out twice");
        }

        Assert.Equal(Enumerable.Range(40, 50).Select(i => Expected(account, i)).Order(StringComparer.Ordinal), concurrent.Order(StringComparer.Ordinal));
        Assert.Equal("100", (await File.ReadAllTextAsync(file)).Trim());
    }

    [Fact]
    public async Task A_source_never_goes_below_what_it_handed_out_even_if_the_file_is_rolled_back()
    {
        var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
        var file = Path.Combine(_dir.FullName, "index");
        var source = new DescriptorAddressSource(account.Descriptor(KeyChain.Receive).ToString(), Network.RegTest, file, reserveAhead: 2);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(seen.Add(await source.NextAddressAsync()));
        }

        await File.WriteAllTextAsync(file, "0");
        for (var i = 0; i < 4; i++)
        {
            Assert.True(seen.Add(await source.NextAddressAsync()));
        }

        await File.WriteAllTextAsync(file, "garbage");
        var corrupt = await Assert.ThrowsAsync<MerchantException>(() => source.NextAddressAsync());
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, corrupt.Reason);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DescriptorAddressSource(account.Descriptor(KeyChain.Receive).ToString(), Network.RegTest, file, reserveAhead: 0));
    }

    [Theory]
    [InlineData(AddressType.P2wpkh)]
    [InlineData(AddressType.P2tr)]
    public async Task Both_address_types_and_chains_hand_out_the_descriptor_s_addresses_in_order_across_blocks(AddressType type)
    {
        var account = HdAccount.FromMaster(new ExtKey(), type, Network.RegTest);
        foreach (var chain in new[] { KeyChain.Receive, KeyChain.Change })
        {
            var source = new DescriptorAddressSource(account.Descriptor(chain).ToString(), Network.RegTest, Path.Combine(_dir.FullName, "i-" + type + chain), reserveAhead: 7);
            for (var index = 0; index < 30; index++)
            {
                Assert.Equal(account.ScriptPubKey(chain, index).GetDestinationAddress(Network.RegTest)!.ToString(), await source.NextAddressAsync());
            }
        }
    }
}
