using System.Net;
using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Devnet;

namespace Satflow.Node.CrashTests;

/// <summary>
/// An in-process devnet serving Bitcoin Core JSON-RPC on 127.0.0.1 (user/password auth), plus a watch on every block
/// and the mempool for transactions that spend the outpoints the test cares about (the channel funding output).
/// </summary>
public sealed class Devnet : IAsyncDisposable, IBlockListener
{
    private const string User = "crash";
    private const string Password = "test-only";
    private readonly DevnetHost _host;
    private readonly Lock _gate = new();
    private readonly HashSet<OutPoint> _watched = [];
    private readonly Dictionary<uint256, (Transaction Tx, int Height)> _confirmedSpends = [];

    private Devnet(DevnetHost host) => _host = host;

    /// <summary>Starts a devnet whose chain lives in <paramref name="dataDirectory"/>.</summary>
    public static async Task<Devnet> StartAsync(string dataDirectory)
    {
        var host = new DevnetHost(new DevnetHostOptions
        {
            DataDirectory = dataDirectory,
            RpcBind = new IPEndPoint(IPAddress.Loopback, 0),
            RpcUser = User,
            RpcPassword = Password,
        });
        await host.StartAsync().ConfigureAwait(false);
        var devnet = new Devnet(host);
        host.Chain.AddListener(devnet);
        return devnet;
    }

    /// <summary>The chain.</summary>
    public DevnetChain Chain => _host.Chain;

    /// <summary>The bitcoind-style RPC URL with credentials, as <c>satflow node start --bitcoind-rpc</c> takes it.</summary>
    public string RpcUrl => $"http://{User}:{Password}@127.0.0.1:{_host.Rpc.Port}/";

    /// <summary>Mines <paramref name="count"/> blocks paying an address nobody in the test owns.</summary>
    public Task MineAsync(int count) => MineToAsync(count, new Key().PubKey.GetScriptPubKey(ScriptPubKeyType.Segwit));

    /// <summary>Mines <paramref name="count"/> blocks paying <paramref name="script"/>.</summary>
    public async Task MineToAsync(int count, Script script)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Chain.MineBlocksAsync(count, script, cts.Token).ConfigureAwait(false);
    }

    /// <summary>Starts recording every confirmed transaction that spends <paramref name="outPoint"/>.</summary>
    public void Watch(OutPoint outPoint)
    {
        lock (_gate)
        {
            _watched.Add(outPoint);
        }
    }

    /// <summary>Every transaction seen spending a watched outpoint: confirmed (with height) or in the mempool now (height -1).</summary>
    public IReadOnlyList<(Transaction Tx, int Height)> SpendsOfWatched()
    {
        var result = new List<(Transaction, int)>();
        lock (_gate)
        {
            result.AddRange(_confirmedSpends.Values);
            foreach (var entry in Chain.GetMempool())
            {
                if (!_confirmedSpends.ContainsKey(entry.Txid) && entry.Transaction.Inputs.Any(i => _watched.Contains(i.PrevOut)))
                {
                    result.Add((entry.Transaction, -1));
                }
            }
        }
        return result;
    }

    /// <inheritdoc />
    public ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var tx in block.Transactions)
            {
                if (tx.Inputs.Any(i => _watched.Contains(i.PrevOut)))
                {
                    _confirmedSpends[tx.GetHash()] = (tx, height);
                }
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <summary>Stops the RPC server and closes the chain.</summary>
    public async ValueTask DisposeAsync()
    {
        _host.Chain.RemoveListener(this);
        await _host.DisposeAsync().ConfigureAwait(false);
    }
}
