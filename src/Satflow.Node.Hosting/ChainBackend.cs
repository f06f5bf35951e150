using System.Net;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Rpc;
using Satflow.Devnet;

namespace Satflow.Node.Hosting;

/// <summary>
/// The chain backend of a hosted node: a bitcoind-compatible JSON-RPC client, either to an external bitcoind or to an
/// embedded in-process devnet (regtest) that this object owns. Disposing it stops the embedded devnet.
/// </summary>
public sealed class ChainBackend : IAsyncDisposable
{
    private ChainBackend(BitcoinCoreRpcClient client, DevnetHost? devnet, string where)
    {
        Client = client;
        Devnet = devnet;
        Where = where;
    }

    /// <summary>The RPC client (chain source, broadcaster and fee estimator of the node and its wallet).</summary>
    public BitcoinCoreRpcClient Client { get; }

    /// <summary>The embedded devnet, or null for an external bitcoind.</summary>
    public DevnetHost? Devnet { get; }

    /// <summary>Where the backend is, for messages (host:port of bitcoind, or the devnet RPC URL).</summary>
    public string Where { get; }

    /// <summary>Connects to an external bitcoind and checks that it runs the expected chain.</summary>
    /// <param name="url">The RPC URL with credentials.</param>
    /// <param name="networkName">regtest, signet, testnet or mainnet.</param>
    /// <param name="network">The NBitcoin network.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The backend.</returns>
    /// <exception cref="NodeHostException">The backend is unreachable or runs another chain.</exception>
    public static async Task<ChainBackend> ConnectAsync(Uri url, string networkName, Network network, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        var backend = new ChainBackend(new BitcoinCoreRpcClient(url, network), null, $"{url.Host}:{url.Port}");
        return await CheckAsync(backend, networkName, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts an embedded devnet (regtest) in <paramref name="directory"/> with cookie RPC on a free loopback port.</summary>
    /// <param name="directory">The devnet's data directory.</param>
    /// <param name="blockInterval">Mine a block every interval (null: only on request).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The backend.</returns>
    public static async Task<ChainBackend> StartDevnetAsync(string directory, TimeSpan? blockInterval = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var devnet = new DevnetHost(new DevnetHostOptions { DataDirectory = directory, RpcBind = new IPEndPoint(IPAddress.Loopback, 0), BlockInterval = blockInterval });
        try
        {
            await devnet.StartAsync(cancellationToken).ConfigureAwait(false);
            var client = new BitcoinCoreRpcClient(devnet.Rpc.Uri, Network.RegTest,
                new BitcoinCoreRpcClientOptions { Credentials = RpcCredentials.FromCookieFile(Path.Combine(directory, ".cookie")) });
            var backend = new ChainBackend(client, devnet, devnet.Rpc.Uri.ToString());
            return await CheckAsync(backend, "regtest", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await devnet.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<ChainBackend> CheckAsync(ChainBackend backend, string networkName, CancellationToken cancellationToken)
    {
        BlockchainInfo info;
        try
        {
            info = await backend.Client.GetBlockchainInfoAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChainSourceException ex)
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            throw new NodeHostException($"cannot use the chain backend at {backend.Where}: {ex.Message}", ex);
        }
        var expected = networkName switch { "mainnet" => "main", "testnet" => "test", var n => n };
        if (!string.Equals(info.Chain, expected, StringComparison.Ordinal))
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            throw new NodeHostException($"the chain backend at {backend.Where} runs '{info.Chain}', not {networkName}");
        }
        return backend;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (Devnet is not null)
        {
            await Devnet.DisposeAsync().ConfigureAwait(false);
        }
    }
}
