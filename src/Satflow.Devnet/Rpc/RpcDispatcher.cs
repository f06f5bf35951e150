using System.Globalization;
using System.Text.Json.Nodes;
using NBitcoin;

namespace Satflow.Devnet.Rpc;

/// <summary>Bitcoin Core RPC methods over a <see cref="DevnetChain"/>.</summary>
internal sealed class RpcDispatcher
{
    private const string TxNotFound = "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.";

    private delegate Task<JsonNode?> Handler(RpcParams p, CancellationToken cancellationToken);

    private readonly DevnetChain _chain;
    private readonly TimeProvider _clock;
    private readonly DateTimeOffset _started;
    private readonly Action _stop;
    private readonly Dictionary<string, (string[] Names, int Required, string Usage, Handler Handler)> _methods;

    public RpcDispatcher(DevnetChain chain, Action stop)
    {
        _chain = chain;
        _clock = chain.Options.TimeProvider;
        _started = _clock.GetUtcNow();
        _stop = stop;
        _methods = new(StringComparer.Ordinal)
        {
            ["getblockchaininfo"] = ([], 0, "", GetBlockchainInfo),
            ["getnetworkinfo"] = ([], 0, "", GetNetworkInfo),
            ["getblockcount"] = ([], 0, "", (_, _) => Done(_chain.Height)),
            ["getbestblockhash"] = ([], 0, "", (_, _) => Done(_chain.Tip.Hash.ToString())),
            ["getblockhash"] = (["height"], 1, "height", GetBlockHash),
            ["getblockheader"] = (["blockhash", "verbose"], 1, "\"blockhash\" ( verbose )", GetBlockHeader),
            ["getblock"] = (["blockhash", "verbosity"], 1, "\"blockhash\" ( verbosity )", GetBlock),
            ["getrawtransaction"] = (["txid", "verbose", "blockhash"], 1, "\"txid\" ( verbosity \"blockhash\" )", GetRawTransaction),
            ["gettxout"] = (["txid", "n", "include_mempool"], 2, "\"txid\" n ( include_mempool )", GetTxOut),
            ["getrawmempool"] = (["verbose", "mempool_sequence"], 0, "( verbose mempool_sequence )", GetRawMempool),
            ["getmempoolentry"] = (["txid"], 1, "\"txid\"", GetMempoolEntry),
            ["getmempoolinfo"] = ([], 0, "", GetMempoolInfo),
            ["sendrawtransaction"] = (["hexstring", "maxfeerate", "maxburnamount"], 1, "\"hexstring\" ( maxfeerate maxburnamount )", SendRawTransaction),
            ["testmempoolaccept"] = (["rawtxs", "maxfeerate"], 1, "[\"rawtx\",...] ( maxfeerate )", TestMempoolAccept),
            ["estimatesmartfee"] = (["conf_target", "estimate_mode"], 1, "conf_target ( \"estimate_mode\" )", EstimateSmartFee),
            ["generatetoaddress"] = (["nblocks", "address", "maxtries"], 2, "nblocks \"address\" ( maxtries )", GenerateToAddress),
            ["invalidateblock"] = (["blockhash"], 1, "\"blockhash\"", InvalidateBlock),
            ["reconsiderblock"] = (["blockhash"], 1, "\"blockhash\"", ReconsiderBlock),
            ["submitblock"] = (["hexdata", "dummy"], 1, "\"hexdata\" ( \"dummy\" )", SubmitBlock),
            ["uptime"] = ([], 0, "", (_, _) => Done((long)(_clock.GetUtcNow() - _started).TotalSeconds)),
            ["stop"] = ([], 0, "", (_, _) =>
            {
                _stop();
                return Done("Bitcoin Core stopping");
            }),
        };
    }

    private static Task<JsonNode?> Done(JsonNode? node) => Task.FromResult(node);

