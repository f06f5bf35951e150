using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>The BOLT 3 witness scripts (funding, to_local, to_remote, anchors, offered and received HTLCs).</summary>
public static class Bolt3Scripts
{
    /// <summary>The funding 2-of-2: <c>2 &lt;pubkey1&gt; &lt;pubkey2&gt; 2 OP_CHECKMULTISIG</c>, keys sorted lexicographically.</summary>
    public static Script Funding(PubKey localFundingPubKey, PubKey remoteFundingPubKey)
    {
        ArgumentNullException.ThrowIfNull(localFundingPubKey);
        ArgumentNullException.ThrowIfNull(remoteFundingPubKey);
        var (first, second) = SortPubKeys(localFundingPubKey, remoteFundingPubKey);
        return new Script(
            OpcodeType.OP_2,
            Op.GetPushOp(first),
            Op.GetPushOp(second),
            OpcodeType.OP_2,
            OpcodeType.OP_CHECKMULTISIG);
    }

    /// <summary>The two funding keys in script order (lexicographically lesser compressed key first).</summary>
    public static (byte[] First, byte[] Second) SortPubKeys(PubKey a, PubKey b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var aBytes = a.Compress().ToBytes();
        var bBytes = b.Compress().ToBytes();
        return aBytes.AsSpan().SequenceCompareTo(bBytes) <= 0 ? (aBytes, bBytes) : (bBytes, aBytes);
    }

    /// <summary>
    /// The <c>to_local</c> script, also the output script of HTLC-timeout and HTLC-success transactions:
    /// <c>OP_IF &lt;revocationpubkey&gt; OP_ELSE to_self_delay OP_CSV OP_DROP &lt;local_delayedpubkey&gt; OP_ENDIF OP_CHECKSIG</c>.
    /// </summary>
    public static Script ToLocal(PubKey revocationPubKey, ushort toSelfDelay, PubKey localDelayedPubKey)
    {
        ArgumentNullException.ThrowIfNull(revocationPubKey);
        ArgumentNullException.ThrowIfNull(localDelayedPubKey);
        return new Script(
            OpcodeType.OP_IF,
            Op.GetPushOp(revocationPubKey.Compress().ToBytes()),
            OpcodeType.OP_ELSE,
            Op.GetPushOp(toSelfDelay),
            OpcodeType.OP_CHECKSEQUENCEVERIFY,
            OpcodeType.OP_DROP,
            Op.GetPushOp(localDelayedPubKey.Compress().ToBytes()),
            OpcodeType.OP_ENDIF,
            OpcodeType.OP_CHECKSIG);
    }

    /// <summary>The <c>option_anchors</c> <c>to_remote</c> script: <c>&lt;remotepubkey&gt; OP_CHECKSIGVERIFY 1 OP_CSV</c>.</summary>
    public static Script ToRemoteAnchors(PubKey remotePubKey)
    {
        ArgumentNullException.ThrowIfNull(remotePubKey);
        return new Script(
            Op.GetPushOp(remotePubKey.Compress().ToBytes()),
            OpcodeType.OP_CHECKSIGVERIFY,
            OpcodeType.OP_1,
            OpcodeType.OP_CHECKSEQUENCEVERIFY);
    }

    /// <summary>
    /// An anchor output script: <c>&lt;funding_pubkey&gt; OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CSV OP_ENDIF</c>.
    /// </summary>
    public static Script Anchor(PubKey fundingPubKey)
    {
        ArgumentNullException.ThrowIfNull(fundingPubKey);
        return new Script(
            Op.GetPushOp(fundingPubKey.Compress().ToBytes()),
            OpcodeType.OP_CHECKSIG,
            OpcodeType.OP_IFDUP,
            OpcodeType.OP_NOTIF,
            OpcodeType.OP_16,
            OpcodeType.OP_CHECKSEQUENCEVERIFY,
            OpcodeType.OP_ENDIF);
    }

