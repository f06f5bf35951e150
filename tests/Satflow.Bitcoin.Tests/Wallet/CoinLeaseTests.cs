using NBitcoin;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

public sealed class CoinLeaseTests
{
    private static readonly Script External = new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Segwit);

    private static BitcoinAddress ExternalAddress() => new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.RegTest);

    /// <summary>Spends a lent coin to its change script (fee 1,000 sat), signed through the loan's signer.</summary>
    private static Transaction SpendLent(LentCoin coin)
    {
        var tx = Network.RegTest.CreateTransaction();
        tx.Inputs.Add(new TxIn(coin.OutPoint) { Sequence = new Sequence(0xFFFFFFFD) });
        tx.Outputs.Add(new TxOut(coin.Amount - Money.Satoshis(1_000), coin.ChangeScript));
        var hash = tx.GetSignatureHash(coin.PubKey.Hash.ScriptPubKey, 0, SigHash.All, coin.Output, HashVersion.WitnessV0);
        var signature = coin.Signer(hash);
        tx.Inputs[0].WitScript = new WitScript(new byte[][] { new TransactionSignature(signature, SigHash.All).ToBytes(), coin.PubKey.ToBytes() });
        return tx;
    }

    [Fact]
    public async Task LentCoin_SignsASpendTheValidatorAccepts()
    {
        using var kit = new WalletTestKit();
        var funding = await kit.FundAsync(Money.Coins(0.01m));

        var coin = kit.Wallet.LendCoin(Money.Coins(0.005m), [], 6);

        Assert.NotNull(coin);
        Assert.Equal(new OutPoint(funding.GetHash(), 0), coin.OutPoint);
        Assert.Equal(coin.PubKey.WitHash.ScriptPubKey, coin.Output.ScriptPubKey);
        Assert.True(kit.Wallet.IsMine(coin.ChangeScript));
        Assert.Equal(KeyChain.Change, kit.Wallet.ListAddresses().Single(a => a.ScriptPubKey == coin.ChangeScript).Chain);
        Assert.Equal(kit.Chain.Height + 6, coin.LeasedUntilHeight);
        var spend = SpendLent(coin);
        var result = Assert.Single(spend.CreateValidator([coin.Output]).ValidateInputs());
        Assert.Null(result.Error);
        kit.Chain.Accept(spend); // the fake chain checks scripts and fees too
        await kit.Chain.MineAsync();
        Assert.Equal(coin.Amount - Money.Satoshis(1_000), kit.Wallet.GetBalance().Confirmed);
        Assert.Empty(kit.Wallet.ListLeases()); // a spent coin's lease is gone
    }

    [Fact]
    public async Task LendCoin_PicksTheSmallestConfirmedP2wpkhCoin_AndNeverLendsItTwice()
    {
        using var kit = new WalletTestKit();
        var big = await kit.FundAsync(Money.Coins(1m));
        var small = await kit.FundAsync(Money.Coins(0.02m));
        await kit.FundAsync(Money.Coins(0.03m), AddressType.P2tr);
        var tooSmall = await kit.FundAsync(Money.Coins(0.001m));

        var first = kit.Wallet.LendCoin(Money.Coins(0.01m), [], 3);
        var second = kit.Wallet.LendCoin(Money.Coins(0.01m), [], 3);
        var third = kit.Wallet.LendCoin(Money.Coins(0.01m), [], 3);

        Assert.Equal(new OutPoint(small.GetHash(), 0), first!.OutPoint);
        Assert.Equal(new OutPoint(big.GetHash(), 0), second!.OutPoint);
        Assert.Null(third); // the taproot coin and the too small one do not qualify
        Assert.Equal(2, kit.Wallet.ListLeases().Count);
        Assert.DoesNotContain(kit.Wallet.ListLeases(), l => l.OutPoint.Hash == tooSmall.GetHash());
    }

    [Fact]
    public async Task LendCoin_SkipsExcludedCoins()
    {
        using var kit = new WalletTestKit();
        var a = await kit.FundAsync(Money.Coins(0.02m));
        var b = await kit.FundAsync(Money.Coins(0.03m));

        var coin = kit.Wallet.LendCoin(Money.Coins(0.01m), [new OutPoint(a.GetHash(), 0)], 3);

        Assert.Equal(new OutPoint(b.GetHash(), 0), coin!.OutPoint);
        Assert.Null(kit.Wallet.LendCoin(Money.Coins(0.01m), [new OutPoint(a.GetHash(), 0)], 3));
    }

    [Fact]
    public async Task Lease_Expires_ThenTheCoinIsLentAgain()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.02m));
        var coin = kit.Wallet.LendCoin(Money.Coins(0.01m), [], 2)!;

        await kit.Chain.MineEmptyAsync(1);
        Assert.Null(kit.Wallet.LendCoin(Money.Coins(0.01m), [], 2));
        await kit.Chain.MineEmptyAsync(1);
        var again = kit.Wallet.LendCoin(Money.Coins(0.01m), [], 2);

        Assert.Equal(coin.OutPoint, again!.OutPoint);
        // The replacement's change goes to the same unused change address: repeated loans open no gap.
        Assert.Equal(coin.ChangeScript, again.ChangeScript);
    }

    [Fact]
    public async Task LentCoin_IsNotSelectedBySend()
    {
        using var kit = new WalletTestKit();
        var lent = await kit.FundAsync(Money.Coins(0.5m));
        var free = await kit.FundAsync(Money.Coins(0.2m));
        var coin = kit.Wallet.LendCoin(Money.Coins(0.4m), [], 6)!;
        Assert.Equal(new OutPoint(lent.GetHash(), 0), coin.OutPoint);

        await Assert.ThrowsAsync<InsufficientFundsException>(() => kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.3m)), WalletTestKit.SatPerVb(2)));
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.1m)), WalletTestKit.SatPerVb(2));

        var input = Assert.Single(sent.Transaction.Inputs);
        Assert.Equal(new OutPoint(free.GetHash(), 0), input.PrevOut);
        var all = await Assert.ThrowsAsync<InsufficientFundsException>(() => kit.Wallet.SendAsync(ExternalAddress(), SendAmount.All, WalletTestKit.SatPerVb(2)));
        Assert.NotNull(all);
    }

    [Fact]
    public async Task LeasedPsbtInputs_AreNotSelectedAgain_UntilReleased()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.5m));
        await kit.FundAsync(Money.Coins(0.5m));
        var outputs = new[] { new PaymentOutput(External, Money.Coins(0.3m)) };
        var rate = WalletTestKit.SatPerVb(2);

        var first = kit.Wallet.CreateFundedPsbt(outputs, rate, leaseBlocks: 144);
        var second = kit.Wallet.CreateFundedPsbt(outputs, rate, leaseBlocks: 144);
        var firstInputs = first.Psbt.Inputs.Select(i => i.PrevOut).ToHashSet();
        var secondInputs = second.Psbt.Inputs.Select(i => i.PrevOut).ToHashSet();

        Assert.Empty(firstInputs.Intersect(secondInputs));
        Assert.Null(kit.Wallet.LendCoin(Money.Satoshis(1_000), [], 6)); // every coin is reserved
        Assert.Throws<InsufficientFundsException>(() => kit.Wallet.CreateFundedPsbt(outputs, rate));
        Assert.Equal(firstInputs.Count, kit.Wallet.ReleaseCoins(firstInputs));
        var third = kit.Wallet.CreateFundedPsbt(outputs, rate);
        Assert.Equal(firstInputs, third.Psbt.Inputs.Select(i => i.PrevOut).ToHashSet());
    }

    [Fact]
    public async Task LeaseCoins_WithoutExpiry_HoldsUntilReleased()
    {
        using var kit = new WalletTestKit();
        var funding = await kit.FundAsync(Money.Coins(0.1m));
        var outPoint = new OutPoint(funding.GetHash(), 0);

        kit.Wallet.LeaseCoins([outPoint], null);
        await kit.Chain.MineEmptyAsync(500);

        Assert.Equal(new CoinLease(outPoint, null), Assert.Single(kit.Wallet.ListLeases()));
        Assert.Null(kit.Wallet.LendCoin(Money.Satoshis(1), [], 1));
        Assert.Equal(1, kit.Wallet.ReleaseCoins([outPoint]));
        Assert.Equal(0, kit.Wallet.ReleaseCoins([outPoint]));
        Assert.NotNull(kit.Wallet.LendCoin(Money.Satoshis(1), [], 1));
    }

    [Fact]
    public async Task BadLeases_AreRejectedWithWalletException()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.1m));

        Assert.Throws<WalletException>(() => kit.Wallet.LendCoin(Money.Satoshis(1), [], 0));
        Assert.Throws<WalletException>(() => kit.Wallet.LeaseCoins([new OutPoint(uint256.One, 0)], 5));
        Assert.Throws<WalletException>(() => kit.Wallet.LeaseCoins([kit.Wallet.ListUnspent()[0].OutPoint], 0));
        Assert.Throws<WalletException>(() => kit.Wallet.CreateFundedPsbt([new PaymentOutput(External, Money.Coins(0.01m))], WalletTestKit.SatPerVb(1), leaseBlocks: 0));
        Assert.Empty(kit.Wallet.ListLeases());
    }

    [Fact]
    public async Task UnconfirmedChange_IsNeverLent()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.5m));
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.1m)), WalletTestKit.SatPerVb(2));
        Assert.NotNull(sent.ChangeOutputIndex);

        Assert.Null(kit.Wallet.LendCoin(Money.Satoshis(1_000), [], 6));
        await kit.Chain.MineAsync();
        Assert.Equal(new OutPoint(sent.TxId, sent.ChangeOutputIndex.Value), kit.Wallet.LendCoin(Money.Satoshis(1_000), [], 6)!.OutPoint);
    }
}
