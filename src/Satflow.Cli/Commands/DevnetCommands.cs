using System.CommandLine;
using System.Globalization;
using NBitcoin;
using Satflow.Devnet.Rpc;
using Satflow.Devnet;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow devnet start|mine|info</c>: the embedded development chain.</summary>
internal static class DevnetCommands
{
    public static Command Create()
    {
        var command = new Command("devnet", "The embedded development chain (regtest rules, Bitcoin Core-compatible JSON-RPC).");
        command.Subcommands.Add(CreateStart());
        command.Subcommands.Add(CreateMine());
        command.Subcommands.Add(CreateInfo());
        return command;
    }

    private static Command CreateStart()
    {
        var dataDir = new Option<string?>("--datadir") { Description = "Where the chain and mempool are stored (default: ~/.satflow/devnet)." };
        var rpcBind = new Option<string>("--rpcbind")
        {
            Description = "Address and port of the JSON-RPC server; loopback only.",
            DefaultValueFactory = _ => "127.0.0.1:" + DevnetRpcOptions.DefaultPort.ToString(CultureInfo.InvariantCulture),
        };
        var rpcUser = new Option<string?>("--rpcuser") { Description = "RPC user (with --rpcpassword); without both, a cookie file is written to the data directory." };
        var rpcPassword = new Option<string?>("--rpcpassword") { Description = "RPC password (with --rpcuser)." };
        var blockInterval = new Option<double?>("--block-interval") { Description = "Mine a block every SECONDS (default: only on demand)." };
        var command = new Command("start", "Run the devnet in the foreground until Ctrl-C or the RPC `stop` call.");
        command.Options.Add(dataDir);
        command.Options.Add(rpcBind);
        command.Options.Add(rpcUser);
        command.Options.Add(rpcPassword);
        command.Options.Add(blockInterval);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var user = parse.GetValue(rpcUser);
            var password = parse.GetValue(rpcPassword);
            if ((user is null) != (password is null))
            {
                throw new CliException("give both --rpcuser and --rpcpassword, or neither (cookie authentication)");
            }
            var interval = parse.GetValue(blockInterval);
            if (interval is <= 0 or > 86_400)
            {
                throw new CliException("--block-interval must be between 0 and 86400 seconds");
            }
            System.Net.IPEndPoint bind;
            try
            {
                bind = DevnetHostOptions.ParseRpcBind(parse.GetValue(rpcBind)!);
            }
            catch (FormatException ex)
            {
                throw new CliException(ex.Message);
            }
            if (!System.Net.IPAddress.IsLoopback(bind.Address))
            {
                throw new CliException($"--rpcbind must be a loopback address (127.0.0.1 or [::1]); got {bind.Address}");
            }
            var directory = Path.GetFullPath(parse.GetValue(dataDir) ?? CliPaths.DefaultDevnetDirectory);
            await using var host = new DevnetHost(new DevnetHostOptions
            {
                DataDirectory = directory,
                RpcBind = bind,
                RpcUser = user,
                RpcPassword = password,
                BlockInterval = interval is { } s ? TimeSpan.FromSeconds(s) : null,
            });
            await host.StartAsync(ct).ConfigureAwait(false);
            var info = new DevnetStarted(
                host.Rpc.Uri.ToString(),
                directory,
                user is null ? Path.Combine(directory, ".cookie") : null,
                host.Chain.Tip.Height,
                host.Chain.Tip.Hash.ToString(),
                interval);
            if (parse.GetValue(SatflowCli.JsonOption))
            {
                CliJson.Write(output, info);
            }
            else
            {
                await output.WriteLineAsync($"satflow devnet (regtest) at height {info.Height}, tip {info.TipHash}").ConfigureAwait(false);
                await output.WriteLineAsync($"  JSON-RPC: {info.RpcUrl}" + (info.CookieFile is { } c ? $" (cookie: {c})" : " (user/password auth)")).ConfigureAwait(false);
                await output.WriteLineAsync($"  data dir: {info.DataDir}").ConfigureAwait(false);
                await output.WriteLineAsync(interval is { } i ? $"  mining a block every {i.ToString(CultureInfo.InvariantCulture)} s" : "  mining on demand: satflow devnet mine N").ConfigureAwait(false);
                await output.WriteLineAsync("Press Ctrl-C or call RPC `stop` to shut down.").ConfigureAwait(false);
            }
            await output.FlushAsync(ct).ConfigureAwait(false);
            try
            {
                await host.Completion.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C: fall through to a clean stop.
            }
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            if (!parse.GetValue(SatflowCli.JsonOption))
            {
                await output.WriteLineAsync("devnet stopped cleanly").ConfigureAwait(false);
            }
            return 0;
        });
        return command;
    }

    /// <summary>The <c>--json</c> line printed once the devnet is up.</summary>
    internal sealed record DevnetStarted(string RpcUrl, string DataDir, string? CookieFile, int Height, string TipHash, double? BlockIntervalSeconds);

    private static Command CreateMine()
    {
        var connection = new ChainConnection();
        var count = new Argument<int>("N") { Description = "How many blocks to mine (1-10000)." };
        var to = new Option<string?>("--to") { Description = "Address that receives the coinbase rewards (default: an anyone-can-spend P2WSH(OP_TRUE) address)." };
        var command = new Command("mine", "Mine N blocks on a running devnet (or any regtest node) through its JSON-RPC.");
        command.Arguments.Add(count);
        command.Options.Add(to);
        connection.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var n = parse.GetValue(count);
            if (n is < 1 or > 10_000)
            {
                throw new CliException("N must be between 1 and 10000");
            }
            var network = connection.GetNetwork(parse);
            BitcoinAddress address;
            var toText = parse.GetValue(to);
            if (toText is null)
            {
                address = new Script(OpcodeType.OP_TRUE).WitHash.GetAddress(network);
            }
            else
            {
                try
                {
                    address = BitcoinAddress.Create(toText, network);
                }
                catch (FormatException)
                {
                    throw new CliException($"'{toText}' is not a valid {network.ChainName.ToString().ToLowerInvariant()} address");
                }
            }
            using var client = connection.CreateClient(parse);
            var hashes = new List<uint256>(n);
            const int chunk = 100;
            while (hashes.Count < n)
            {
                var take = Math.Min(chunk, n - hashes.Count);
                hashes.AddRange(await client.GenerateToAddressAsync(take, address, ct).ConfigureAwait(false));
                if (n > chunk)
                {
                    await error.WriteLineAsync($"mined {hashes.Count}/{n} blocks").ConfigureAwait(false);
                }
            }
            var height = await client.GetBlockCountAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(SatflowCli.JsonOption))
            {
                CliJson.Write(output, new MineResult(hashes.Count, height, address.ToString(), [.. hashes.Select(h => h.ToString())]));
            }
            else
            {
                await output.WriteLineAsync($"mined {hashes.Count} block(s) to {address}; height is now {height}, tip {hashes[^1]}").ConfigureAwait(false);
            }
            return 0;
        });
        return command;
    }

    /// <summary>The <c>--json</c> shape of <c>devnet mine</c>.</summary>
    internal sealed record MineResult(int Mined, int Height, string Address, IReadOnlyList<string> BlockHashes);

    private static Command CreateInfo()
    {
        var connection = new ChainConnection();
        var command = new Command("info", "Show the chain tip, mempool size and network of a running devnet.");
        connection.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            using var client = connection.CreateClient(parse);
            var chain = await client.GetBlockchainInfoAsync(ct).ConfigureAwait(false);
            var mempool = await client.GetMempoolInfoAsync(ct).ConfigureAwait(false);
            var tip = await client.GetTipAsync(ct).ConfigureAwait(false);
            var info = new DevnetInfo(chain.Chain, tip.Height, tip.Hash.ToString(), mempool.Size, client.Url.ToString());
            if (parse.GetValue(SatflowCli.JsonOption))
            {
                CliJson.Write(output, info);
            }
            else
            {
                CliTable.KeyValues(output,
                [
                    ("chain", info.Chain),
                    ("height", info.Height.ToString(CultureInfo.InvariantCulture)),
                    ("tip", info.TipHash),
                    ("mempool", info.MempoolTransactions.ToString(CultureInfo.InvariantCulture) + " tx"),
                    ("rpc", info.RpcUrl),
                ]);
            }
            return 0;
        });
        return command;
    }

    /// <summary>The <c>--json</c> shape of <c>devnet info</c>.</summary>
    internal sealed record DevnetInfo(string Chain, int Height, string TipHash, int MempoolTransactions, string RpcUrl);
}
