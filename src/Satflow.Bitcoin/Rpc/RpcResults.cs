using System.Text.Json;
using NBitcoin;

namespace Satflow.Bitcoin.Rpc;

/// <summary>The result of <c>getblockchaininfo</c>.</summary>
/// <param name="Chain">Core's chain name: <c>main</c>, <c>test</c>, <c>testnet4</c>, <c>signet</c> or <c>regtest</c>.</param>
/// <param name="Blocks">Height of the best validated block.</param>
/// <param name="Headers">Height of the best known header.</param>
/// <param name="BestBlockHash">Hash of the best block.</param>
/// <param name="Difficulty">Current difficulty.</param>
/// <param name="MedianTime">Median time past of the tip, Unix seconds.</param>
/// <param name="VerificationProgress">Estimate of verification progress, 0 to 1.</param>
/// <param name="InitialBlockDownload">Whether the node is still in initial block download.</param>
/// <param name="ChainWork">Total work in the active chain, hex; null when not reported.</param>
/// <param name="Pruned">Whether blocks are pruned.</param>
/// <param name="Warnings">Node warnings.</param>
public sealed record BlockchainInfo(
    string Chain,
    int Blocks,
    int Headers,
    uint256 BestBlockHash,
    double Difficulty,
    long MedianTime,
    double VerificationProgress,
    bool InitialBlockDownload,
    string? ChainWork,
    bool Pruned,
    IReadOnlyList<string> Warnings)
{
    internal static BlockchainInfo Parse(JsonElement r)
    {
        var blocks = RpcJson.Int(r, "blocks");
        return new BlockchainInfo(
            RpcJson.String(r, "chain", null),
            blocks,
            RpcJson.OptInt(r, "headers") ?? blocks,
            RpcJson.Hash(r, "bestblockhash"),
            RpcJson.OptDouble(r, "difficulty", 0),
            RpcJson.OptLong(r, "mediantime") ?? 0,
            RpcJson.OptDouble(r, "verificationprogress", 1),
            RpcJson.OptBool(r, "initialblockdownload", false),
            RpcJson.TryProp(r, "chainwork", out var cw) ? RpcJson.AsString(cw, "'chainwork'") : null,
            RpcJson.OptBool(r, "pruned", false),
            RpcJson.Warnings(r));
    }
}

/// <summary>The result of <c>getnetworkinfo</c>.</summary>
/// <param name="Version">Core's version as an integer, for example 280000.</param>
/// <param name="Subversion">The user agent, for example <c>/Satoshi:28.0.0/</c>.</param>
/// <param name="ProtocolVersion">P2P protocol version.</param>
/// <param name="Connections">Number of peer connections.</param>
/// <param name="NetworkActive">Whether P2P networking is enabled.</param>
/// <param name="RelayFee">Minimum relay fee rate.</param>
/// <param name="IncrementalFee">Minimum fee rate increment for replacement and mempool limiting.</param>
/// <param name="Warnings">Node warnings.</param>
public sealed record NetworkInfo(
    int Version,
    string Subversion,
    int ProtocolVersion,
    int Connections,
    bool NetworkActive,
    FeeRate RelayFee,
    FeeRate IncrementalFee,
    IReadOnlyList<string> Warnings)
{
    internal static NetworkInfo Parse(JsonElement r) => new(
        RpcJson.Int(r, "version"),
        RpcJson.String(r, "subversion", null),
        RpcJson.OptInt(r, "protocolversion") ?? 0,
        RpcJson.OptInt(r, "connections") ?? 0,
        RpcJson.OptBool(r, "networkactive", true),
        new FeeRate(RpcJson.OptBtc(r, "relayfee") ?? Money.Satoshis(1000)),
        new FeeRate(RpcJson.OptBtc(r, "incrementalfee") ?? Money.Satoshis(1000)),
        RpcJson.Warnings(r));
}

