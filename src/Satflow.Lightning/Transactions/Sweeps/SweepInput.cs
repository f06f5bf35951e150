using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions.Sweeps;

/// <summary>The spending path a <see cref="SweepInput"/> takes.</summary>
public enum SweepInputKind
{
    /// <summary>Our delayed <c>to_local</c> (or HTLC second-stage) output after <c>to_self_delay</c>: <c>&lt;local_delayedsig&gt; &lt;&gt;</c>.</summary>
    DelayedToLocal,

    /// <summary>A revoked <c>to_local</c> (or revoked HTLC second-stage) output: <c>&lt;revocation_sig&gt; 1</c>.</summary>
    RevokedToLocal,

    /// <summary>A revoked HTLC output (offered or received): <c>&lt;revocation_sig&gt; &lt;revocationpubkey&gt;</c>.</summary>
    RevokedHtlc,

    /// <summary>An HTLC the peer offered on its own commitment, claimed with the preimage: <c>&lt;remotehtlcsig&gt; &lt;payment_preimage&gt;</c>.</summary>
    RemoteOfferedHtlcPreimage,

    /// <summary>An HTLC we offered, on the peer's commitment, claimed after its expiry: <c>&lt;remotehtlcsig&gt; &lt;&gt;</c>.</summary>
    RemoteReceivedHtlcTimeout,

    /// <summary>The <c>option_anchors</c> <c>to_remote</c> output (1-block CSV): <c>&lt;remote_sig&gt;</c>.</summary>
    ToRemoteAnchors,

    /// <summary>A P2WPKH output (static-remote-key <c>to_remote</c>, or a wallet coin): <c>&lt;sig&gt; &lt;pubkey&gt;</c>.</summary>
    P2wpkh,

    /// <summary>Our anchor output: <c>&lt;local_funding_sig&gt;</c>.</summary>
    Anchor,
}

/// <summary>
/// One output to spend in a claim transaction, with the key that signs it and everything its witness needs. Created by the
/// static factories, which check that the key matches the script.
/// </summary>
public sealed class SweepInput
{
    /// <summary>The largest DER signature plus its sighash byte, used for weight estimates.</summary>
    public const int MaxSignatureSize = 73;

    /// <summary>The nSequence of inputs without a relative timelock (final-but-RBF: allows locktime and replacement).</summary>
    public static readonly Sequence ReplaceableSequence = new(0xFFFFFFFDu);

    private readonly Func<byte[], byte[][]> _witnessItems;

    private SweepInput(SweepInputKind kind, OutPoint outPoint, TxOut spentOutput, Script? witnessScript, Key key, Sequence sequence, uint lockTime, Func<byte[], byte[][]> witnessItems)
        : this(kind, outPoint, spentOutput, witnessScript, key.PubKey, hash => key.Sign(hash, useLowR: false), sequence, lockTime, witnessItems)
    {
    }

    private SweepInput(SweepInputKind kind, OutPoint outPoint, TxOut spentOutput, Script? witnessScript, PubKey pubKey, Func<uint256, ECDSASignature> signer, Sequence sequence, uint lockTime, Func<byte[], byte[][]> witnessItems)
    {
        Kind = kind;
        OutPoint = outPoint;
        SpentOutput = spentOutput;
        WitnessScript = witnessScript;
        PubKey = pubKey;
        Signer = signer;
        Sequence = sequence;
        RequiredLockTime = lockTime;
        _witnessItems = witnessItems;
    }

    /// <summary>The spending path.</summary>
    public SweepInputKind Kind { get; }

    /// <summary>The output spent.</summary>
    public OutPoint OutPoint { get; }

    /// <summary>The spent output (amount and scriptPubKey), needed for the signature hash and for validation.</summary>
    public TxOut SpentOutput { get; }

    /// <summary>The P2WSH witness script, or <c>null</c> for P2WPKH.</summary>
    public Script? WitnessScript { get; }

    /// <summary>The public key whose signature the input needs.</summary>
    public PubKey PubKey { get; }

    /// <summary>Signs a SIGHASH_ALL segwit v0 signature hash for <see cref="PubKey"/>.</summary>
    internal Func<uint256, ECDSASignature> Signer { get; }

    /// <summary>The nSequence the input needs (a relative timelock, or <see cref="ReplaceableSequence"/>).</summary>
    public Sequence Sequence { get; }

    /// <summary>The absolute locktime the spending transaction needs (0 when none).</summary>
    public uint RequiredLockTime { get; }

    /// <summary>The scriptCode committed to by the signature hash.</summary>
    internal Script ScriptCode => WitnessScript ?? PubKey.Hash.ScriptPubKey;

    /// <summary>The witness for a given signature (with its sighash byte).</summary>
    internal WitScript Witness(byte[] signature)
    {
        var items = new List<byte[]>(_witnessItems(signature));
        if (WitnessScript is not null)
        {
            items.Add(WitnessScript.ToBytes(true));
        }
        return new WitScript(items.ToArray());
    }

    /// <summary>The serialized size of the witness with the largest (73-byte) signature: its weight in weight units.</summary>
    public int MaxWitnessWeight => Witness(new byte[MaxSignatureSize]).ToBytes().Length;

