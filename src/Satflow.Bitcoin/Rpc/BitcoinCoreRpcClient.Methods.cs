using System.Text.Json;
using NBitcoin;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Rpc;

public sealed partial class BitcoinCoreRpcClient
{
    /// <summary>
    /// Creates a client whose <see cref="Network"/> is the one the node reports in <c>getblockchaininfo</c>
    /// (<c>main</c>, <c>test</c>, <c>testnet4</c>, <c>signet</c> or <c>regtest</c>).
    /// </summary>
    /// <exception cref="ChainSourceException">The node cannot be reached or reports a chain NBitcoin does not know.</exception>
    public static async Task<BitcoinCoreRpcClient> ConnectAsync(Uri url, BitcoinCoreRpcClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        var probe = new BitcoinCoreRpcClient(url, Network.RegTest, options);
        Network network;
        try
        {
            var info = await probe.GetBlockchainInfoAsync(cancellationToken).ConfigureAwait(false);
            network = Network.GetNetwork(info.Chain)
                ?? throw new ChainSourceException($"Bitcoin Core at {probe._displayUrl} runs chain '{info.Chain}', which is not supported.");
        }
        catch
        {
            probe.Dispose();
            throw;
        }

        if (network == Network.RegTest)
        {
            return probe;
        }

        probe.Dispose();
        return new BitcoinCoreRpcClient(url, network, options);
    }

    /// <summary><c>getblockchaininfo</c>.</summary>
    public Task<BlockchainInfo> GetBlockchainInfoAsync(CancellationToken cancellationToken = default) =>
        CallAsync("getblockchaininfo", BlockchainInfo.Parse, cancellationToken);

    /// <summary><c>getnetworkinfo</c>.</summary>
    public Task<NetworkInfo> GetNetworkInfoAsync(CancellationToken cancellationToken = default) =>
        CallAsync("getnetworkinfo", NetworkInfo.Parse, cancellationToken);

    /// <summary><c>getblockcount</c>: the height of the best block.</summary>
    public Task<int> GetBlockCountAsync(CancellationToken cancellationToken = default) =>
        CallAsync("getblockcount", r => RpcJson.AsInt(r), cancellationToken);

    /// <summary><c>getbestblockhash</c>.</summary>
    public Task<uint256> GetBestBlockHashAsync(CancellationToken cancellationToken = default) =>
        CallAsync("getbestblockhash", r => RpcJson.AsHash(r), cancellationToken);

