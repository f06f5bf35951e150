using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Node.Funding;

namespace Satflow.Node.Tests;

public sealed class WalletClaimFeeWalletTests
{
    [Fact]
    public async Task Force_close_pays_the_anchor_cpfp_child_from_the_on_chain_wallet_and_the_devnet_accepts_it()
    {
        await using var h = await LightningHarness.CreateAsync(2, new HarnessOptions { WalletBackedFeeWallet = true, WalletCoins = 3, FeeCoins = 0 });
        var (a, b) = (h[0], h[1]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000), MilliSatoshi.FromSatoshis(200_000));
        var walletCoins = a.Wallet.ListUnspent().Select(u => u.OutPoint).ToHashSet();
        var funding = a.Node.GetChannel(channelId)!.FundingOutPoint;
        Assert.DoesNotContain(funding, walletCoins);

        await a.Node.CloseChannelAsync(channelId, force: true);

        var commitment = h.Chain.Broadcasts.First(t => t.Inputs.Any(i => i.PrevOut == funding));
        var child = Assert.Single(h.Chain.Broadcasts, t => t.Inputs.Any(i => i.PrevOut.Hash == commitment.GetHash()));
        var anchor = Assert.Single(child.Inputs, i => i.PrevOut.Hash == commitment.GetHash());
        Assert.Equal(Money.Satoshis(330), commitment.Outputs[anchor.PrevOut.N].Value);
        var feeCoin = Assert.Single(child.Inputs, i => walletCoins.Contains(i.PrevOut)).PrevOut;
        Assert.True(a.Wallet.IsMine(Assert.Single(child.Outputs).ScriptPubKey));
        Assert.Empty(h.Chain.Rejected); // the devnet mempool took the commitment and its child
        Assert.Contains(a.Wallet.ListLeases(), l => l.OutPoint == feeCoin);
        Assert.Equal(0, a.FeeWallet.Lent);

        await h.MineBlocksAsync(1);

        Assert.True(h.Chain.IsConfirmed(commitment.GetHash()));
        Assert.True(h.Chain.IsConfirmed(child.GetHash()));
        Assert.DoesNotContain(a.Wallet.ListUnspent(), u => u.OutPoint == feeCoin);
        Assert.Contains(a.Wallet.ListUnspent(), u => u.OutPoint == new OutPoint(child.GetHash(), 0));
        Assert.Empty(a.Wallet.ListLeases());
    }

    [Fact]
    public async Task Lends_each_wallet_coin_once_honours_exclusions_and_returns_null_when_none_is_left()
    {
        await using var h = await LightningHarness.CreateAsync(1, new HarnessOptions { WalletCoins = 2, FeeCoins = 0 });
        var wallet = h[0].Wallet;
        var feeWallet = new WalletClaimFeeWallet(wallet, leaseBlocks: 2);
        var coins = wallet.ListUnspent().Select(u => u.OutPoint).ToList();
        Assert.Equal(2, coins.Count);

        Assert.Null(feeWallet.GetFeeInput(Money.Coins(1_000m), []));
        var first = feeWallet.GetFeeInput(Money.Satoshis(10_000), [coins[0]]);
        Assert.Equal(coins[1], first!.Coin.OutPoint);
        Assert.True(wallet.IsMine(first.ChangeScript));
        Assert.Null(feeWallet.GetFeeInput(Money.Satoshis(10_000), [coins[0]]));
        var second = feeWallet.GetFeeInput(Money.Satoshis(10_000), []);
        Assert.Equal(coins[0], second!.Coin.OutPoint);
        Assert.Null(feeWallet.GetFeeInput(Money.Satoshis(10_000), []));

        await h.MineBlocksAsync(2); // both leases end: the coins (never spent) can be lent again
        Assert.NotNull(feeWallet.GetFeeInput(Money.Satoshis(10_000), []));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WalletClaimFeeWallet(wallet, leaseBlocks: 0));
    }

    [Fact]
    public async Task Funding_transactions_built_back_to_back_never_share_a_coin_nor_lend_it_for_fees()
    {
        await using var h = await LightningHarness.CreateAsync(1, new HarnessOptions { WalletCoins = 2, FeeCoins = 0 });
        var wallet = h[0].Wallet;
        var funding = new OnChainFundingWallet(wallet, h.Chain);
        var script = new Key().PubKey.WitHash.ScriptPubKey;

        var first = await funding.CreateFundingTransactionAsync(script, Money.Coins(10m), new FeeRatePerKw(1000));
        var second = await funding.CreateFundingTransactionAsync(script, Money.Coins(10m), new FeeRatePerKw(1000));

        var firstInputs = first.Transaction.Inputs.Select(i => i.PrevOut).ToHashSet();
        Assert.Empty(firstInputs.Intersect(second.Transaction.Inputs.Select(i => i.PrevOut)));
        Assert.Null(new WalletClaimFeeWallet(wallet).GetFeeInput(Money.Satoshis(10_000), []));
        await Assert.ThrowsAsync<Satflow.Bitcoin.Wallet.InsufficientFundsException>(() => funding.CreateFundingTransactionAsync(script, Money.Coins(10m), new FeeRatePerKw(1000)));
        await funding.BroadcastFundingAsync(first.Transaction);
        await funding.BroadcastFundingAsync(second.Transaction);
        Assert.Empty(h.Chain.Rejected);
    }
}
