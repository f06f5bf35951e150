using System.CommandLine;
using System.Globalization;
using System.Net;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow node start|info</c>: run a Lightning node in the foreground with its admin API, and query it.</summary>
internal static class NodeCommands
{
    public const string DefaultListen = "127.0.0.1:9735";

    public const string DefaultApi = "127.0.0.1:9736";

    public static Command Create()
    {
        var command = new Command("node", "The Lightning node: run it (`node start`) and ask it about itself (`node info`).");
        command.Subcommands.Add(CreateStart());
        command.Subcommands.Add(CreateInfo());
        return command;
    }

    private static Command CreateStart()
    {
        var dataDir = new Option<string?>("--datadir") { Description = "Where the node keeps its seed, channels and api.json (default: ~/.satflow/node)." };
        var network = new Option<string>("--network") { Description = "regtest, signet, testnet or mainnet.", DefaultValueFactory = _ => "regtest" };
        var rpc = new Option<string?>("--bitcoind-rpc") { Description = "Chain backend: a bitcoind-compatible JSON-RPC URL with credentials, http://USER:PASS@HOST:PORT (e.g. `satflow devnet start --rpcuser U --rpcpassword P`)." };
        var embedded = new Option<bool>("--embedded-devnet") { Description = "Chain backend: run an in-process regtest devnet in DATADIR/devnet (the default)." };
        var listen = new Option<string>("--listen") { Description = "Loopback address and port for Lightning peers.", DefaultValueFactory = _ => DefaultListen };
        var api = new Option<string>("--api") { Description = "Loopback address and port of the admin REST API.", DefaultValueFactory = _ => DefaultApi };
        var command = new Command("start", "Run a Lightning node in the foreground until Ctrl-C; its admin API URL and key go to DATADIR/api.json.");
        command.Options.Add(dataDir);
        command.Options.Add(network);
        command.Options.Add(rpc);
        command.Options.Add(embedded);
        command.Options.Add(listen);
        command.Options.Add(api);
        command.SetAction(async (parse, ct) =>
        {
            var settings = Validate(
                parse.GetValue(dataDir), parse.GetValue(network)!, parse.GetValue(rpc), parse.GetValue(embedded), parse.GetValue(listen)!, parse.GetValue(api)!);
            return await RunAsync(parse, settings, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Checks every <c>node start</c> option and resolves defaults; every problem is a one-line <see cref="CliException"/>.</summary>
    internal static NodeStartSettings Validate(string? dataDir, string networkName, string? bitcoindRpc, bool embeddedDevnet, string listen, string api)
    {
        var network = ChainConnection.ParseNetwork(networkName);
        var name = network == NBitcoin.Network.RegTest ? "regtest"
            : network == NBitcoin.Network.TestNet ? "testnet"
            : network == NBitcoin.Network.Main ? "mainnet"
            : "signet";
        if (bitcoindRpc is not null && embeddedDevnet)
        {
            throw new CliException("give either --bitcoind-rpc or --embedded-devnet, not both");
        }
        Uri? rpcUrl = null;
        if (bitcoindRpc is not null)
        {
            if (!Uri.TryCreate(bitcoindRpc, UriKind.Absolute, out rpcUrl) || (rpcUrl.Scheme != Uri.UriSchemeHttp && rpcUrl.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliException($"--bitcoind-rpc must be an http URL such as http://USER:PASS@127.0.0.1:18443, got '{bitcoindRpc}'");
            }
            if (!rpcUrl.UserInfo.Contains(':', StringComparison.Ordinal))
            {
                throw new CliException("--bitcoind-rpc needs credentials in the URL: http://USER:PASS@HOST:PORT");
            }
        }
        else if (name != "regtest")
        {
            throw new CliException($"the embedded devnet is regtest only; give --bitcoind-rpc for {name}");
        }
        var listenEndPoint = ParseLoopback(listen, "--listen");
        var apiEndPoint = ParseLoopback(api, "--api");
        if (listenEndPoint.Port != 0 && listenEndPoint.Equals(apiEndPoint))
        {
            throw new CliException($"--listen and --api must use different ports (both are {listenEndPoint})");
        }
        var directory = Path.GetFullPath(dataDir ?? NodeApiOptions.DefaultDataDirectory);
        return new NodeStartSettings(directory, name, network, rpcUrl, bitcoindRpc is null, listenEndPoint, apiEndPoint);
    }

    /// <summary>Parses <c>HOST:PORT</c> (or <c>[::1]:PORT</c>) where HOST is a loopback IP or <c>localhost</c>.</summary>
    internal static IPEndPoint ParseLoopback(string text, string option)
    {
        var colon = text.LastIndexOf(':');
        var hostText = colon > 0 ? text[..colon] : "";
        if (hostText.StartsWith('[') && hostText.EndsWith(']'))
        {
            hostText = hostText[1..^1];
        }
        var host = hostText.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(hostText, out var ip) ? ip : null;
        if (host is null || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new CliException($"{option} must be HOST:PORT with a loopback HOST, e.g. 127.0.0.1:9735; got '{text}'");
        }
        if (!IPAddress.IsLoopback(host))
        {
            throw new CliException($"{option} must be a loopback address (127.0.0.1 or [::1]); got {host}");
        }
        return new IPEndPoint(host, port);
    }

    /// <summary>The <c>--json</c> line printed once the node and its API are up.</summary>
    internal sealed record NodeStarted(string NodeId, string Network, string DataDir, string Listen, string ApiUrl, string ApiFile, string ChainBackend);

    private static async Task<int> RunAsync(ParseResult parse, NodeStartSettings settings, CancellationToken ct)
    {
        var output = parse.InvocationConfiguration.Output;
        var json = parse.GetValue(SatflowCli.JsonOption);
        // With --json, stdout carries only the JSON line; progress (and a new wallet's mnemonic) goes to stderr.
        var progress = json ? parse.InvocationConfiguration.Error : output;
        await RefuseIfRunningAsync(settings.DataDirectory, ct).ConfigureAwait(false);
        Directory.CreateDirectory(settings.DataDirectory);
        var backend = settings.BitcoindRpc is { } rpc ? $"bitcoind RPC at {rpc.Host}:{rpc.Port}" : "embedded devnet in " + Path.Combine(settings.DataDirectory, "devnet");
        await progress.WriteLineAsync($"starting the {settings.NetworkName} node in {settings.DataDirectory} ({backend})").ConfigureAwait(false);
        await using var node = await NodeHosting.Launch(settings, progress, ct).ConfigureAwait(false);
        NodeApiServer server;
        try
        {
            server = await NodeApiServer.StartAsync(node.Operations, new NodeApiServerOptions { Bind = settings.Api, DataDirectory = settings.DataDirectory }, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new CliException($"cannot serve the admin API on {settings.Api}: {ex.Message}");
        }
        await using (server)
        {
            var started = new NodeStarted(node.NodeId.ToString(), settings.NetworkName, settings.DataDirectory, node.ListenAddress, server.Url.ToString(), server.ApiFilePath!, backend);
            if (json)
            {
                CliJson.Write(output, started);
            }
            else
            {
                await output.WriteLineAsync($"node {started.NodeId}").ConfigureAwait(false);
                await output.WriteLineAsync($"  peers:     {started.Listen}").ConfigureAwait(false);
                await output.WriteLineAsync($"  admin API: {started.ApiUrl} (key in {started.ApiFile})").ConfigureAwait(false);
                await output.WriteLineAsync($"  try: satflow node info --datadir {settings.DataDirectory}").ConfigureAwait(false);
                await output.WriteLineAsync("Press Ctrl-C to stop.").ConfigureAwait(false);
            }
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                await node.Completion.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C / SIGTERM: fall through to a clean stop.
            }
#pragma warning disable CA1031 // The node died on its own: stop the API cleanly, then report why in one line.
            catch (Exception) when (node.Completion.IsFaulted || node.Completion.IsCanceled)
#pragma warning restore CA1031
            {
                // Reported below, after the API is down and api.json removed.
            }
            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        if (node.Completion.IsFaulted || node.Completion.IsCanceled)
        {
            throw new CliException("the node stopped unexpectedly: " + (node.Completion.Exception?.GetBaseException().Message ?? "cancelled"));
        }
        await progress.WriteLineAsync("node stopped cleanly").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Refuses to start a second node on a data directory whose api.json still answers.</summary>
    private static async Task RefuseIfRunningAsync(string directory, CancellationToken ct)
    {
        NodeApiFile? file;
        try
        {
            file = NodeApiFile.TryRead(directory);
        }
        catch (FormatException)
        {
            return; // A broken file is replaced.
        }
        if (file is null)
        {
            return;
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await http.GetAsync(new Uri(file.Url, "v1/info"), ct).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            return; // Stale file from a node that did not stop cleanly.
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return;
        }
        throw new CliException($"a node is already running with {directory} (its admin API answers at {file.Url})");
    }

    private static Command CreateInfo()
    {
        var command = new Command("info", "Show the running node's id, network, block height, addresses and counters.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<NodeInfo>("v1/info", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, i) => CliTable.KeyValues(output,
            [
                ("node id", i.NodeId.ToString()),
                ("alias", i.Alias),
                ("network", i.Network),
                ("block height", i.BlockHeight.ToString(CultureInfo.InvariantCulture)),
                ("listening on", string.Join(", ", i.ListenAddresses)),
                ("peers", i.PeerCount.ToString(CultureInfo.InvariantCulture)),
                ("channels", $"{i.ChannelCount.ToString(CultureInfo.InvariantCulture)} ({i.ActiveChannelCount.ToString(CultureInfo.InvariantCulture)} active)"),
                ("version", i.Version),
            ]));
            return 0;
        });
        return command;
    }

}