    public async Task<JsonNode?> ExecuteAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
    {
        if (!_methods.TryGetValue(method, out var m))
        {
            throw new RpcException(RpcErrorCodes.MethodNotFound, "Method not found");
        }

        var p = RpcParams.From(parameters, method, m.Names, m.Required, m.Usage);
        try
        {
            return await m.Handler(p, cancellationToken).ConfigureAwait(false);
        }
        catch (DevnetValidationException ex)
        {
            throw new RpcException(ex.RpcCode, ex.RpcMessage);
        }
    }

    private Task<JsonNode?> GetBlockchainInfo(RpcParams p, CancellationToken ct)
    {
        var tip = _chain.Tip;
        var info = _chain.GetBlockInfo(tip.Hash)!;
        var size = 0L;
        for (var h = 0; h <= tip.Height; h++)
        {
            size += _chain.GetBlockInfo(_chain.GetBlockHash(h)!)!.Block.GetSerializedSize();
        }

        return Done(new JsonObject
        {
            ["chain"] = "regtest",
            ["blocks"] = tip.Height,
            ["headers"] = tip.Height,
            ["bestblockhash"] = tip.Hash.ToString(),
            ["difficulty"] = RpcJson.DifficultyValue(DevnetConsensus.RegtestBits),
            ["time"] = info.Block.Header.BlockTime.ToUnixTimeSeconds(),
            ["mediantime"] = info.MedianTimePast,
            ["verificationprogress"] = 1,
            ["initialblockdownload"] = false,
            ["chainwork"] = ChainWork(info),
            ["size_on_disk"] = size,
            ["pruned"] = false,
            ["warnings"] = "",
        });
    }

    private static string ChainWork(DevnetBlockInfo info) => info.ChainWork.ToString("x64", CultureInfo.InvariantCulture)[^64..];

    private Task<JsonNode?> GetNetworkInfo(RpcParams p, CancellationToken ct)
    {
        var networks = new JsonArray();
        foreach (var name in new[] { "ipv4", "ipv6", "onion", "i2p", "cjdns" })
        {
            networks.Add(new JsonObject
            {
                ["name"] = name,
                ["limited"] = name is not ("ipv4" or "ipv6"),
                ["reachable"] = name is "ipv4" or "ipv6",
                ["proxy"] = "",
                ["proxy_randomize_credentials"] = false,
            });
        }

        return Done(new JsonObject
        {
            ["version"] = 270000,
            ["subversion"] = "/Satoshi:27.0.0/",
            ["protocolversion"] = 70016,
            ["localservices"] = "0000000000000c09",
            ["localservicesnames"] = new JsonArray("NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"),
            ["localrelay"] = true,
            ["timeoffset"] = 0,
            ["networkactive"] = true,
            ["connections"] = 0,
            ["connections_in"] = 0,
            ["connections_out"] = 0,
            ["networks"] = networks,
            ["relayfee"] = RpcJson.Amount(_chain.Options.MinRelayFeeRate.FeePerK),
            ["incrementalfee"] = RpcJson.Amount(_chain.Options.IncrementalRelayFeeRate.FeePerK),
            ["localaddresses"] = new JsonArray(),
            ["warnings"] = "",
        });
    }

    private Task<JsonNode?> GetBlockHash(RpcParams p, CancellationToken ct)
    {
        var height = p.GetInt(0);
        var hash = _chain.GetBlockHash(height) ?? throw new RpcException(RpcErrorCodes.InvalidParameter, "Block height out of range");
        return Done(hash.ToString());
    }