    /// <summary><c>getblockheader &lt;hash&gt; true</c>.</summary>
    /// <exception cref="RpcException">Code -5 when the block is unknown.</exception>
    public Task<BlockHeaderInfo> GetBlockHeaderAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        return CallAsync("getblockheader", r => BlockHeaderInfo.Parse(r, Network), cancellationToken, blockHash, true);
    }

    /// <summary><c>getrawtransaction &lt;txid&gt; true [blockhash]</c>. Confirmed transactions need Core's <c>-txindex</c> or the block hash.</summary>
    /// <exception cref="RpcException">Code -5 when the transaction is not found.</exception>
    public Task<RawTransactionInfo> GetRawTransactionAsync(uint256 txid, uint256? blockHash = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(txid);
        return blockHash is null
            ? CallAsync("getrawtransaction", r => RawTransactionInfo.Parse(r, Network, txid), cancellationToken, txid, true)
            : CallAsync("getrawtransaction", r => RawTransactionInfo.Parse(r, Network, txid), cancellationToken, txid, true, blockHash);
    }

    /// <summary><c>gettxout</c>: the output when it is unspent, otherwise null (spent and unknown look the same here).</summary>
    public Task<TxOutInfo?> GetTxOutAsync(OutPoint outpoint, bool includeMempool = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outpoint);
        return CallAsync<TxOutInfo?>(
            "gettxout",
            r => r.ValueKind == JsonValueKind.Null ? null : TxOutInfo.Parse(r),
            cancellationToken,
            outpoint.Hash,
            outpoint.N,
            includeMempool);
    }

    /// <summary><c>getrawmempool false</c>: the ids of every mempool transaction.</summary>
    public Task<IReadOnlyList<uint256>> GetRawMempoolAsync(CancellationToken cancellationToken = default) =>
        CallAsync("getrawmempool", r => RpcJson.Hashes(r), cancellationToken, false);

    /// <summary><c>getmempoolentry</c>.</summary>
    /// <exception cref="RpcException">Code -5 when the transaction is not in the mempool.</exception>
    public Task<MempoolEntry> GetMempoolEntryAsync(uint256 txid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(txid);
        return CallAsync("getmempoolentry", MempoolEntry.Parse, cancellationToken, txid);
    }

    /// <summary><c>getmempoolinfo</c>.</summary>
    public Task<MempoolInfo> GetMempoolInfoAsync(CancellationToken cancellationToken = default) =>
        CallAsync("getmempoolinfo", MempoolInfo.Parse, cancellationToken);

    /// <summary><c>sendrawtransaction</c>; returns the txid Core reports.</summary>
    /// <param name="transaction">The transaction.</param>
    /// <param name="maxFeeRate">Core's <c>maxfeerate</c> guard; null keeps Core's default (0.10 BTC/kvB); zero disables it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="RpcException">Core refused the transaction (-25, -26, -27, -22 ...).</exception>
    public Task<uint256> SendRawTransactionAsync(Transaction transaction, FeeRate? maxFeeRate = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var hex = transaction.ToHex();
        return maxFeeRate is null
            ? CallAsync("sendrawtransaction", r => RpcJson.AsHash(r), cancellationToken, hex)
            : CallAsync("sendrawtransaction", r => RpcJson.AsHash(r), cancellationToken, hex, maxFeeRate.FeePerK);
    }

    /// <summary><c>testmempoolaccept</c>: whether the mempool would accept these transactions, without broadcasting.</summary>
    public Task<IReadOnlyList<MempoolAcceptResult>> TestMempoolAcceptAsync(IReadOnlyList<Transaction> transactions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        var hexes = transactions.Select(t => t.ToHex()).ToArray();
        return CallAsync<IReadOnlyList<MempoolAcceptResult>>(
            "testmempoolaccept",
            r => RpcJson.Array(r).EnumerateArray().Select(MempoolAcceptResult.Parse).ToList(),
            cancellationToken,
            (object)hexes);
    }

    /// <summary><c>estimatesmartfee</c>.</summary>
    /// <param name="confirmationTarget">Blocks, 1 to 1008.</param>
    /// <param name="estimateMode">"economical", "conservative" or null for Core's default.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<SmartFeeEstimate> EstimateSmartFeeAsync(int confirmationTarget, string? estimateMode = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(confirmationTarget, 1);
        return estimateMode is null
            ? CallAsync("estimatesmartfee", SmartFeeEstimate.Parse, cancellationToken, confirmationTarget)
            : CallAsync("estimatesmartfee", SmartFeeEstimate.Parse, cancellationToken, confirmationTarget, estimateMode);
    }

    /// <summary><c>generatetoaddress</c> (regtest): mines blocks paying the coinbase to <paramref name="address"/>.</summary>
    /// <returns>The hashes of the new blocks, in order.</returns>
    public Task<IReadOnlyList<uint256>> GenerateToAddressAsync(int blocks, BitcoinAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        ArgumentNullException.ThrowIfNull(address);
        return CallAsync("generatetoaddress", r => RpcJson.Hashes(r), cancellationToken, blocks, address.ToString());
    }

    /// <summary><c>invalidateblock</c>: marks a block and its descendants invalid, making Core reorganise away from them.</summary>
    public Task InvalidateBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        return CallAsync("invalidateblock", _ => true, cancellationToken, blockHash);
    }

    /// <summary><c>reconsiderblock</c>: undoes <see cref="InvalidateBlockAsync"/> for a block and its descendants.</summary>
    public Task ReconsiderBlockAsync(uint256 blockHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        return CallAsync("reconsiderblock", _ => true, cancellationToken, blockHash);
    }

    /// <summary><c>uptime</c>: how long the node has been running.</summary>
    public Task<TimeSpan> UptimeAsync(CancellationToken cancellationToken = default) =>
        CallAsync("uptime", r => TimeSpan.FromSeconds(RpcJson.AsLong(r)), cancellationToken);

    /// <summary><c>stop</c>: asks the node to shut down; returns Core's message.</summary>
    public Task<string> StopAsync(CancellationToken cancellationToken = default) =>
        CallAsync("stop", r => r.ValueKind == JsonValueKind.String ? r.GetString()! : r.ToString(), cancellationToken);
}
