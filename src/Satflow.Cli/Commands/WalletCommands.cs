using System.CommandLine;
using System.Globalization;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Rpc;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Cli.Commands;

/// <summary>
/// <c>satflow wallet create|restore|address|balance|send|list-utxos|bump-fee</c>: the on-chain wallet, synced against
/// the embedded devnet or any bitcoind-compatible JSON-RPC endpoint before every command.
/// </summary>
internal static class WalletCommands
{
    private const string PassphraseVariable = "SATFLOW_WALLET_PASSPHRASE";

    public static Command Create()
    {
        var command = new Command("wallet", "The on-chain wallet (BIP84 P2WPKH and BIP86 P2TR accounts, seed encrypted at rest).");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateRestore());
        command.Subcommands.Add(CreateAddress());
        command.Subcommands.Add(CreateBalance());
        command.Subcommands.Add(CreateSend());
        command.Subcommands.Add(CreateListUtxos());
        command.Subcommands.Add(CreateBumpFee());
        command.Subcommands.Add(CreateCpfp());
        return command;
    }

    /// <summary>Options shared by every wallet command.</summary>
    private sealed class WalletContext
    {
        public ChainConnection Chain { get; } = new();

        public Option<string?> WalletDir { get; } = new("--wallet-dir") { Description = "Wallet data directory (default: ~/.satflow/wallet/NETWORK)." };

        public Option<string?> Passphrase { get; } = new("--passphrase") { Description = $"Passphrase that encrypts the seed (default: the {PassphraseVariable} environment variable)." };

        public void AddTo(Command command)
        {
            Chain.AddTo(command);
            command.Options.Add(WalletDir);
            command.Options.Add(Passphrase);
        }

        public WalletOptions Options(ParseResult parse, int? kdfIterations = null)
        {
            var network = Chain.GetNetwork(parse);
            var dir = Path.GetFullPath(parse.GetValue(WalletDir) ?? CliPaths.DefaultWalletDirectory(parse.GetValue(Chain.Network)!.ToLowerInvariant()));
            var options = new WalletOptions(network, dir);
            return kdfIterations is { } k ? options with { KdfIterations = k } : options;
        }

        public string GetPassphrase(ParseResult parse)
        {
            var value = parse.GetValue(Passphrase) ?? Environment.GetEnvironmentVariable(PassphraseVariable);
            if (string.IsNullOrEmpty(value))
            {
                throw new CliException($"a wallet passphrase is required: pass --passphrase or set {PassphraseVariable}");
            }
            return value;
        }

        /// <summary>Opens the wallet and catches it up with the chain.</summary>
        public async Task<(OnChainWallet Wallet, BitcoinCoreRpcClient Client)> OpenSyncedAsync(ParseResult parse, CancellationToken ct)
        {
            var options = Options(parse);
            if (!Directory.Exists(options.DataDirectory))
            {
                throw new CliException($"no wallet in '{options.DataDirectory}': run `satflow wallet create` or `satflow wallet restore` first");
            }
            var client = Chain.CreateClient(parse);
            try
            {
                var wallet = Run(() => OnChainWallet.Open(options, GetPassphrase(parse), client));
                try
                {
                    await wallet.SyncAsync(client, ct).ConfigureAwait(false);
                    return (wallet, client);
                }
                catch
                {
                    wallet.Dispose();
                    throw;
                }
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }
    }

    private static T Run<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (WalletException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    private static bool Json(ParseResult parse) => parse.GetValue(SatflowCli.JsonOption);

    private static Option<int?> KdfIterationsOption() => new("--kdf-iterations")
    {
        Description = "PBKDF2-HMAC-SHA512 iterations for the seed encryption key (default 600000; lower only for throwaway wallets).",
    };

    private static Command CreateCreate()
    {
        var context = new WalletContext();
        var words = new Option<int>("--words") { Description = "Mnemonic length: 12 or 24 words.", DefaultValueFactory = _ => 12 };
        var kdf = KdfIterationsOption();
        var command = new Command("create", "Create a wallet with a new BIP39 mnemonic (shown once: write it down).");
        context.AddTo(command);
        command.Options.Add(words);
        command.Options.Add(kdf);
        command.SetAction(async (parse, ct) =>
        {
            var options = context.Options(parse, parse.GetValue(kdf));
            EnsureEmpty(options.DataDirectory!);
            var passphrase = context.GetPassphrase(parse);
            using var client = context.Chain.CreateClient(parse);
            var creation = Run(() => OnChainWallet.Create(options, passphrase, client, parse.GetValue(words)));
            using var wallet = creation.Wallet;
            // Start at the chain's current tip: a new wallet cannot have older coins.
            var tip = await wallet.SyncAsync(client, ct).ConfigureAwait(false);
            var address = wallet.GetNewAddress(AddressType.P2wpkh);
            var result = new CreatedWallet(options.DataDirectory!, creation.Mnemonic, wallet.Descriptors, address.Address, tip.Height);
            if (Json(parse))
            {
                CliJson.Write(parse.InvocationConfiguration.Output, result);
            }
            else
            {
                var output = parse.InvocationConfiguration.Output;
                await output.WriteLineAsync($"Created wallet in {result.WalletDir}").ConfigureAwait(false);
                await output.WriteLineAsync("Mnemonic (write it down; it is shown only now):").ConfigureAwait(false);
                await output.WriteLineAsync("  " + result.Mnemonic).ConfigureAwait(false);
                await output.WriteLineAsync("First receive address: " + result.Address).ConfigureAwait(false);
            }
            return 0;
        });
        return command;
    }

    internal sealed record CreatedWallet(string WalletDir, string Mnemonic, IReadOnlyList<string> Descriptors, string Address, int SyncedHeight);

    private static void EnsureEmpty(string directory)
    {
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new CliException($"'{directory}' already holds a wallet; use another --wallet-dir");
        }
    }

    private static Command CreateRestore()
    {
        var context = new WalletContext();
        var mnemonic = new Option<string>("--mnemonic") { Description = "The BIP39 mnemonic (12-24 words, quoted).", Required = true };
        var fromHeight = new Option<int>("--from-height") { Description = "Scan the chain from this height.", DefaultValueFactory = _ => 0 };
        var kdf = KdfIterationsOption();
        var command = new Command("restore", "Restore a wallet from its mnemonic and rescan the chain to find every coin.");
        context.AddTo(command);
        command.Options.Add(mnemonic);
        command.Options.Add(fromHeight);
        command.Options.Add(kdf);
        command.SetAction(async (parse, ct) =>
        {
            var options = context.Options(parse, parse.GetValue(kdf));
            EnsureEmpty(options.DataDirectory!);
            var passphrase = context.GetPassphrase(parse);
            using var client = context.Chain.CreateClient(parse);
            using var wallet = Run(() => OnChainWallet.Restore(options, parse.GetValue(mnemonic)!, passphrase, client));
            var error = parse.InvocationConfiguration.Error;
            var lastReported = -1;
            var progress = new SynchronousProgress<RescanProgress>(p =>
            {
                if (p.Height == p.TipHeight || p.Height - lastReported >= 1000)
                {
                    lastReported = p.Height;
                    error.WriteLine($"rescan pass {p.Pass}: block {p.Height}/{p.TipHeight}");
                }
            });
            await wallet.RescanAsync(client, parse.GetValue(fromHeight), progress, ct).ConfigureAwait(false);
            await wallet.SyncAsync(client, ct).ConfigureAwait(false);
            WriteBalance(parse, wallet);
            return 0;
        });
        return command;
    }

    /// <summary>Reports progress on the calling thread (System.Progress would post to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
    {
        public void Report(T value) => handler(value);
    }

    private static Command CreateAddress()
    {
        var context = new WalletContext();
        var type = new Option<string>("--type") { Description = "Address type: p2wpkh (BIP84) or p2tr (BIP86).", DefaultValueFactory = _ => "p2wpkh" };
        var command = new Command("address", "Hand out the next unused receive address (of the running node's wallet with --datadir or --api).");
        context.AddTo(command);
        command.Options.Add(type);
        var node = new NodeApiOptions();
        node.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            if (node.IsGiven(parse))
            {
                return await NodeWalletCommands.AddressAsync(parse, node, parse.GetValue(type)!, ct).ConfigureAwait(false);
            }
            var addressType = parse.GetValue(type)!.ToLowerInvariant() switch
            {
                "p2wpkh" or "bech32" => AddressType.P2wpkh,
                "p2tr" or "bech32m" or "taproot" => AddressType.P2tr,
                var other => throw new CliException($"unknown address type '{other}' (use p2wpkh or p2tr)"),
            };
            var (wallet, client) = await context.OpenSyncedAsync(parse, ct).ConfigureAwait(false);
            using (client)
            using (wallet)
            {
                var address = wallet.GetNewAddress(addressType);
                var result = new AddressResult(address.Address, addressType == AddressType.P2wpkh ? "p2wpkh" : "p2tr", address.RelativePath.ToString());
                if (Json(parse))
                {
                    CliJson.Write(parse.InvocationConfiguration.Output, result);
                }
                else
                {
                    await parse.InvocationConfiguration.Output.WriteLineAsync(result.Address).ConfigureAwait(false);
                }
            }
            return 0;
        });
        return command;
    }

    internal sealed record AddressResult(string Address, string Type, string Path);

    private static Command CreateBalance()
    {
        var context = new WalletContext();
        var command = new Command("balance", "Show confirmed, unconfirmed and immature balances (of the running node's wallet with --datadir or --api).");
        context.AddTo(command);
        var node = new NodeApiOptions();
        node.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            if (node.IsGiven(parse))
            {
                return await NodeWalletCommands.BalanceAsync(parse, node, ct).ConfigureAwait(false);
            }
            var (wallet, client) = await context.OpenSyncedAsync(parse, ct).ConfigureAwait(false);
            using (client)
            using (wallet)
            {
                WriteBalance(parse, wallet);
            }
            return 0;
        });
        return command;
    }

    internal sealed record BalanceResult(long ConfirmedSat, long UnconfirmedSat, long ImmatureSat, long TotalSat, int? TipHeight);

    private static void WriteBalance(ParseResult parse, OnChainWallet wallet)
    {
        var balance = wallet.GetBalance();
        var result = new BalanceResult(balance.Confirmed.Satoshi, balance.Unconfirmed.Satoshi, balance.Immature.Satoshi, balance.Total.Satoshi, wallet.Tip?.Height);
        var output = parse.InvocationConfiguration.Output;
        if (Json(parse))
        {
            CliJson.Write(output, result);
            return;
        }
        CliTable.KeyValues(output,
        [
            ("confirmed", Btc(balance.Confirmed)),
            ("unconfirmed", Btc(balance.Unconfirmed)),
            ("immature", Btc(balance.Immature)),
            ("total", Btc(balance.Total)),
            ("synced to", result.TipHeight?.ToString(CultureInfo.InvariantCulture)),
        ]);
    }

    private static string Btc(Money amount) => amount.ToDecimal(MoneyUnit.BTC).ToString("0.00000000", CultureInfo.InvariantCulture) + " BTC";

    private static Command CreateListUtxos()
    {
        var context = new WalletContext();
        var command = new Command("list-utxos", "List the wallet's unspent outputs.");
        context.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var (wallet, client) = await context.OpenSyncedAsync(parse, ct).ConfigureAwait(false);
            using (client)
            using (wallet)
            {
                var tip = wallet.Tip?.Height ?? -1;
                var utxos = wallet.ListUnspent()
                    .OrderBy(u => u.Height ?? int.MaxValue)
                    .Select(u => new UtxoResult(
                        u.OutPoint.Hash.ToString(),
                        u.OutPoint.N,
                        u.Amount.Satoshi,
                        u.Output.ScriptPubKey.GetDestinationAddress(wallet.Network)?.ToString(),
                        u.Type == AddressType.P2wpkh ? "p2wpkh" : "p2tr",
                        u.Confirmations(tip),
                        u.IsCoinbase))
                    .ToList();
                if (Json(parse))
                {
                    CliJson.Write(parse.InvocationConfiguration.Output, utxos);
                }
                else
                {
                    CliTable.Rows(parse.InvocationConfiguration.Output, ["outpoint", "amount", "address", "confs"],
                        utxos.Select(u => (IReadOnlyList<string>)[$"{u.Txid}:{u.Vout}", Btc(Money.Satoshis(u.AmountSat)), u.Address ?? "?", u.Confirmations.ToString(CultureInfo.InvariantCulture) + (u.Coinbase ? " (coinbase)" : "")]));
                }
            }
            return 0;
        });
        return command;
    }

    internal sealed record UtxoResult(string Txid, uint Vout, long AmountSat, string? Address, string Type, int Confirmations, bool Coinbase);

    private static Option<decimal?> FeeRateOption(string description) => new("--fee-rate") { Description = description };

    private static async Task<FeeRate> ResolveFeeRateAsync(ParseResult parse, Option<decimal?> option, IFeeEstimator estimator, CancellationToken ct)
    {
        if (parse.GetValue(option) is { } satPerVb)
        {
            if (satPerVb is < 1 or > 100_000)
            {
                throw new CliException("--fee-rate must be between 1 and 100000 sat/vB");
            }
            return new FeeRate(satPerVb);
        }
        var estimate = await estimator.EstimateFeeRateAsync(ConfirmationTarget.Normal, ct).ConfigureAwait(false);
        return estimate.ToFeeRate();
    }

    private static Command CreateSend()
    {
        var context = new WalletContext();
        var destination = new Argument<string>("address") { Description = "Destination address." };
        var amount = new Argument<string>("amount") { Description = "Amount in BTC (e.g. 0.015), or 'all' to sweep the wallet." };
        var feeRate = FeeRateOption("Fee rate in sat/vB (default: the backend's 6-block estimate).");
        var noRbf = new Option<bool>("--no-rbf") { Description = "Do not signal BIP125 replaceability." };
        var command = new Command("send", "Send bitcoin: select coins, sign, broadcast (replaceable by default).");
        context.AddTo(command);
        command.Arguments.Add(destination);
        command.Arguments.Add(amount);
        command.Options.Add(feeRate);
        command.Options.Add(noRbf);
        command.SetAction(async (parse, ct) =>
        {
            var network = context.Chain.GetNetwork(parse);
            BitcoinAddress address;
            try
            {
                address = BitcoinAddress.Create(parse.GetValue(destination)!, network);
            }
            catch (FormatException)
            {
                throw new CliException($"'{parse.GetValue(destination)}' is not a valid address for {network.ChainName.ToString().ToLowerInvariant()}");
            }
            var amountText = parse.GetValue(amount)!;
            SendAmount sendAmount;
            if (amountText.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                sendAmount = SendAmount.All;
            }
            else if (decimal.TryParse(amountText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var btc) && btc > 0 && btc <= 21_000_000 && decimal.Round(btc, 8) == btc)
            {
                sendAmount = SendAmount.Of(Money.Coins(btc));
            }
            else
            {
                throw new CliException($"'{amountText}' is not an amount in BTC (up to 8 decimals) or 'all'");
            }
            var (wallet, client) = await context.OpenSyncedAsync(parse, ct).ConfigureAwait(false);
            using (client)
            using (wallet)
            {
                var rate = await ResolveFeeRateAsync(parse, feeRate, client, ct).ConfigureAwait(false);
                var sent = await BroadcastAsync(() => wallet.SendAsync(address, sendAmount, rate, rbf: !parse.GetValue(noRbf), ct), "transaction").ConfigureAwait(false);
                WriteSent(parse, sent, rate);
            }
            return 0;
        });
        return command;
    }

    /// <summary>Runs a wallet send and turns wallet errors and node rejections into one-line CLI errors.</summary>
    private static async Task<SendResult> BroadcastAsync(Func<Task<SendResult>> send, string what)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (WalletException ex)
        {
            throw new CliException(ex.Message);
        }
        catch (BroadcastRejectedException ex)
        {
            throw new CliException($"the node rejected the {what}: {ex.Reason} (code {ex.Code})");
        }
    }

    internal sealed record SentResult(string Txid, long FeeSat, decimal FeeRateSatPerVb, int Vsize);

    private static void WriteSent(ParseResult parse, SendResult sent, FeeRate rate)
    {
        var result = new SentResult(sent.TxId.ToString(), sent.Fee.Satoshi, rate.SatoshiPerByte, sent.Transaction.GetVirtualSize());
        if (Json(parse))
        {
            CliJson.Write(parse.InvocationConfiguration.Output, result);
        }
        else
        {
            parse.InvocationConfiguration.Output.WriteLine($"{result.Txid} (fee {result.FeeSat} sat, {result.Vsize} vB)");
        }
    }

    private static Command CreateCpfp()
    {
        var context = new WalletContext();
        var txid = new Argument<string>("txid") { Description = "The unconfirmed transaction (ours or paying us) to speed up." };
        var feeRate = FeeRateOption("Fee rate in sat/vB that parent and child together must reach (default: the backend's 2-block estimate).");
        var output = new Option<int?>("--output") { Description = "Which of the parent's outputs to spend (default: the first one the wallet owns)." };
        var command = new Command("cpfp", "Child-pays-for-parent: spend an unconfirmed output so the package pays the target fee rate.");
        context.AddTo(command);
        command.Arguments.Add(txid);
        command.Options.Add(feeRate);
        command.Options.Add(output);
        command.SetAction(async (parse, ct) =>
        {
            if (!uint256.TryParse(parse.GetValue(txid), out var id))
            {
                throw new CliException($"'{parse.GetValue(txid)}' is not a transaction id (64 hex characters)");
            }
            var (wallet, client) = await context.OpenSyncedAsync(parse, ct).ConfigureAwait(false);
            using (client)
            using (wallet)
            {
                var rate = parse.GetValue(feeRate) is not null
                    ? await ResolveFeeRateAsync(parse, feeRate, client, ct).ConfigureAwait(false)
                    : (await client.EstimateFeeRateAsync(ConfirmationTarget.Urgent, ct).ConfigureAwait(false)).ToFeeRate();
                var sent = await BroadcastAsync(() => wallet.CpfpAsync(id, parse.GetValue(output), rate, ct), "child transaction").ConfigureAwait(false);
                WriteSent(parse, sent, rate);
            }
            return 0;
        });
        return command;
    }

    private static Command CreateBumpFee()
    {
        var context = new WalletContext();
        var txid = new Argument<string>("txid") { Description = "The unconfirmed wallet transaction to replace (BIP125)." };
        var feeRate = FeeRateOption("New fee rate in sat/vB (default: the backend's 2-block estimate, at least the old rate + 1 sat/vB).");
        var command = new Command("bump-fee", "Replace an unconfirmed transaction with one paying a higher fee (RBF).");
        context.AddTo(command);
        command.Arguments.Add(txid);
        command.Options.Add(feeRate);
        command.SetAction(async (parse, ct) =>
        {
            if (!uint256.TryParse(parse.GetValue(txid), out var id))
            {
                throw new CliException($"'{parse.GetValue(txid)}' is not a transaction id (64 hex characters)");
            }
            var (wallet, client) = await context.OpenSyncedAsync(parse, ct).ConfigureAwait(false);
            using (client)
            using (wallet)
            {
                var original = wallet.GetTransaction(id) ?? throw new CliException($"transaction {id} is not in this wallet");
                FeeRate rate;
                if (parse.GetValue(feeRate) is not null)
                {
                    rate = await ResolveFeeRateAsync(parse, feeRate, client, ct).ConfigureAwait(false);
                }
                else
                {
                    var urgent = (await client.EstimateFeeRateAsync(ConfirmationTarget.Urgent, ct).ConfigureAwait(false)).ToFeeRate();
                    var oldRate = original.Fee is { } fee ? new FeeRate(fee, original.Transaction.GetVirtualSize()) : new FeeRate(1m);
                    var floor = new FeeRate(oldRate.SatoshiPerByte + 1m);
                    rate = urgent > floor ? urgent : floor;
                }
                var sent = await BroadcastAsync(() => wallet.BumpFeeAsync(id, rate, ct), "replacement").ConfigureAwait(false);
                WriteSent(parse, sent, rate);
            }
            return 0;
        });
        return command;
    }
}