    /// <summary>Our delayed output after <c>to_self_delay</c>: a <c>to_local</c> output of our commitment, or the output of our HTLC-success/HTLC-timeout.</summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="revocationPubKey">The revocation key of that commitment.</param>
    /// <param name="toSelfDelay">Our <c>to_self_delay</c>.</param>
    /// <param name="localDelayedKey">Our delayed payment private key for that commitment (<see cref="KeyDerivation.DerivePrivateKey"/>).</param>
    public static SweepInput DelayedToLocal(OutPoint outPoint, Money amount, PubKey revocationPubKey, ushort toSelfDelay, Key localDelayedKey)
    {
        ArgumentNullException.ThrowIfNull(localDelayedKey);
        var script = Bolt3Scripts.ToLocal(revocationPubKey, toSelfDelay, localDelayedKey.PubKey);
        return new(SweepInputKind.DelayedToLocal, Check(outPoint), Out(amount, script), script, localDelayedKey, new Sequence(toSelfDelay), 0, sig => [sig, []]);
    }

    /// <summary>A revoked <c>to_local</c> output, or the output of a revoked HTLC second-stage transaction.</summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="revocationKey">The revocation private key (<see cref="KeyDerivation.DeriveRevocationPrivateKey"/>).</param>
    /// <param name="toSelfDelay">The cheater's <c>to_self_delay</c>.</param>
    /// <param name="delayedPubKey">The cheater's delayed payment key for that commitment.</param>
    public static SweepInput RevokedToLocal(OutPoint outPoint, Money amount, Key revocationKey, ushort toSelfDelay, PubKey delayedPubKey)
    {
        ArgumentNullException.ThrowIfNull(revocationKey);
        var script = Bolt3Scripts.ToLocal(revocationKey.PubKey, toSelfDelay, delayedPubKey);
        return new(SweepInputKind.RevokedToLocal, Check(outPoint), Out(amount, script), script, revocationKey, ReplaceableSequence, 0, sig => [sig, [1]]);
    }

    /// <summary>A revoked HTLC output (offered or received, either format) of a revoked commitment.</summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="htlcScript">The HTLC witness script; it must commit to <paramref name="revocationKey"/>.</param>
    /// <param name="revocationKey">The revocation private key.</param>
    /// <exception cref="SweepException"><see cref="SweepFailure.KeyMismatch"/> when the script is not spendable by the key.</exception>
    public static SweepInput RevokedHtlc(OutPoint outPoint, Money amount, Script htlcScript, Key revocationKey)
    {
        ArgumentNullException.ThrowIfNull(htlcScript);
        ArgumentNullException.ThrowIfNull(revocationKey);
        var pubKey = revocationKey.PubKey.Compress().ToBytes();
        var hash = NBitcoin.Crypto.Hashes.Hash160(pubKey).ToBytes();
        var ops = htlcScript.ToOps().ToList();
        if (ops.Count < 3 || ops[2].PushData is not { } pushed || !pushed.AsSpan().SequenceEqual(hash))
        {
            throw new SweepException(SweepFailure.KeyMismatch, "The HTLC script does not commit to this revocation key.");
        }
        return new(SweepInputKind.RevokedHtlc, Check(outPoint), Out(amount, htlcScript), htlcScript, revocationKey, ReplaceableSequence, 0, sig => [sig, pubKey]);
    }

    /// <summary>
    /// An HTLC offered by the peer on its commitment (we receive it), claimed with the preimage using our HTLC key
    /// (the <c>remote_htlcpubkey</c> of the peer's commitment). With anchors the input carries the 1-block CSV.
    /// </summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="offeredHtlcScript">The peer's offered HTLC script.</param>
    /// <param name="htlcKey">Our HTLC private key for that commitment.</param>
    /// <param name="preimage">The payment preimage.</param>
    /// <param name="format">The commitment format.</param>
    public static SweepInput RemoteOfferedHtlc(OutPoint outPoint, Money amount, Script offeredHtlcScript, Key htlcKey, PaymentPreimage preimage, CommitmentFormat format)
    {
        ArgumentNullException.ThrowIfNull(offeredHtlcScript);
        ArgumentNullException.ThrowIfNull(htlcKey);
        var hash160 = NBitcoin.Crypto.Hashes.RIPEMD160(preimage.Hash.Value.ToArray());
        if (!offeredHtlcScript.ToOps().Any(o => o.PushData is { } d && d.AsSpan().SequenceEqual(hash160)))
        {
            throw new SweepException(SweepFailure.PreimageMismatch, "The preimage does not match the HTLC's payment hash.");
        }
        RequireKeyInScript(offeredHtlcScript, htlcKey);
        var bytes = preimage.Value.ToArray();
        return new(SweepInputKind.RemoteOfferedHtlcPreimage, Check(outPoint), Out(amount, offeredHtlcScript), offeredHtlcScript, htlcKey, CsvSequence(format), 0, sig => [sig, bytes]);
    }

