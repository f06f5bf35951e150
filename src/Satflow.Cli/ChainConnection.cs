using System.CommandLine;
using NBitcoin;
using Satflow.Bitcoin.Rpc;

namespace Satflow.Cli;

/// <summary>
/// The options every chain-facing command shares: which bitcoind-compatible RPC endpoint to use (the embedded devnet by
/// default) and on which network.
/// </summary>
internal sealed class ChainConnection
{
    public Option<string?> Rpc { get; } = new("--rpc")
    {
        Description = "Bitcoin Core-compatible JSON-RPC URL, e.g. http://USER:PASS@127.0.0.1:18443 (default: the local devnet on 127.0.0.1:18443 with its cookie).",
    };

    public Option<string?> RpcCookieFile { get; } = new("--rpccookiefile")
    {
        Description = "Cookie file for RPC authentication when the URL has no credentials (default: DEVNET_DATADIR/.cookie).",
    };

    public Option<string?> DevnetDataDir { get; } = new("--devnet-datadir")
    {
        Description = "Data directory of the local devnet whose cookie to use (default: ~/.satflow/devnet).",
    };

    public Option<string> Network { get; } = new("--network")
    {
        Description = "Network: regtest (devnet), signet, testnet or mainnet.",
        DefaultValueFactory = _ => "regtest",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Rpc);
        command.Options.Add(RpcCookieFile);
        command.Options.Add(DevnetDataDir);
        command.Options.Add(Network);
    }

    public Network GetNetwork(ParseResult parse) => ParseNetwork(parse.GetValue(Network));

    public static Network ParseNetwork(string? name) => name?.ToLowerInvariant() switch
    {
        "regtest" or "devnet" => NBitcoin.Network.RegTest,
        "signet" => NBitcoin.Bitcoin.Instance.Signet,
        "testnet" => NBitcoin.Network.TestNet,
        "mainnet" or "main" or "bitcoin" => NBitcoin.Network.Main,
        _ => throw new CliException($"unknown network '{name}' (use regtest, signet, testnet or mainnet)"),
    };

    public BitcoinCoreRpcClient CreateClient(ParseResult parse)
    {
        var network = GetNetwork(parse);
        var text = parse.GetValue(Rpc) ?? "http://127.0.0.1:18443/";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException($"--rpc must be an http(s) URL, got '{text}'");
        }
        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            return new BitcoinCoreRpcClient(url, network);
        }
        var cookie = parse.GetValue(RpcCookieFile)
            ?? Path.Combine(parse.GetValue(DevnetDataDir) ?? CliPaths.DefaultDevnetDirectory, ".cookie");
        if (!File.Exists(cookie))
        {
            throw new CliException($"no RPC credentials: the URL has none and the cookie file '{cookie}' does not exist (is `satflow devnet start` running? or pass --rpc http://USER:PASS@HOST:PORT)");
        }
        return new BitcoinCoreRpcClient(url, network, new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromCookieFile(cookie) });
    }
}
