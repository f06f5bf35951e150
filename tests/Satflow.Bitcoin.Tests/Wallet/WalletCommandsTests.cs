using CsCheck;
using NBitcoin;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

public sealed class WalletCommandsTests
{
    [Fact]
    public async Task CliFlow_CreateAddressBalanceSendBumpListRestore()
    {
        var chain = new FakeChain();
        await chain.MineEmptyAsync(5);
        var broadcaster = new RecordingBroadcaster(chain);
        var dir = Path.Combine(Path.GetTempPath(), "satflow-wallet-tests", Guid.NewGuid().ToString("N"));
        var restoreDir = dir + "-restored";
        try
        {
            var commands = new WalletCommands(WalletTestKit.Options(dir), chain, broadcaster);
            var created = await commands.CreateAsync("pw", words: 24);
            Assert.Equal(24, created.Mnemonic.Split(' ').Length);
            Assert.Equal(5, created.Tip.Height);
            Assert.Equal(4, created.Descriptors.Count);

            var address = await commands.NewAddressAsync("pw", "p2tr");
            Assert.StartsWith("bcrt1p", address, StringComparison.Ordinal);
            await chain.MineAsync([chain.Pay(BitcoinAddress.Create(address, Network.RegTest).ScriptPubKey, Money.Coins(0.5m))]);
            await chain.MineAsync([chain.Pay(BitcoinAddress.Create(await commands.NewAddressAsync("pw"), Network.RegTest).ScriptPubKey, Money.Coins(0.25m))]);
            Assert.Equal(Money.Coins(0.75m), (await commands.BalanceAsync("pw")).Confirmed);

            var destination = new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.RegTest).ToString();
            var sent = await commands.SendAsync("pw", destination, "0.1btc", 2.5m);
            var bumped = await commands.BumpFeeAsync("pw", sent.TxId.ToString(), 20m);
            Assert.Equal(bumped.TxId, Assert.Single(chain.Mempool).GetHash());
            await chain.MineAsync();
            var unspent = await commands.ListUnspentAsync("pw");
            Assert.Equal((Money.Coins(0.65m) - bumped.Fee).Satoshi, unspent.Sum(u => u.Amount.Satoshi));
            await Assert.ThrowsAsync<WalletPassphraseException>(() => commands.BalanceAsync("wrong"));

            var restoring = new WalletCommands(WalletTestKit.Options(restoreDir), chain, new RecordingBroadcaster(chain));
            var restored = await restoring.RestoreAsync(created.Mnemonic, "pw2");
            Assert.Equal(Money.Coins(0.65m) - bumped.Fee, restored.Balance.Confirmed);
            Assert.Equal(unspent.Count, restored.UnspentCount);

            // a reorg between two commands is caught up by the next one
            await chain.DisconnectAsync(1);
            await chain.MineEmptyAsync(2);
            var afterReorg = await commands.BalanceAsync("pw");
            Assert.Equal(Money.Coins(0.65m) - bumped.Fee, afterReorg.Total);
            Assert.Equal(bumped.Transaction.Outputs[bumped.ChangeOutputIndex!.Value].Value, afterReorg.Unconfirmed);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var d in new[] { dir, restoreDir })
            {
                if (Directory.Exists(d))
                {
                    Directory.Delete(d, recursive: true);
                }
            }
        }
    }

    [Fact]
    public void ArgumentParsers_GiveTypedErrors()
    {
        Assert.Equal(AddressType.P2tr, WalletCommands.ParseAddressType("P2TR"));
        Assert.Equal(AddressType.P2wpkh, WalletCommands.ParseAddressType("p2wpkh"));
        Assert.Throws<WalletException>(() => WalletCommands.ParseAddressType("p2pkh"));
        Assert.True(WalletCommands.ParseAmount("all").IsAll);
        Assert.Equal(Money.Satoshis(150_000), WalletCommands.ParseAmount("150000").Amount);
        Assert.Equal(Money.Satoshis(150_000), WalletCommands.ParseAmount("0.0015btc").Amount);
        Assert.Equal(Money.Satoshis(1), WalletCommands.ParseAmount("1sat").Amount);
        Assert.Equal(new FeeRate(Money.Satoshis(2_500)), WalletCommands.ParseFeeRate(2.5m));
        foreach (var bad in new[] { "", "-5", "0", "1.5", "0.000000001btc", "abc", "22000000btc" })
        {
            Assert.Throws<WalletException>(() => WalletCommands.ParseAmount(bad));
        }
        Assert.Throws<WalletException>(() => WalletCommands.ParseFeeRate(0.5m));
        Assert.Throws<WalletException>(() => WalletCommands.ParseAddress(new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.Main).ToString(), Network.RegTest));
        Gen.String.Sample(s =>
        {
            Assert.IsAssignableFrom<WalletException>(Record.Exception(() => WalletCommands.ParseAddress(s, Network.RegTest)));
            var e = Record.Exception(() => WalletCommands.ParseAmount(s));
            Assert.True(e is null or WalletException, e?.GetType().Name);
        }, iter: 500);
    }
}