    /// <summary>The offered HTLC script (an HTLC the commitment owner sends).</summary>
    public static Script OfferedHtlc(PubKey revocationPubKey, PubKey localHtlcPubKey, PubKey remoteHtlcPubKey, PaymentHash paymentHash, CommitmentFormat format)
    {
        ArgumentNullException.ThrowIfNull(revocationPubKey);
        ArgumentNullException.ThrowIfNull(localHtlcPubKey);
        ArgumentNullException.ThrowIfNull(remoteHtlcPubKey);
        var ops = new List<Op>
        {
            OpcodeType.OP_DUP, OpcodeType.OP_HASH160, Op.GetPushOp(Hashes.Hash160(revocationPubKey.Compress().ToBytes()).ToBytes()), OpcodeType.OP_EQUAL,
            OpcodeType.OP_IF,
            OpcodeType.OP_CHECKSIG,
            OpcodeType.OP_ELSE,
            Op.GetPushOp(remoteHtlcPubKey.Compress().ToBytes()), OpcodeType.OP_SWAP, OpcodeType.OP_SIZE, Op.GetPushOp(32), OpcodeType.OP_EQUAL,
            OpcodeType.OP_NOTIF,
            OpcodeType.OP_DROP, OpcodeType.OP_2, OpcodeType.OP_SWAP, Op.GetPushOp(localHtlcPubKey.Compress().ToBytes()), OpcodeType.OP_2, OpcodeType.OP_CHECKMULTISIG,
            OpcodeType.OP_ELSE,
            OpcodeType.OP_HASH160, Op.GetPushOp(Ripemd160(paymentHash)), OpcodeType.OP_EQUALVERIFY,
            OpcodeType.OP_CHECKSIG,
            OpcodeType.OP_ENDIF,
        };
        AppendAnchorsCsv(ops, format);
        ops.Add(OpcodeType.OP_ENDIF);
        return new Script(ops);
    }

    /// <summary>The received HTLC script (an HTLC the commitment owner receives).</summary>
    public static Script ReceivedHtlc(PubKey revocationPubKey, PubKey localHtlcPubKey, PubKey remoteHtlcPubKey, PaymentHash paymentHash, uint cltvExpiry, CommitmentFormat format)
    {
        ArgumentNullException.ThrowIfNull(revocationPubKey);
        ArgumentNullException.ThrowIfNull(localHtlcPubKey);
        ArgumentNullException.ThrowIfNull(remoteHtlcPubKey);
        var ops = new List<Op>
        {
            OpcodeType.OP_DUP, OpcodeType.OP_HASH160, Op.GetPushOp(Hashes.Hash160(revocationPubKey.Compress().ToBytes()).ToBytes()), OpcodeType.OP_EQUAL,
            OpcodeType.OP_IF,
            OpcodeType.OP_CHECKSIG,
            OpcodeType.OP_ELSE,
            Op.GetPushOp(remoteHtlcPubKey.Compress().ToBytes()), OpcodeType.OP_SWAP, OpcodeType.OP_SIZE, Op.GetPushOp(32), OpcodeType.OP_EQUAL,
            OpcodeType.OP_IF,
            OpcodeType.OP_HASH160, Op.GetPushOp(Ripemd160(paymentHash)), OpcodeType.OP_EQUALVERIFY,
            OpcodeType.OP_2, OpcodeType.OP_SWAP, Op.GetPushOp(localHtlcPubKey.Compress().ToBytes()), OpcodeType.OP_2, OpcodeType.OP_CHECKMULTISIG,
            OpcodeType.OP_ELSE,
            OpcodeType.OP_DROP, Op.GetPushOp(cltvExpiry), OpcodeType.OP_CHECKLOCKTIMEVERIFY, OpcodeType.OP_DROP,
            OpcodeType.OP_CHECKSIG,
            OpcodeType.OP_ENDIF,
        };
        AppendAnchorsCsv(ops, format);
        ops.Add(OpcodeType.OP_ENDIF);
        return new Script(ops);
    }

    private static void AppendAnchorsCsv(List<Op> ops, CommitmentFormat format)
    {
        if (format == CommitmentFormat.AnchorOutputs)
        {
            ops.Add(OpcodeType.OP_1);
            ops.Add(OpcodeType.OP_CHECKSEQUENCEVERIFY);
            ops.Add(OpcodeType.OP_DROP);
        }
    }

    private static byte[] Ripemd160(PaymentHash paymentHash) => Hashes.RIPEMD160(paymentHash.Value.ToArray());
}