    /// <summary>
    /// An HTLC we offered, on the peer's commitment (a received HTLC there), claimed after <c>cltv_expiry</c> with our
    /// HTLC key. The spending transaction's locktime becomes <paramref name="cltvExpiry"/>; with anchors the input carries the 1-block CSV.
    /// </summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="receivedHtlcScript">The peer's received HTLC script.</param>
    /// <param name="htlcKey">Our HTLC private key for that commitment.</param>
    /// <param name="cltvExpiry">The HTLC's <c>cltv_expiry</c>.</param>
    /// <param name="format">The commitment format.</param>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="cltvExpiry"/> is not a block height.</exception>
    public static SweepInput RemoteReceivedHtlc(OutPoint outPoint, Money amount, Script receivedHtlcScript, Key htlcKey, uint cltvExpiry, CommitmentFormat format)
    {
        ArgumentNullException.ThrowIfNull(receivedHtlcScript);
        ArgumentNullException.ThrowIfNull(htlcKey);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cltvExpiry, 500_000_000u);
        RequireKeyInScript(receivedHtlcScript, htlcKey);
        return new(SweepInputKind.RemoteReceivedHtlcTimeout, Check(outPoint), Out(amount, receivedHtlcScript), receivedHtlcScript, htlcKey, CsvSequence(format), cltvExpiry, sig => [sig, []]);
    }

    /// <summary>The <c>option_anchors</c> <c>to_remote</c> output paying our payment key (spendable after 1 block).</summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="paymentKey">Our payment basepoint secret (static remote key).</param>
    public static SweepInput ToRemoteAnchors(OutPoint outPoint, Money amount, Key paymentKey)
    {
        ArgumentNullException.ThrowIfNull(paymentKey);
        var script = Bolt3Scripts.ToRemoteAnchors(paymentKey.PubKey);
        return new(SweepInputKind.ToRemoteAnchors, Check(outPoint), Out(amount, script), script, paymentKey, new Sequence(1), 0, sig => [sig]);
    }

    /// <summary>A P2WPKH output of <paramref name="key"/>: the static-remote-key <c>to_remote</c>, or a wallet coin.</summary>
    /// <param name="outPoint">The output.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="key">The key of the P2WPKH output.</param>
    public static SweepInput P2wpkh(OutPoint outPoint, Money amount, Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(amount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount.Satoshi, nameof(amount));
        var pubKey = key.PubKey.Compress();
        return new(SweepInputKind.P2wpkh, Check(outPoint), new TxOut(amount, pubKey.WitHash.ScriptPubKey), null, key, ReplaceableSequence, 0, sig => [sig, pubKey.ToBytes()]);
    }

    /// <summary>
    /// A P2WPKH wallet coin signed by an external signer (hardware wallet, wallet service): <paramref name="signer"/> gets
    /// the SIGHASH_ALL segwit v0 signature hash and returns the signature, which is checked against <paramref name="pubKey"/>
    /// when the transaction is built.
    /// </summary>
    /// <param name="outPoint">The coin.</param>
    /// <param name="amount">Its amount.</param>
    /// <param name="pubKey">The coin's public key.</param>
    /// <param name="signer">Signs a signature hash with the coin's private key.</param>
    public static SweepInput P2wpkh(OutPoint outPoint, Money amount, PubKey pubKey, Func<uint256, ECDSASignature> signer)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(amount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount.Satoshi, nameof(amount));
        var compressed = pubKey.Compress();
        return new(SweepInputKind.P2wpkh, Check(outPoint), new TxOut(amount, compressed.WitHash.ScriptPubKey), null, compressed, signer, ReplaceableSequence, 0, sig => [sig, compressed.ToBytes()]);
    }

    /// <summary>Our 330-sat anchor output, signed with our funding key.</summary>
    /// <param name="outPoint">The anchor output.</param>
    /// <param name="fundingKey">Our funding private key.</param>
    public static SweepInput Anchor(OutPoint outPoint, Key fundingKey)
    {
        ArgumentNullException.ThrowIfNull(fundingKey);
        var script = Bolt3Scripts.Anchor(fundingKey.PubKey);
        return new(SweepInputKind.Anchor, Check(outPoint), Out(Bolt3Fees.AnchorAmount, script), script, fundingKey, ReplaceableSequence, 0, sig => [sig]);
    }

    private static Sequence CsvSequence(CommitmentFormat format) => format == CommitmentFormat.AnchorOutputs ? new Sequence(1) : ReplaceableSequence;

    private static OutPoint Check(OutPoint outPoint)
    {
        ArgumentNullException.ThrowIfNull(outPoint);
        return outPoint;
    }

    private static TxOut Out(Money amount, Script witnessScript)
    {
        ArgumentNullException.ThrowIfNull(amount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount.Satoshi, nameof(amount));
        return new TxOut(amount, witnessScript.WitHash.ScriptPubKey);
    }

    private static void RequireKeyInScript(Script script, Key key)
    {
        var pubKey = key.PubKey.Compress().ToBytes();
        if (!script.ToOps().Any(o => o.PushData is { } d && d.AsSpan().SequenceEqual(pubKey)))
        {
            throw new SweepException(SweepFailure.KeyMismatch, "The HTLC script does not contain this HTLC key.");
        }
    }
}
