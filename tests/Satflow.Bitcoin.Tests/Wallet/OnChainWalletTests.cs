using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

public sealed class OnChainWalletTests
{
    private static readonly Script External = new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Segwit);

    private static BitcoinAddress ExternalAddress(ScriptPubKeyType type = ScriptPubKeyType.Segwit) =>
        new Key().PubKey.GetAddress(type, Network.RegTest);

    [Fact]
    public async Task Receive_ShowsConfirmedBalance_AndMarksAddressUsed()
    {
        using var kit = new WalletTestKit();
        var address = kit.Wallet.GetNewAddress(AddressType.P2wpkh);
        Assert.StartsWith("bcrt1q", address.Address, StringComparison.Ordinal);
        var tx = kit.Chain.Pay(address.ScriptPubKey, Money.Coins(1.5m));
        await kit.Chain.MineAsync([tx]);

        var balance = kit.Wallet.GetBalance();
        Assert.Equal(Money.Coins(1.5m), balance.Confirmed);
        Assert.Equal(Money.Zero, balance.Unconfirmed);
        Assert.Equal(kit.Chain.Height, kit.Wallet.Tip!.Value.Height);
        var utxo = Assert.Single(kit.Wallet.ListUnspent());
        Assert.Equal(new OutPoint(tx.GetHash(), 0), utxo.OutPoint);
        Assert.True(kit.Wallet.ListAddresses().Single(a => a.ScriptPubKey == address.ScriptPubKey).Used);
    }

    [Fact]
    public async Task Receive_OnTaprootAddress_IsFound()
    {
        using var kit = new WalletTestKit();
        var address = kit.Wallet.GetNewAddress(AddressType.P2tr);
        Assert.StartsWith("bcrt1p", address.Address, StringComparison.Ordinal);
        await kit.Chain.MineAsync([kit.Chain.Pay(address.ScriptPubKey, Money.Coins(0.25m))]);
        Assert.Equal(Money.Coins(0.25m), kit.Wallet.GetBalance().Confirmed);
    }

    [Fact]
    public async Task Send_WithChange_IsValid_AndPaysAtLeastTheRate()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        await kit.FundAsync(Money.Coins(0.5m), AddressType.P2tr);
        var rate = WalletTestKit.SatPerVb(5);

        var result = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.3m)), rate);

        var sent = Assert.Single(kit.Broadcaster.Broadcast);
        Assert.Equal(result.TxId, sent.GetHash());
        Assert.Contains(sent, kit.Chain.Mempool); // inputs and signatures checked by the fake chain
        Assert.NotNull(result.ChangeOutputIndex);
        Assert.Equal(kit.Chain.Fee(sent), result.Fee.Satoshi);
        Assert.True(result.Fee.Satoshi >= TxWeights.FeeFor(rate, TransactionWeight.Of(sent)));
        Assert.All(sent.Inputs, i => Assert.Equal(0xFFFFFFFDu, (uint)i.Sequence));

        var pending = kit.Wallet.GetBalance();
        Assert.Equal(sent.Outputs[result.ChangeOutputIndex!.Value].Value, pending.Unconfirmed);

        await kit.Chain.MineAsync();
        var after = kit.Wallet.GetBalance();
        Assert.Equal(Money.Coins(1.5m) - Money.Coins(0.3m) - result.Fee, after.Confirmed);
        Assert.Equal(Money.Zero, after.Unconfirmed);
        Assert.Equal(0, kit.Wallet.GetTransaction(result.TxId)!.Height is null ? 1 : 0);
    }

    [Fact]
    public async Task Send_FromTaprootOnly_ProducesValidSchnorrSpend()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.2m), AddressType.P2tr);
        var result = await kit.Wallet.SendAsync(ExternalAddress(ScriptPubKeyType.TaprootBIP86), SendAmount.Of(Money.Coins(0.1m)), WalletTestKit.SatPerVb(2));
        var sent = Assert.Single(kit.Chain.Mempool);
        Assert.Equal(result.TxId, sent.GetHash());
        Assert.Single(sent.Inputs);
        Assert.Equal(64, sent.Inputs[0].WitScript[0].Length); // key path, default sighash
        // taproot destination → taproot change
        Assert.True(sent.Outputs[result.ChangeOutputIndex!.Value].ScriptPubKey.IsScriptType(ScriptType.Taproot));
    }

    [Fact]
    public async Task SendAll_SweepsEverything_WithoutChange()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.1m));
        await kit.FundAsync(Money.Coins(0.2m), AddressType.P2tr);
        var rate = WalletTestKit.SatPerVb(3);
        var result = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.All, rate);
        var sent = Assert.Single(kit.Chain.Mempool);
        Assert.Null(result.ChangeOutputIndex);
        Assert.Single(sent.Outputs);
        Assert.Equal(2, sent.Inputs.Count);
        Assert.Equal(TxWeights.FeeFor(rate, TxWeights.TransactionWeight(2, TxWeights.P2wpkhInput + TxWeights.P2trKeyPathInput, 1, TxWeights.P2wpkhOutput)), result.Fee.Satoshi);
        Assert.Equal(Money.Zero, kit.Wallet.GetBalance().Total);
    }

    [Fact]
    public async Task Send_MoreThanBalance_IsInsufficientFunds_AndChangesNothing()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.1m));
        await Assert.ThrowsAsync<InsufficientFundsException>(() => kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.1m)), WalletTestKit.SatPerVb(1)));
        Assert.Empty(kit.Broadcaster.Broadcast);
        Assert.Equal(Money.Coins(0.1m), kit.Wallet.GetBalance().Confirmed);
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Satoshis(100)), WalletTestKit.SatPerVb(1)));
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.SendAsync(new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.Main), SendAmount.Of(Money.Coins(0.01m)), WalletTestKit.SatPerVb(1)));
    }

    [Fact]
    public async Task RejectedBroadcast_LeavesTheWalletUnchanged()
    {
        using var kit = new WalletTestKit();
        var wallet = OnChainWallet.Create(WalletTestKit.Options(null), "pw", new RejectingBroadcaster()).Wallet;
        using (wallet)
        {
            kit.Chain.Subscribe(wallet);
            await kit.Chain.MineAsync([kit.Chain.Pay(wallet.GetNewAddress(AddressType.P2wpkh).ScriptPubKey, Money.Coins(1))]);
            var ex = await Assert.ThrowsAsync<BroadcastRejectedException>(() => wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.5m)), WalletTestKit.SatPerVb(1)));
            Assert.Equal("bad-txns-inputs-missingorspent", ex.Reason);
            Assert.Equal(Money.Coins(1), wallet.GetBalance().Confirmed);
            Assert.Single(wallet.ListUnspent());
        }
    }

    [Fact]
    public async Task BumpFee_ReplacesTheTransaction_PayingFromChange()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        var first = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.4m)), WalletTestKit.SatPerVb(2));
        var newRate = WalletTestKit.SatPerVb(12);

        var bumped = await kit.Wallet.BumpFeeAsync(first.TxId, newRate);

        var inPool = Assert.Single(kit.Chain.Mempool); // the fake mempool enforced BIP125's absolute fee rule
        Assert.Equal(bumped.TxId, inPool.GetHash());
        Assert.Equal(first.Transaction.Inputs.Select(i => i.PrevOut), inPool.Inputs.Select(i => i.PrevOut));
        Assert.True(bumped.Fee.Satoshi >= first.Fee.Satoshi + inPool.GetVirtualSize());
        Assert.True(bumped.Fee.Satoshi >= TxWeights.FeeFor(newRate, TransactionWeight.Of(inPool)));
        Assert.Contains(inPool.Outputs, o => o.Value == Money.Coins(0.4m));
        Assert.Null(kit.Wallet.GetTransaction(first.TxId));
        Assert.NotNull(kit.Wallet.GetTransaction(bumped.TxId));

        await kit.Chain.MineAsync();
        Assert.Equal(Money.Coins(0.6m) - bumped.Fee, kit.Wallet.GetBalance().Confirmed);
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.BumpFeeAsync(bumped.TxId, WalletTestKit.SatPerVb(50)));
    }

    [Fact]
    public async Task BumpFee_AddsInputs_WhenThereIsNoChange()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.3m));
        var first = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.All, WalletTestKit.SatPerVb(1));
        await kit.FundAsync(Money.Coins(0.05m)); // mines the first one too
        Assert.Empty(kit.Chain.Mempool);
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.BumpFeeAsync(first.TxId, WalletTestKit.SatPerVb(5)));

        var second = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.05m) - Money.Satoshis(141)), WalletTestKit.SatPerVb(1));
        Assert.Null(second.ChangeOutputIndex);
        await kit.FundAsync(Money.Coins(0.02m));
        // 'second' is now confirmed as well; make a fresh changeless send and bump it with an added input.
        await kit.FundAsync(Money.Coins(0.01m));
        var third = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.01m) - Money.Satoshis(141)), WalletTestKit.SatPerVb(1));
        Assert.Null(third.ChangeOutputIndex);
        Assert.Single(third.Transaction.Inputs);
        var bumped = await kit.Wallet.BumpFeeAsync(third.TxId, WalletTestKit.SatPerVb(10));
        Assert.Equal(2, bumped.Transaction.Inputs.Count);
        Assert.Equal(bumped.TxId, Assert.Single(kit.Chain.Mempool).GetHash());
    }

    [Fact]
    public async Task BumpFee_RejectsLowerRate()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        await kit.FundAsync(Money.Coins(1m));
        var first = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.4m)), WalletTestKit.SatPerVb(5));
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.BumpFeeAsync(first.TxId, WalletTestKit.SatPerVb(4)));
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.BumpFeeAsync(first.TxId, WalletTestKit.SatPerVb(5)));
        var notReplaceable = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.1m)), WalletTestKit.SatPerVb(5), rbf: false);
        await Assert.ThrowsAsync<WalletException>(() => kit.Wallet.BumpFeeAsync(notReplaceable.TxId, WalletTestKit.SatPerVb(20)));
    }

    [Fact]
    public async Task Cpfp_ChildPaysForThePackage()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        var parent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.4m)), WalletTestKit.SatPerVb(1));
        var target = WalletTestKit.SatPerVb(25);

        var child = await kit.Wallet.CpfpAsync(parent.TxId, parent.ChangeOutputIndex, target);

        Assert.Equal(2, kit.Chain.Mempool.Count);
        Assert.Equal(new OutPoint(parent.TxId, parent.ChangeOutputIndex!.Value), child.Transaction.Inputs[0].PrevOut);
        var packageWeight = TransactionWeight.Of(parent.Transaction) + TransactionWeight.Of(child.Transaction);
        Assert.True(parent.Fee.Satoshi + child.Fee.Satoshi >= TxWeights.FeeFor(target, packageWeight));
        Assert.Equal(kit.Chain.Fee(child.Transaction), child.Fee.Satoshi);

        await kit.Chain.MineAsync();
        Assert.Equal(Money.Coins(0.6m) - parent.Fee - child.Fee, kit.Wallet.GetBalance().Confirmed);
    }

    [Fact]
    public async Task Reorg_UndoesAReceive()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        var heightBefore = kit.Chain.Height;
        await kit.FundAsync(Money.Coins(2m));
        Assert.Equal(Money.Coins(3m), kit.Wallet.GetBalance().Confirmed);

        await kit.Chain.DisconnectAsync(1);
        Assert.Equal(Money.Coins(1m), kit.Wallet.GetBalance().Confirmed);
        Assert.Equal(heightBefore, kit.Wallet.Tip!.Value.Height);
        Assert.Equal(kit.Chain.TipBlock.GetHash(), kit.Wallet.Tip!.Value.Hash);
        Assert.Single(kit.Wallet.ListUnspent());

        await kit.Chain.MineEmptyAsync(2); // the other branch
        Assert.Equal(Money.Coins(1m), kit.Wallet.GetBalance().Confirmed);
    }

    [Fact]
    public async Task Reorg_UndoesASpend_AndKeepsOwnTransactionUnconfirmed()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.25m)), WalletTestKit.SatPerVb(3));
        var block = await kit.Chain.MineAsync();
        Assert.Equal(Money.Coins(0.75m) - sent.Fee, kit.Wallet.GetBalance().Confirmed);

        await kit.Chain.DisconnectAsync(1);
        var balance = kit.Wallet.GetBalance();
        Assert.Equal(Money.Zero, balance.Confirmed);
        Assert.Equal(Money.Coins(0.75m) - sent.Fee, balance.Unconfirmed);
        Assert.Null(kit.Wallet.GetTransaction(sent.TxId)!.Height);

        await kit.Chain.ConnectAsync(block); // the same block comes back
        Assert.Equal(Money.Coins(0.75m) - sent.Fee, kit.Wallet.GetBalance().Confirmed);
    }

    [Fact]
    public async Task BlockThatDoesNotConnect_IsATypedError()
    {
        using var kit = new WalletTestKit();
        await kit.Chain.MineEmptyAsync(2);
        var orphan = kit.Chain.BuildBlock(kit.Chain.Network.GetGenesis(), 1, null, includeMempool: false, coinbaseTo: null);
        await Assert.ThrowsAsync<WalletSyncException>(() => kit.Wallet.BlockConnectedAsync(orphan, 3).AsTask());
        await Assert.ThrowsAsync<WalletSyncException>(() => kit.Wallet.BlockDisconnectedAsync(orphan.Header, 2).AsTask());
    }

    [Fact]
    public async Task Coinbase_IsImmatureFor100Blocks()
    {
        using var kit = new WalletTestKit();
        await kit.Chain.MineAsync(coinbaseTo: kit.Wallet.GetNewAddress(AddressType.P2tr).ScriptPubKey);
        Assert.Equal(Money.Coins(50), kit.Wallet.GetBalance().Immature);
        await Assert.ThrowsAsync<InsufficientFundsException>(() => kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(1)), WalletTestKit.SatPerVb(1)));
        await kit.Chain.MineEmptyAsync(98);
        Assert.Equal(Money.Coins(50), kit.Wallet.GetBalance().Immature);
        await kit.Chain.MineEmptyAsync(1);
        var balance = kit.Wallet.GetBalance();
        Assert.Equal(Money.Zero, balance.Immature);
        Assert.Equal(Money.Coins(50), balance.Confirmed);
    }

    [Fact]
    public async Task Restart_KeepsUtxosTransactionsAndTip()
    {
        using var kit = new WalletTestKit(onDisk: true);
        await kit.FundAsync(Money.Coins(1m));
        await kit.FundAsync(Money.Coins(0.5m), AddressType.P2tr);
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.2m)), WalletTestKit.SatPerVb(2));
        var before = kit.Wallet.ListUnspent();
        var tip = kit.Wallet.Tip;
        var next = kit.Wallet.ListAddresses().Count;

        kit.Reopen();

        static string Show(IEnumerable<WalletUtxo> us) => string.Join("|", us.Select(u => $"{u.OutPoint} {u.Amount.Satoshi} {u.Output.ScriptPubKey.ToHex()} {u.Type} {u.Chain} {u.Index} {u.Height} {u.BlockHash} {u.IsCoinbase} {u.SpentBy}"));
        Assert.Equal(Show(before), Show(kit.Wallet.ListUnspent()));
        Assert.Equal(tip, kit.Wallet.Tip);
        Assert.Equal(next, kit.Wallet.ListAddresses().Count);
        Assert.True(kit.Wallet.GetTransaction(sent.TxId)!.IsOwn);
        await kit.Chain.MineAsync();
        Assert.Equal(Money.Coins(1.3m) - sent.Fee, kit.Wallet.GetBalance().Confirmed);
    }

    [Fact]
    public void WrongPassphrase_IsATypedError()
    {
        using var kit = new WalletTestKit(onDisk: true);
        kit.Wallet.Dispose();
        Assert.Throws<WalletPassphraseException>(() => OnChainWallet.Open(WalletTestKit.Options(kit.DataDirectory), "not the passphrase", kit.Broadcaster));
        using var reopened = OnChainWallet.Open(WalletTestKit.Options(kit.DataDirectory), WalletTestKit.Passphrase, kit.Broadcaster);
        Assert.Equal(4, reopened.Descriptors.Count);
    }

    [Fact]
    public void WalletFiles_DoNotHoldTheMnemonicInClear()
    {
        using var kit = new WalletTestKit(onDisk: true);
        var words = kit.Mnemonic.Split(' ');
        kit.Wallet.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var files = Directory.GetFiles(kit.DataDirectory!);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var text = System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(file));
            Assert.DoesNotContain(kit.Mnemonic, text, StringComparison.Ordinal);
            Assert.DoesNotContain($"{words[0]} {words[1]} {words[2]}", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CreatingTwiceInOneDirectory_Fails_AndBadMnemonicIsTyped()
    {
        using var kit = new WalletTestKit(onDisk: true);
        Assert.Throws<WalletException>(() => OnChainWallet.Create(WalletTestKit.Options(kit.DataDirectory), "x", kit.Broadcaster));
        Assert.Throws<WalletFormatException>(() => OnChainWallet.Restore(WalletTestKit.Options(null), "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon", "x", kit.Broadcaster));
        Assert.Throws<WalletFormatException>(() => OnChainWallet.Restore(WalletTestKit.Options(null), "not a mnemonic at all", "x", kit.Broadcaster));
    }

    [Fact]
    public async Task Restore_FindsFundsOnBothAccountsBeyondTheFirstGapWindow()
    {
        using var kit = new WalletTestKit();
        var paid = Money.Zero;
        var scripts = new List<(Script Script, Money Amount)>();
        var accounts = new[] { AddressType.P2wpkh, AddressType.P2tr };
        var all = accounts.ToDictionary(t => t, t => Enumerable.Range(0, 70).Select(_ => kit.Wallet.GetNewAddress(t)).ToList());
        // receive indices 0, 15, 30, 45, 60 on both accounts; index 60 is paid first (an earlier block than 15..45).
        foreach (var index in new[] { 60, 0, 15, 30, 45 })
        {
            foreach (var t in accounts)
            {
                var amount = Money.Satoshis(100_000 + (index * 1_000) + (int)t);
                scripts.Add((all[t][index].ScriptPubKey, amount));
                await kit.Chain.MineAsync([kit.Chain.Pay(all[t][index].ScriptPubKey, amount)]);
                paid += amount;
            }
        }
        // and change: spend so the wallet pays itself change on the change chain
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.001m)), WalletTestKit.SatPerVb(2));
        await kit.Chain.MineAsync();
        await kit.Chain.MineEmptyAsync(3);
        var expected = kit.Wallet.GetBalance().Confirmed;
        Assert.Equal(paid - Money.Coins(0.001m) - sent.Fee, expected);

        using var restored = OnChainWallet.Restore(WalletTestKit.Options(kit.NewDir()), kit.Mnemonic, "new passphrase", new RecordingBroadcaster(kit.Chain));
        var progress = new List<RescanProgress>();
        await restored.RescanAsync(kit.Chain, 0, new SyncProgress(progress));

        Assert.Equal(expected, restored.GetBalance().Confirmed);
        Assert.Equal(kit.Wallet.ListUnspent().Select(u => u.OutPoint.ToString()).Order(), restored.ListUnspent().Select(u => u.OutPoint.ToString()).Order());
        Assert.Contains(progress, p => p.Pass == 2); // index 60 was only reachable after the first pass
        Assert.Equal(kit.Chain.Height, restored.Tip!.Value.Height);
        Assert.Equal(kit.Wallet.Descriptors, restored.Descriptors);
    }

    [Fact]
    public async Task ExternalPsbt_IsSignedWithKeyOrigins_ForBothInputTypes()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.01m));
        await kit.FundAsync(Money.Coins(0.01m), AddressType.P2tr);
        var funded = kit.Wallet.CreateFundedPsbt([new PaymentOutput(External, Money.Coins(0.015m))], WalletTestKit.SatPerVb(4));
        Assert.Equal(2, funded.Psbt.Inputs.Count);
        Assert.Contains(funded.Psbt.Inputs, i => i.HDKeyPaths.Count == 1 && i.HDKeyPaths.Values.Single().KeyPath.ToString().StartsWith("84'/1'/0'/", StringComparison.Ordinal));
        Assert.Contains(funded.Psbt.Inputs, i => i.HDTaprootKeyPaths.Count == 1 && i.TaprootInternalKey is not null);

        // round trip through BIP174 base64 as an external coordinator would
        var external = PSBT.Parse(funded.Psbt.ToBase64(), Network.RegTest);
        Assert.Equal(2, kit.Wallet.SignPsbt(external));
        external.Finalize();
        var tx = external.ExtractTransaction();
        kit.Chain.Accept(tx);
        Assert.Equal(funded.Fee.Satoshi, kit.Chain.Fee(tx));

        var foreign = PSBT.FromTransaction(funded.Psbt.GetGlobalTransaction(), Network.RegTest);
        Assert.Equal(0, kit.Wallet.SignPsbt(foreign)); // no UTXO info → nothing the wallet can claim
    }

    [Fact]
    public async Task Psbt_Version2_IsFundedAndSigned()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.01m), AddressType.P2tr);
        var funded = kit.Wallet.CreateFundedPsbt([new PaymentOutput(External, Money.Coins(0.004m))], WalletTestKit.SatPerVb(3), changeType: AddressType.P2tr, version: PSBTVersion.PSBTv2);
        Assert.Equal(PSBTVersion.PSBTv2, funded.Psbt.Version);
        Assert.NotNull(funded.ChangeOutputIndex);
        Assert.Single(funded.Psbt.Outputs[funded.ChangeOutputIndex!.Value].HDTaprootKeyPaths);
        var external = PSBT.Parse(funded.Psbt.ToBase64(), Network.RegTest);
        Assert.Equal(PSBTVersion.PSBTv2, external.Version);
        Assert.Equal(1, kit.Wallet.SignPsbt(external));
        external.Finalize();
        kit.Chain.Accept(external.ExtractTransaction());
    }

    [Fact]
    public async Task SpentOutputs_ArePrunedOnceDeep_AndTheBalanceStays()
    {
        using var kit = new WalletTestKit(onDisk: true);
        await kit.FundAsync(Money.Coins(1m));
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.1m)), WalletTestKit.SatPerVb(1));
        await kit.Chain.MineAsync();
        var spent = sent.Transaction.Inputs[0].PrevOut;
        Assert.Equal(2, CountRows(kit.DataDirectory!));
        while (kit.Chain.Height < 2 * OnChainWallet.PruneInterval)
        {
            await kit.Chain.MineEmptyAsync(1);
        }
        Assert.Equal(1, CountRows(kit.DataDirectory!)); // the spent one is gone from disk
        Assert.DoesNotContain(kit.Wallet.ListUnspent(), u => u.OutPoint == spent);
        Assert.Equal(Money.Coins(0.9m) - sent.Fee, kit.Wallet.GetBalance().Confirmed);
        kit.Reopen();
        Assert.Equal(Money.Coins(0.9m) - sent.Fee, kit.Wallet.GetBalance().Confirmed);
        Assert.Equal(2, kit.Wallet.ListTransactions().Count);
    }

    private static long CountRows(string dir)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "wallet.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM utxos";
        return (long)cmd.ExecuteScalar()!;
    }

    [Fact]
    public async Task FundedPsbt_AcceptsALightningFeeRate()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(0.05m));
        var rate = new FeeRatePerKw(2_500); // 10 sat/vB
        var funded = kit.Wallet.CreateFundedPsbt([new PaymentOutput(External, Money.Coins(0.02m))], rate);
        Assert.Equal(1, kit.Wallet.SignPsbt(funded.Psbt));
        funded.Psbt.Finalize();
        var tx = funded.Psbt.ExtractTransaction();
        Assert.True(funded.Fee >= rate.FeeForWeight(TransactionWeight.Of(tx)));
        kit.Chain.Accept(tx);
    }

    [Fact]
    public async Task AfterAReorg_OwnTransactionsAreRebroadcast_ParentFirst()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        var parent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.2m)), WalletTestKit.SatPerVb(1));
        var child = await kit.Wallet.CpfpAsync(parent.TxId, null, WalletTestKit.SatPerVb(10));
        await kit.Chain.MineAsync();
        await kit.Chain.DisconnectAsync(1);
        Assert.Empty(kit.Chain.Mempool); // the fake node does not resurrect transactions by itself

        Assert.Equal(2, await kit.Wallet.RebroadcastUnconfirmedAsync());
        Assert.Equal([parent.TxId, child.TxId], kit.Chain.Mempool.Select(t => t.GetHash()));
    }

    [Fact]
    public async Task Abandon_FreesTheInputs()
    {
        using var kit = new WalletTestKit();
        await kit.FundAsync(Money.Coins(1m));
        var sent = await kit.Wallet.SendAsync(ExternalAddress(), SendAmount.Of(Money.Coins(0.2m)), WalletTestKit.SatPerVb(1));
        Assert.Equal(Money.Zero, kit.Wallet.GetBalance().Confirmed);
        kit.Wallet.AbandonTransaction(sent.TxId);
        Assert.Equal(Money.Coins(1m), kit.Wallet.GetBalance().Confirmed);
        Assert.Equal(Money.Zero, kit.Wallet.GetBalance().Unconfirmed);
        Assert.Null(kit.Wallet.GetTransaction(sent.TxId));
        Assert.Throws<WalletException>(() => kit.Wallet.AbandonTransaction(sent.TxId));

        // it confirms after all: the block brings it back
        await kit.Chain.MineAsync();
        Assert.Equal(Money.Coins(0.8m) - sent.Fee, kit.Wallet.GetBalance().Confirmed);
    }

    private sealed class RejectingBroadcaster : IBroadcaster
    {
        public Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken = default) =>
            throw new BroadcastRejectedException(-25, "bad-txns-inputs-missingorspent");
    }

    private sealed class SyncProgress(List<RescanProgress> sink) : IProgress<RescanProgress>
    {
        public void Report(RescanProgress value) => sink.Add(value);
    }
}