    private DevnetBlockInfo RequireBlock(RpcParams p) =>
        _chain.GetBlockInfo(p.GetHash(0, "blockhash")) ?? throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "Block not found");

    private static JsonObject HeaderJson(DevnetBlockInfo info)
    {
        var h = info.Block.Header;
        var obj = new JsonObject
        {
            ["hash"] = info.Hash.ToString(),
            ["confirmations"] = info.Confirmations,
            ["height"] = info.Height,
            ["version"] = h.Version,
            ["versionHex"] = h.Version.ToString("x8", CultureInfo.InvariantCulture),
            ["merkleroot"] = h.HashMerkleRoot.ToString(),
            ["time"] = h.BlockTime.ToUnixTimeSeconds(),
            ["mediantime"] = info.MedianTimePast,
            ["nonce"] = h.Nonce,
            ["bits"] = h.Bits.ToCompact().ToString("x8", CultureInfo.InvariantCulture),
            ["difficulty"] = RpcJson.DifficultyValue(h.Bits.ToCompact()),
            ["chainwork"] = ChainWork(info),
            ["nTx"] = info.Block.Transactions.Count,
        };
        if (info.Height > 0)
        {
            obj["previousblockhash"] = h.HashPrevBlock.ToString();
        }

        if (info.NextBlockHash is not null)
        {
            obj["nextblockhash"] = info.NextBlockHash.ToString();
        }

        return obj;
    }

    private Task<JsonNode?> GetBlockHeader(RpcParams p, CancellationToken ct)
    {
        var info = RequireBlock(p);
        if (!p.GetBoolOr(1, true))
        {
            return Done(RpcJson.Hex(info.Block.Header.ToBytes()));
        }

        return Done(HeaderJson(info));
    }

    private Task<JsonNode?> GetBlock(RpcParams p, CancellationToken ct)
    {
        var info = RequireBlock(p);
        var verbosity = p.GetVerbosityOr(1, 1);
        var block = info.Block;
        if (verbosity <= 0)
        {
            return Done(RpcJson.Hex(block.ToBytes()));
        }

        var obj = HeaderJson(info);
        obj["strippedsize"] = block.GetSerializedSize(TransactionOptions.None);
        obj["size"] = block.GetSerializedSize();
        obj["weight"] = DevnetConsensus.BlockWeight(block);
        var txs = new JsonArray();
        var fees = _chain.GetBlockFees(info.Hash);
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            var tx = block.Transactions[i];
            if (verbosity == 1)
            {
                txs.Add(tx.GetHash().ToString());
            }
            else
            {
                long? fee = i > 0 && fees is not null && i - 1 < fees.Count ? fees[i - 1] : null;
                txs.Add(RpcJson.Transaction(tx, fee));
            }
        }

        obj["tx"] = txs;
        return Done(obj);
    }

    private Task<JsonNode?> GetRawTransaction(RpcParams p, CancellationToken ct)
    {
        var txid = p.GetHash(0, "parameter 1");
        var verbosity = p.GetVerbosityOr(1, 0);
        uint256? blockHash = null;
        if (p.Has(2))
        {
            blockHash = p.GetHash(2, "parameter 3");
            if (_chain.GetBlockInfo(blockHash) is null)
            {
                throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "Block hash not found");
            }
        }

        if (txid == Network.RegTest.GetGenesis().Transactions[0].GetHash())
        {
            throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved");
        }

        var found = _chain.GetTransaction(txid, blockHash);
        if (found is null)
        {
            throw new RpcException(
                RpcErrorCodes.InvalidAddressOrKey,
                blockHash is null ? TxNotFound : "No such transaction found in the provided block. Use gettransaction for wallet transactions.");
        }

        if (verbosity <= 0)
        {
            return Done(found.Transaction.ToHex());
        }

        var obj = new JsonObject();
        if (blockHash is not null)
        {
            obj["in_active_chain"] = _chain.GetBlockInfo(blockHash)!.Confirmations > 0;
        }

        foreach (var (k, v) in RpcJson.Transaction(found.Transaction))
        {
            obj[k] = v?.DeepClone();
        }

        if (found.BlockHash is not null)
        {
            var info = _chain.GetBlockInfo(found.BlockHash)!;
            obj["blockhash"] = found.BlockHash.ToString();
            obj["confirmations"] = Math.Max(info.Confirmations, 0);
            obj["time"] = info.Block.Header.BlockTime.ToUnixTimeSeconds();
            obj["blocktime"] = info.Block.Header.BlockTime.ToUnixTimeSeconds();
        }

        return Done(obj);
    }

    private Task<JsonNode?> GetTxOut(RpcParams p, CancellationToken ct)
    {
        var txid = p.GetHash(0, "txid");
        var n = p.GetLong(1);
        if (n < 0 || n > uint.MaxValue)
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, "Invalid parameter, vout cannot be negative");
        }

        var output = _chain.GetTxOut(new OutPoint(txid, (uint)n), p.GetBoolOr(2, true));
        if (output is null)
        {
            return Done(null);
        }

        return Done(new JsonObject
        {
            ["bestblock"] = _chain.Tip.Hash.ToString(),
            ["confirmations"] = output.Confirmations,
            ["value"] = RpcJson.Amount(output.Output.Value),
            ["scriptPubKey"] = RpcJson.ScriptPubKey(output.Output.ScriptPubKey),
            ["coinbase"] = output.IsCoinbase,
        });
    }

    private static JsonObject EntryJson(MempoolEntryInfo info)
    {
        var e = info.Entry;
        var depends = new JsonArray();
        foreach (var d in info.Depends)
        {
            depends.Add(d.ToString());
        }

        var spentBy = new JsonArray();
        foreach (var s in info.SpentBy)
        {
            spentBy.Add(s.ToString());
        }

        return new JsonObject
        {
            ["vsize"] = e.VirtualSize,
            ["weight"] = e.Weight,
            ["time"] = e.Time,
            ["height"] = e.Height,
            ["descendantcount"] = info.DescendantCount,
            ["descendantsize"] = info.DescendantSize,
            ["ancestorcount"] = info.AncestorCount,
            ["ancestorsize"] = info.AncestorSize,
            ["wtxid"] = e.Wtxid.ToString(),
            ["fees"] = new JsonObject
            {
                ["base"] = RpcJson.Amount(e.Fee),
                ["modified"] = RpcJson.Amount(e.Fee),
                ["ancestor"] = RpcJson.Amount(info.AncestorFees),
                ["descendant"] = RpcJson.Amount(info.DescendantFees),
            },
            ["depends"] = depends,
            ["spentby"] = spentBy,
            ["bip125-replaceable"] = info.Bip125Replaceable,
            ["unbroadcast"] = false,
        };
    }

    private Task<JsonNode?> GetRawMempool(RpcParams p, CancellationToken ct)
    {
        var verbose = p.GetBoolOr(0, false);
        var sequence = p.GetBoolOr(1, false);
        if (verbose && sequence)
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, "Verbose results cannot contain mempool sequence values.");
        }

        var entries = _chain.GetMempool();
        if (!verbose)
        {
            var list = new JsonArray();
            foreach (var e in entries)
            {
                list.Add(e.Txid.ToString());
            }

            if (sequence)
            {
                return Done(new JsonObject { ["txids"] = list, ["mempool_sequence"] = entries.Count == 0 ? 0 : entries.Max(e => e.Sequence) + 1 });
            }

            return Done(list);
        }

        var obj = new JsonObject();
        foreach (var e in entries)
        {
            var info = _chain.GetMempoolEntry(e.Txid);
            if (info is not null)
            {
                obj[e.Txid.ToString()] = EntryJson(info);
            }
        }

        return Done(obj);
    }

    private Task<JsonNode?> GetMempoolEntry(RpcParams p, CancellationToken ct)
    {
        var info = _chain.GetMempoolEntry(p.GetHash(0, "txid")) ?? throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "Transaction not in mempool");
        return Done(EntryJson(info));
    }

    private Task<JsonNode?> GetMempoolInfo(RpcParams p, CancellationToken ct)
    {
        var entries = _chain.GetMempool();
        return Done(new JsonObject
        {
            ["loaded"] = true,
            ["size"] = entries.Count,
            ["bytes"] = entries.Sum(e => (long)e.VirtualSize),
            ["usage"] = entries.Sum(e => (long)e.Transaction.GetSerializedSize() * 2),
            ["total_fee"] = RpcJson.Amount(entries.Sum(e => e.Fee.Satoshi)),
            ["maxmempool"] = 300_000_000,
            ["mempoolminfee"] = RpcJson.Amount(_chain.Options.MinRelayFeeRate.FeePerK),
            ["minrelaytxfee"] = RpcJson.Amount(_chain.Options.MinRelayFeeRate.FeePerK),
            ["incrementalrelayfee"] = RpcJson.Amount(_chain.Options.IncrementalRelayFeeRate.FeePerK),
            ["unbroadcastcount"] = 0,
            ["fullrbf"] = _chain.Options.FullReplaceByFee,
        });
    }

    internal static Transaction DecodeTransaction(string hex)
    {
        if (hex.Length % 2 != 0 || !hex.All(Uri.IsHexDigit))
        {
            throw new RpcException(RpcErrorCodes.DeserializationError, "TX decode failed. Make sure the tx has at least one input.");
        }

        try
        {
            var bytes = Convert.FromHexString(hex);
            var tx = Transaction.Load(bytes, Network.RegTest);
            if (tx.ToBytes().Length != bytes.Length)
            {
                throw new FormatException("trailing data");
            }

            return tx;
        }
        catch (Exception ex) when (ex is FormatException or EndOfStreamException or InvalidDataException or ArgumentException or OverflowException or InvalidOperationException or IndexOutOfRangeException or OutOfMemoryException or NotSupportedException)
        {
            throw new RpcException(RpcErrorCodes.DeserializationError, "TX decode failed. Make sure the tx has at least one input.");
        }
    }

    private FeeRate MaxFeeRate(RpcParams p, int index)
    {
        if (!p.Has(index))
        {
            return DevnetChain.DefaultMaxFeeRate;
        }

        var amount = p.GetAmount(index);
        if (amount > Money.Coins(1))
        {
            throw new RpcException(RpcErrorCodes.TypeError, "Fee rates larger than or equal to 1BTC/kvB are not accepted");
        }

        return new FeeRate(amount);
    }

    private Task<JsonNode?> SendRawTransaction(RpcParams p, CancellationToken ct)
    {
        var tx = DecodeTransaction(p.GetString(0));
        var maxFeeRate = MaxFeeRate(p, 1);
        var maxBurn = p.Has(2) ? p.GetAmount(2) : Money.Zero;
        foreach (var output in tx.Outputs)
        {
            if (output.ScriptPubKey.IsUnspendable && output.Value > maxBurn)
            {
                throw new RpcException(RpcErrorCodes.TransactionError, "Unspendable output exceeds maximum configured by user (maxburnamount)");
            }
        }

        return Done(_chain.SendRawTransaction(tx, maxFeeRate).ToString());
    }

    private Task<JsonNode?> TestMempoolAccept(RpcParams p, CancellationToken ct)
    {
        var raw = p.GetArray(0);
        if (raw.Count < 1 || raw.Count > 25)
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, "Array must contain between 1 and 25 transactions.");
        }

        var maxFeeRate = MaxFeeRate(p, 1);
        var txs = new List<Transaction>();
        foreach (var node in raw)
        {
            if (node is not JsonValue v || !v.TryGetValue<string>(out var hex))
            {
                throw new RpcException(RpcErrorCodes.TypeError, "JSON value is not a string as expected");
            }

            txs.Add(DecodeTransaction(hex));
        }

        var result = new JsonArray();
        if (txs.Count == 1)
        {
            result.Add(AcceptJson(_chain.TestMempoolAccept(txs[0], maxFeeRate), txs[0], null));
            return Done(result);
        }

        var package = _chain.TestPackageAccept(txs, maxFeeRate);
        for (var i = 0; i < txs.Count; i++)
        {
            result.Add(AcceptJson(package.Results[i], txs[i], package.PackageError));
        }

        return Done(result);
    }

    private static JsonObject AcceptJson(MempoolAcceptResult? r, Transaction tx, string? packageError)
    {
        var obj = new JsonObject { ["txid"] = tx.GetHash().ToString(), ["wtxid"] = tx.GetWitHash().ToString() };
        if (packageError is not null)
        {
            obj["package-error"] = packageError;
        }

        if (r is null)
        {
            return obj;
        }

        if (r.Allowed)
        {
            obj["allowed"] = true;
            obj["vsize"] = r.VirtualSize;
            obj["fees"] = new JsonObject
            {
                ["base"] = RpcJson.Amount(r.Fee!),
                ["effective-feerate"] = RpcJson.Amount(r.Fee!.Satoshi * 1000 / r.VirtualSize!.Value),
                ["effective-includes"] = new JsonArray(r.Wtxid.ToString()),
            };
        }
        else
        {
            obj["allowed"] = false;
            obj["reject-reason"] = r.RejectReason == "bad-txns-inputs-missingorspent" ? "missing-inputs" : r.RejectReason;
        }

        return obj;
    }

    private Task<JsonNode?> EstimateSmartFee(RpcParams p, CancellationToken ct)
    {
        var target = p.GetInt(0);
        if (target < 1 || target > 1008)
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, "Invalid conf_target, must be between 1 and 1008");
        }

        if (p.Has(1))
        {
            var mode = p.GetString(1).ToUpperInvariant();
            if (mode is not ("UNSET" or "ECONOMICAL" or "CONSERVATIVE"))
            {
                throw new RpcException(RpcErrorCodes.InvalidParameter, "Invalid estimate_mode parameter, must be one of: \"unset\", \"economical\", \"conservative\"");
            }
        }

        var rate = _chain.EstimateSmartFee(target);
        return Done(new JsonObject { ["feerate"] = RpcJson.Amount(rate.FeePerK), ["blocks"] = Math.Max(target, 2) });
    }

    private async Task<JsonNode?> GenerateToAddress(RpcParams p, CancellationToken ct)
    {
        var count = p.GetInt(0);
        var addressText = p.GetString(1);
        if (p.Has(2))
        {
            _ = p.GetLong(2);
        }

        BitcoinAddress address;
        try
        {
            address = BitcoinAddress.Create(addressText, Network.RegTest);
        }
        catch (FormatException)
        {
            throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "Error: Invalid address");
        }

        if (count < 0)
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, "Invalid parameter, nblocks must be non-negative");
        }

        var hashes = await _chain.MineBlocksAsync(count, address.ScriptPubKey, ct).ConfigureAwait(false);
        var array = new JsonArray();
        foreach (var h in hashes)
        {
            array.Add(h.ToString());
        }

        return array;
    }

    private async Task<JsonNode?> InvalidateBlock(RpcParams p, CancellationToken ct)
    {
        var hash = p.GetHash(0, "blockhash");
        if (!await _chain.InvalidateBlockAsync(hash, ct).ConfigureAwait(false))
        {
            throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "Block not found");
        }

        return null;
    }

    private async Task<JsonNode?> ReconsiderBlock(RpcParams p, CancellationToken ct)
    {
        var hash = p.GetHash(0, "blockhash");
        if (!await _chain.ReconsiderBlockAsync(hash, ct).ConfigureAwait(false))
        {
            throw new RpcException(RpcErrorCodes.InvalidAddressOrKey, "Block not found");
        }

        return null;
    }

    private async Task<JsonNode?> SubmitBlock(RpcParams p, CancellationToken ct)
    {
        var hex = p.GetString(0);
        Block block;
        try
        {
            if (hex.Length % 2 != 0 || !hex.All(Uri.IsHexDigit))
            {
                throw new FormatException("not hex");
            }

            block = Block.Load(Convert.FromHexString(hex), Network.RegTest);
            if (block.Transactions.Count == 0 || !block.Transactions[0].IsCoinBase)
            {
                throw new RpcException(RpcErrorCodes.DeserializationError, "Block does not start with a coinbase");
            }
        }
        catch (Exception ex) when (ex is FormatException or EndOfStreamException or InvalidDataException or ArgumentException or OverflowException or InvalidOperationException or IndexOutOfRangeException or OutOfMemoryException or NotSupportedException)
        {
            throw new RpcException(RpcErrorCodes.DeserializationError, "Block decode failed");
        }

        var result = await _chain.SubmitBlockAsync(block, ct).ConfigureAwait(false);
        return result.ToRpcResult();
    }
}