/// <summary>The result of <c>getblockheader &lt;hash&gt; true</c>, with the 80-byte header rebuilt and checked against the hash.</summary>
/// <param name="Header">The header.</param>
/// <param name="Hash">The block hash.</param>
/// <param name="Confirmations">1 for the tip, -1 when the block is not in the best chain.</param>
/// <param name="Height">Height of the block.</param>
/// <param name="MedianTime">Median time past at this block, Unix seconds (0 when not reported).</param>
/// <param name="Difficulty">Difficulty of the block.</param>
/// <param name="ChainWork">Total work up to this block, hex; null when not reported.</param>
/// <param name="TransactionCount">Number of transactions in the block (0 when not reported).</param>
/// <param name="NextBlockHash">The next block in the best chain, when there is one.</param>
public sealed record BlockHeaderInfo(
    BlockHeader Header,
    uint256 Hash,
    int Confirmations,
    int Height,
    long MedianTime,
    double Difficulty,
    string? ChainWork,
    int TransactionCount,
    uint256? NextBlockHash)
{
    internal static BlockHeaderInfo Parse(JsonElement r, Network network)
    {
        var hash = RpcJson.Hash(r, "hash");
        var header = network.Consensus.ConsensusFactory.CreateBlockHeader();
        header.Version = RpcJson.Int(r, "version");
        header.HashPrevBlock = RpcJson.OptHash(r, "previousblockhash") ?? uint256.Zero;
        header.HashMerkleRoot = RpcJson.Hash(r, "merkleroot");
        header.BlockTime = DateTimeOffset.FromUnixTimeSeconds(RpcJson.UInt(r, "time"));
        header.Bits = new Target(RpcJson.HexUInt(r, "bits"));
        header.Nonce = RpcJson.UInt(r, "nonce");
        if (header.GetHash() != hash)
        {
            throw new FormatException($"the header fields do not hash to {hash}");
        }

        return new BlockHeaderInfo(
            header,
            hash,
            RpcJson.Int(r, "confirmations"),
            RpcJson.Int(r, "height"),
            RpcJson.OptLong(r, "mediantime") ?? 0,
            RpcJson.OptDouble(r, "difficulty", 0),
            RpcJson.TryProp(r, "chainwork", out var cw) ? RpcJson.AsString(cw, "'chainwork'") : null,
            RpcJson.OptInt(r, "nTx") ?? 0,
            RpcJson.OptHash(r, "nextblockhash"));
    }
}

/// <summary>The result of <c>getrawtransaction &lt;txid&gt; true</c>.</summary>
/// <param name="Transaction">The transaction, parsed from <c>hex</c> and checked against the txid.</param>
/// <param name="BlockHash">The block containing it, or null while it is in the mempool.</param>
/// <param name="Confirmations">Confirmations; 0 in the mempool and, as Core reports it, for a transaction of a stale block.</param>
/// <param name="BlockTime">The block's time, Unix seconds, when confirmed.</param>
/// <param name="InActiveChain">Only when a block hash was passed: whether that block is in the best chain.</param>
public sealed record RawTransactionInfo(Transaction Transaction, uint256? BlockHash, int Confirmations, long? BlockTime, bool? InActiveChain)
{
    internal static RawTransactionInfo Parse(JsonElement r, Network network, uint256 expectedTxid)
    {
        var tx = Transaction.Load(RpcJson.Hex(r, "hex"), network);
        if (tx.GetHash() != expectedTxid)
        {
            throw new FormatException($"'hex' is transaction {tx.GetHash()}, not {expectedTxid}");
        }

        return new RawTransactionInfo(
            tx,
            RpcJson.OptHash(r, "blockhash"),
            RpcJson.OptInt(r, "confirmations") ?? 0,
            RpcJson.OptLong(r, "blocktime"),
            RpcJson.TryProp(r, "in_active_chain", out var a) ? RpcJson.AsBool(a, "'in_active_chain'") : null);
    }
}

/// <summary>The result of <c>gettxout</c> for an unspent output.</summary>
/// <param name="BestBlock">The tip the answer refers to.</param>
/// <param name="Confirmations">Confirmations of the creating transaction; 0 in the mempool.</param>
/// <param name="Output">The output (value and script).</param>
/// <param name="Coinbase">Whether it is a coinbase output.</param>
public sealed record TxOutInfo(uint256 BestBlock, int Confirmations, TxOut Output, bool Coinbase)
{
    internal static TxOutInfo Parse(JsonElement r)
    {
        var spk = RpcJson.Prop(r, "scriptPubKey");
        var script = Script.FromBytesUnsafe(RpcJson.Hex(spk, "hex"));
        return new TxOutInfo(
            RpcJson.Hash(r, "bestblock"),
            RpcJson.Int(r, "confirmations"),
            new TxOut(RpcJson.Btc(r, "value"), script),
            RpcJson.OptBool(r, "coinbase", false));
    }
}

