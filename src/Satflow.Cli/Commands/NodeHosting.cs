using System.Net;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary>The validated options of <c>satflow node start</c>.</summary>
/// <param name="DataDirectory">Absolute path of the node's data directory (created if missing).</param>
/// <param name="NetworkName">regtest, signet, testnet or mainnet.</param>
/// <param name="Network">The NBitcoin network.</param>
/// <param name="BitcoindRpc">The bitcoind JSON-RPC URL with credentials; null with <paramref name="EmbeddedDevnet"/>.</param>
/// <param name="EmbeddedDevnet">Run an in-process devnet (regtest) in <c>DATADIR/devnet</c> as the chain backend.</param>
/// <param name="Listen">Where the node accepts Lightning peers (loopback).</param>
/// <param name="Api">Where the admin API listens (loopback).</param>
internal sealed record NodeStartSettings(
    string DataDirectory,
    string NetworkName,
    Network Network,
    Uri? BitcoindRpc,
    bool EmbeddedDevnet,
    IPEndPoint Listen,
    IPEndPoint Api);

/// <summary>A node the CLI runs in the foreground: its operations (served by the admin API) and how to stop it.</summary>
internal interface IHostedNode : IAsyncDisposable
{
    /// <summary>What the admin API serves.</summary>
    INodeOperations Operations { get; }

    /// <summary>The node's identity.</summary>
    NodeId NodeId { get; }

    /// <summary>Where the node actually listens for peers (the port is resolved when 0 was asked).</summary>
    string ListenAddress { get; }

    /// <summary>Completes (or faults) if the node stops on its own.</summary>
    Task Completion { get; }
}

/// <summary>
/// The composition point of <c>satflow node start</c>: turns validated settings into a running node.
/// <see cref="Launch"/> is the production composition; tests replace it with a test double.
/// </summary>
internal static class NodeHosting
{
    /// <summary>Starts the node described by the settings, reporting progress lines to the writer.</summary>
    public static Func<NodeStartSettings, TextWriter, CancellationToken, Task<IHostedNode>> Launch { get; set; } = LightningNodeHost.LaunchAsync;
}
