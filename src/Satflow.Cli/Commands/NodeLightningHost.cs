using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Satflow.Node.Hosting;

namespace Satflow.Cli.Commands;

/// <summary>
/// The production composition of <c>satflow node start</c>: the chain backend (bitcoind RPC or an embedded devnet in
/// <c>DATADIR/devnet</c>) and a <see cref="NodeHost"/> (seed, store, wallet, transport, node, host loop) from
/// Satflow.Node.Hosting, which satflowd shares.
/// </summary>
internal sealed class LightningNodeHost : IHostedNode
{
    /// <summary>How often the host polls the chain backend for new blocks.</summary>
    internal static TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    private readonly NodeHost _host;
    private readonly ChainBackend _chain;

    private LightningNodeHost(NodeHost host, ChainBackend chain)
    {
        _host = host;
        _chain = chain;
    }

    public INodeOperations Operations => _host.Operations;

    public NodeId NodeId => _host.NodeId;

    public string ListenAddress => _host.ListenAddress;

    public Task Completion => _host.Completion;

    public static async Task<IHostedNode> LaunchAsync(NodeStartSettings settings, TextWriter progress, CancellationToken ct)
    {
        ChainBackend? chain = null;
        try
        {
            Directory.CreateDirectory(settings.DataDirectory);
            if (settings.BitcoindRpc is { } url)
            {
                chain = await ChainBackend.ConnectAsync(url, settings.NetworkName, settings.Network, ct).ConfigureAwait(false);
            }
            else
            {
                var devnetDir = Path.Combine(settings.DataDirectory, "devnet");
                chain = await ChainBackend.StartDevnetAsync(devnetDir, null, ct).ConfigureAwait(false);
                await progress.WriteLineAsync($"embedded devnet RPC at {chain.Where} (mine with: satflow devnet mine N --rpc {chain.Where} --devnet-datadir {devnetDir})").ConfigureAwait(false);
            }
            var host = await NodeHost.LaunchAsync(new NodeHostSettings(settings.DataDirectory, settings.NetworkName, settings.Network, settings.Listen) { PollInterval = PollInterval },
                chain.Client, progress, ct).ConfigureAwait(false);
            return new LightningNodeHost(host, chain);
        }
        catch (NodeHostException ex)
        {
            if (chain is not null)
            {
                await chain.DisposeAsync().ConfigureAwait(false);
            }
            throw new CliException(ex.Message);
        }
        catch
        {
            if (chain is not null)
            {
                await chain.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync().ConfigureAwait(false);
        await _chain.DisposeAsync().ConfigureAwait(false);
    }
}