/// <summary>The result of <c>getmempoolentry</c>.</summary>
/// <param name="VirtualSize">Virtual size in vbytes.</param>
/// <param name="Weight">Weight in weight units (0 when not reported).</param>
/// <param name="Time">Entry time, Unix seconds.</param>
/// <param name="Height">Tip height when the transaction entered.</param>
/// <param name="BaseFee">The transaction's own fee.</param>
/// <param name="ModifiedFee">Fee including prioritisation.</param>
/// <param name="AncestorFee">Fee of the transaction and its in-mempool ancestors.</param>
/// <param name="DescendantFee">Fee of the transaction and its in-mempool descendants.</param>
/// <param name="AncestorCount">Number of in-mempool ancestors including itself.</param>
/// <param name="DescendantCount">Number of in-mempool descendants including itself.</param>
/// <param name="Depends">Unconfirmed transactions this one spends.</param>
/// <param name="SpentBy">Unconfirmed transactions spending this one.</param>
/// <param name="Bip125Replaceable">Whether it signals BIP 125 replaceability (directly or by inheritance).</param>
public sealed record MempoolEntry(
    int VirtualSize,
    int Weight,
    long Time,
    int Height,
    Money BaseFee,
    Money ModifiedFee,
    Money AncestorFee,
    Money DescendantFee,
    int AncestorCount,
    int DescendantCount,
    IReadOnlyList<uint256> Depends,
    IReadOnlyList<uint256> SpentBy,
    bool Bip125Replaceable)
{
    internal static MempoolEntry Parse(JsonElement r)
    {
        var fees = RpcJson.Prop(r, "fees");
        var baseFee = RpcJson.Btc(fees, "base");
        return new MempoolEntry(
            RpcJson.Int(r, "vsize"),
            RpcJson.OptInt(r, "weight") ?? 0,
            RpcJson.OptLong(r, "time") ?? 0,
            RpcJson.OptInt(r, "height") ?? 0,
            baseFee,
            RpcJson.OptBtc(fees, "modified") ?? baseFee,
            RpcJson.OptBtc(fees, "ancestor") ?? baseFee,
            RpcJson.OptBtc(fees, "descendant") ?? baseFee,
            RpcJson.OptInt(r, "ancestorcount") ?? 1,
            RpcJson.OptInt(r, "descendantcount") ?? 1,
            RpcJson.TryProp(r, "depends", out var d) ? RpcJson.Hashes(d, "'depends'") : [],
            RpcJson.TryProp(r, "spentby", out var s) ? RpcJson.Hashes(s, "'spentby'") : [],
            RpcJson.OptBool(r, "bip125-replaceable", false));
    }
}

/// <summary>The result of <c>getmempoolinfo</c>.</summary>
/// <param name="Loaded">Whether the mempool is fully loaded from disk.</param>
/// <param name="Size">Number of transactions.</param>
/// <param name="Bytes">Sum of virtual sizes.</param>
/// <param name="Usage">Memory usage in bytes.</param>
/// <param name="TotalFee">Sum of all fees.</param>
/// <param name="MaxMempool">Maximum memory usage in bytes.</param>
/// <param name="MempoolMinFee">The minimum fee rate for a transaction to be accepted now.</param>
/// <param name="MinRelayTxFee">The configured minimum relay fee rate.</param>
public sealed record MempoolInfo(
    bool Loaded,
    int Size,
    long Bytes,
    long Usage,
    Money TotalFee,
    long MaxMempool,
    FeeRate MempoolMinFee,
    FeeRate MinRelayTxFee)
{
    internal static MempoolInfo Parse(JsonElement r)
    {
        var minRelay = new FeeRate(RpcJson.OptBtc(r, "minrelaytxfee") ?? Money.Satoshis(1000));
        return new MempoolInfo(
            RpcJson.OptBool(r, "loaded", true),
            RpcJson.Int(r, "size"),
            RpcJson.OptLong(r, "bytes") ?? 0,
            RpcJson.OptLong(r, "usage") ?? 0,
            RpcJson.OptBtc(r, "total_fee") ?? Money.Zero,
            RpcJson.OptLong(r, "maxmempool") ?? 0,
            RpcJson.OptBtc(r, "mempoolminfee") is { } m ? new FeeRate(m) : minRelay,
            minRelay);
    }
}

/// <summary>One entry of the result of <c>testmempoolaccept</c>.</summary>
/// <param name="Txid">The transaction id.</param>
/// <param name="Wtxid">The witness transaction id, when reported.</param>
/// <param name="Allowed">Whether the mempool would accept it.</param>
/// <param name="VirtualSize">Virtual size, when allowed.</param>
/// <param name="BaseFee">Fee, when allowed.</param>
/// <param name="RejectReason">Core's reject reason, when not allowed.</param>
public sealed record MempoolAcceptResult(uint256 Txid, uint256? Wtxid, bool Allowed, int? VirtualSize, Money? BaseFee, string? RejectReason)
{
    internal static MempoolAcceptResult Parse(JsonElement r) => new(
        RpcJson.Hash(r, "txid"),
        RpcJson.OptHash(r, "wtxid"),
        RpcJson.OptBool(r, "allowed", false),
        RpcJson.OptInt(r, "vsize"),
        RpcJson.TryProp(r, "fees", out var f) ? RpcJson.OptBtc(f, "base") : null,
        RpcJson.TryProp(r, "reject-reason", out var reason) ? RpcJson.AsString(reason, "'reject-reason'") : null);
}

/// <summary>The result of <c>estimatesmartfee</c>.</summary>
/// <param name="FeeRate">The estimate (per kvB), or null when Core has none.</param>
/// <param name="Blocks">The target the estimate is for.</param>
/// <param name="Errors">Core's explanation when there is no estimate.</param>
public sealed record SmartFeeEstimate(FeeRate? FeeRate, int Blocks, IReadOnlyList<string> Errors)
{
    internal static SmartFeeEstimate Parse(JsonElement r) => new(
        RpcJson.OptBtc(r, "feerate") is { } rate && rate > Money.Zero ? new FeeRate(rate) : null,
        RpcJson.OptInt(r, "blocks") ?? 0,
        RpcJson.TryProp(r, "errors", out var e) ? RpcJson.Strings(e, "'errors'") : []);
}
