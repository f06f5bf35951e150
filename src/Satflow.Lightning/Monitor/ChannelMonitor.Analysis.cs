using System.Globalization;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Monitor;

public sealed partial class ChannelMonitor
{
    private const string ResolvedKey = "resolved";

    /// <summary>Blocks after an offered HTLC's expiry by which its timeout claim should be confirmed (fee urgency).</summary>
    private const uint TimeoutClaimGrace = 18;

    /// <summary>
    /// Recomputes, from the recorded chain and the channel data, every claim valid at the tip and every fact; facts
    /// not reported before become events. Deterministic, so a reorg is handled by recomputing.
    /// </summary>
    private MonitorOutput Analyze(bool bump)
    {
        var pass = new Pass(bump);
        var fundingSpend = _log.SpendOf(Parameters.FundingOutPoint);
        if (fundingSpend is null)
        {
            if (IsForceClosed && _localTx is not null)
            {
                BroadcastLocalCommitment(pass);
            }
        }
        else
        {
            AnalyzeClose(fundingSpend.Value.Tx, pass);
        }

        var events = new List<MonitorEvent>();
        foreach (var (key, ev) in pass.Facts)
        {
            if (!_reported.Contains(key))
            {
                events.Add(ev);
            }
        }
        _reported.Clear();
        foreach (var key in pass.Facts.Keys)
        {
            _reported.Add(key);
        }
        return new MonitorOutput(pass.Broadcasts, events);
    }

    private void AnalyzeClose(SeenTransaction commit, Pass pass)
    {
        var height = commit.Height;
        CommitmentKind kind;
        ulong? number = null;
        if (_localTx is not null && commit.TxId == _localTx.TxId)
        {
            kind = CommitmentKind.Local;
            number = _local!.CommitmentNumber;
            AnalyzeLocal(commit, pass);
        }
        else if (_remotes.FirstOrDefault(r => _remoteTxs[r.CommitmentNumber].TxId == commit.TxId) is { } remote)
        {
            kind = CommitmentKind.Remote;
            number = remote.CommitmentNumber;
            AnalyzeRemote(commit, _remoteTxs[remote.CommitmentNumber], remote.PerCommitmentPoint, pass);
        }
        else if (_revoked.TryGetValue(commit.TxId, out var revoked))
        {
            kind = CommitmentKind.RemoteRevoked;
            number = revoked.Number;
            AnalyzeRevoked(commit, revoked, pass);
        }
        else
        {
            kind = _cooperative.Contains(commit.TxId) ? CommitmentKind.Cooperative : CommitmentKind.Unknown;
        }
        pass.Facts[$"commit:{commit.TxId}:{height}"] = new CommitmentConfirmed(kind, commit.TxId, height, number);

        foreach (var seen in _log.Seen)
        {
            if (seen.TxId == commit.TxId)
            {
                continue;
            }
            var swept = seen.Transaction.Outputs.Where(o => o.ScriptPubKey == Destination).Select(o => o.Value).Sum();
            if (swept > Money.Zero)
            {
                pass.Facts[$"swept:{seen.TxId}"] = new FundsSwept(swept, seen.TxId);
            }
        }

        var buried = _log.Confirmations(height) >= AntiReorgDelay;
        if (buried && kind is CommitmentKind.Local or CommitmentKind.Remote or CommitmentKind.RemoteRevoked)
        {
            FailMissingOfferedHtlcs(pass);
        }
        if (buried && pass.Cared.All(op => pass.Abandoned.Contains(op) || (_log.SpendOf(op) is { } s && _log.Confirmations(s.Tx.Height) >= AntiReorgDelay)))
        {
            pass.Facts[ResolvedKey] = new ChannelFullyResolved(_log.TipHeight);
        }
    }

    /// <summary>HTLCs we offered that the confirmed commitment does not carry as an output can never be claimed by the peer: they failed.</summary>
    private void FailMissingOfferedHtlcs(Pass pass)
    {
        var offered = new Dictionary<ulong, PaymentHash>();
        if (_local is not null)
        {
            foreach (var h in _local.Htlcs.Where(h => h.Direction == HtlcDirection.Offered))
            {
                offered[h.Id] = h.PaymentHash;
            }
        }
        foreach (var r in _remotes)
        {
            foreach (var h in r.Htlcs.Where(h => h.Direction == HtlcDirection.Received))
            {
                offered[h.Id] = h.PaymentHash;
            }
        }
        foreach (var (id, hash) in offered)
        {
            var key = HtlcKey(true, id);
            if (!pass.HtlcOutputs.Contains(key))
            {
                pass.Facts.TryAdd(key, new HtlcResolvedOnChain(hash, null, true, id, true));
            }
        }
    }

    private void AnalyzeLocal(SeenTransaction commit, Pass pass)
    {
        var update = _local!;
        var ct = _localTx!;
        var tip = _log.TipHeight;
        var point = _keys.PerCommitmentPoint(update.CommitmentNumber);
        var delayedKey = KeyDerivation.DerivePrivateKey(_keys.DelayedPaymentBasepointSecret, point);
        var htlcKey = KeyDerivation.DerivePrivateKey(_keys.HtlcBasepointSecret, point);
        var delay = Parameters.LocalToSelfDelay;
        var toLocalScript = Bolt3Scripts.ToLocal(ct.Keys.RevocationPubKey, delay, ct.Keys.LocalDelayedPubKey).WitHash.ScriptPubKey;
        var htlcIndex = 0;
        foreach (var o in ct.Outputs)
        {
            var op = new OutPoint(ct.TxId, o.Index);
            var spend = _log.SpendOf(op);
            switch (o.Kind)
            {
                case CommitmentOutputKind.ToLocal:
                    pass.Cared.Add(op);
                    if (spend is null && CsvSatisfied(commit.Height, delay))
                    {
                        Sweep(pass, op, ClaimPurpose.SweepToLocal, null, () => [SweepInput.DelayedToLocal(op, o.Amount, ct.Keys.RevocationPubKey, delay, delayedKey)]);
                    }
                    break;
                case CommitmentOutputKind.OfferedHtlc or CommitmentOutputKind.ReceivedHtlc:
                    {
                        var signatureIndex = htlcIndex++;
                        var htlc = o.Htlc!;
                        var offeredByUs = o.Kind == CommitmentOutputKind.OfferedHtlc;
                        pass.Cared.Add(op);
                        pass.HtlcOutputs.Add(HtlcKey(offeredByUs, htlc.Id));
                        if (spend is null)
                        {
                            if (offeredByUs && tip >= htlc.CltvExpiry)
                            {
                                BroadcastLocalHtlc(pass, ct, o, signatureIndex, htlcKey, null, htlc.CltvExpiry + TimeoutClaimGrace);
                            }
                            else if (!offeredByUs && _preimages.TryGetValue(htlc.PaymentHash, out var preimage))
                            {
                                BroadcastLocalHtlc(pass, ct, o, signatureIndex, htlcKey, preimage, htlc.CltvExpiry);
                            }
                            break;
                        }
                        HtlcFacts(pass, htlc, offeredByUs, spend.Value);
                        var (stx, input) = spend.Value;
                        if (input < stx.Transaction.Outputs.Count && stx.Transaction.Outputs[input].ScriptPubKey == toLocalScript)
                        {
                            var second = new OutPoint(stx.TxId, input);
                            var amount = stx.Transaction.Outputs[input].Value;
                            pass.Cared.Add(second);
                            if (_log.SpendOf(second) is null && CsvSatisfied(stx.Height, delay))
                            {
                                Sweep(pass, second, ClaimPurpose.SweepSecondStage, null, () => [SweepInput.DelayedToLocal(second, amount, ct.Keys.RevocationPubKey, delay, delayedKey)]);
                            }
                        }
                        break;
                    }
                default:
                    break;
            }
        }
    }

    private void AnalyzeRemote(SeenTransaction commit, CommitmentTransaction ct, PubKey point, Pass pass)
    {
        var tip = _log.TipHeight;
        var htlcKey = KeyDerivation.DerivePrivateKey(_keys.HtlcBasepointSecret, point);
        foreach (var o in ct.Outputs)
        {
            var op = new OutPoint(ct.TxId, o.Index);
            var spend = _log.SpendOf(op);
            switch (o.Kind)
            {
                case CommitmentOutputKind.ToRemote:
                    ClaimToRemote(pass, commit, ct, o);
                    break;
                case CommitmentOutputKind.OfferedHtlc or CommitmentOutputKind.ReceivedHtlc:
                    {
                        var htlc = o.Htlc!;
                        var offeredByUs = o.Kind == CommitmentOutputKind.ReceivedHtlc;
                        pass.Cared.Add(op);
                        pass.HtlcOutputs.Add(HtlcKey(offeredByUs, htlc.Id));
                        if (spend is not null)
                        {
                            HtlcFacts(pass, htlc, offeredByUs, spend.Value);
                        }
                        else if (offeredByUs && tip >= htlc.CltvExpiry)
                        {
                            Sweep(pass, op, ClaimPurpose.ClaimRemoteHtlcTimeout, htlc.CltvExpiry + TimeoutClaimGrace, () => [OnChainClaims.RemoteHtlcInput(ct, o, htlcKey, null)]);
                        }
                        else if (!offeredByUs && _preimages.TryGetValue(htlc.PaymentHash, out var preimage))
                        {
                            Sweep(pass, op, ClaimPurpose.ClaimRemoteHtlcSuccess, htlc.CltvExpiry, () => [OnChainClaims.RemoteHtlcInput(ct, o, htlcKey, preimage)]);
                        }
                        break;
                    }
                default:
                    break;
            }
        }
    }

    private void ClaimToRemote(Pass pass, SeenTransaction commit, CommitmentTransaction ct, CommitmentOutput o)
    {
        var op = new OutPoint(ct.TxId, o.Index);
        pass.Cared.Add(op);
        if (_log.SpendOf(op) is not null)
        {
            return;
        }
        var anchors = ct.Parameters.Format == CommitmentFormat.AnchorOutputs;
        if (anchors && !CsvSatisfied(commit.Height, 1))
        {
            return;
        }
        var key = _keys.PaymentBasepointSecret;
        Sweep(pass, op, ClaimPurpose.ClaimToRemote, null, () => [anchors ? SweepInput.ToRemoteAnchors(op, o.Amount, key) : SweepInput.P2wpkh(op, o.Amount, key)]);
    }

    private void AnalyzeRevoked(SeenTransaction commit, RevokedCommitment revoked, Pass pass)
    {
        if (!_secrets.TryGetSecret(PerCommitmentSecrets.IndexOfCommitment(revoked.Number), out var secret))
        {
            return;
        }
        var point = KeyDerivation.PerCommitmentPoint(secret);
        var ct = Parameters.BuildRemoteCommitment(revoked.Number, point, revoked.FeeratePerKw, revoked.ToLocal, revoked.ToRemote, revoked.Htlcs);
        var revocationKey = OnChainClaims.RevocationKey(_keys.RevocationBasepointSecret, secret);
        var revokedToLocal = Bolt3Scripts.ToLocal(ct.Keys.RevocationPubKey, ct.Parameters.ToSelfDelay, ct.Keys.LocalDelayedPubKey).WitHash.ScriptPubKey;
        var unspent = new List<SweepInput>();
        var secondStage = new Dictionary<uint256, (SeenTransaction Tx, List<SweepInput> Inputs)>();
        foreach (var input in OnChainClaims.PenaltyInputs(ct, revocationKey))
        {
            pass.Cared.Add(input.OutPoint);
            var output = ct.Outputs[(int)input.OutPoint.N];
            if (output.Htlc is { } htlc)
            {
                pass.HtlcOutputs.Add(HtlcKey(output.Kind == CommitmentOutputKind.ReceivedHtlc, htlc.Id));
            }
            if (_log.SpendOf(input.OutPoint) is not { } spend)
            {
                unspent.Add(input);
                continue;
            }
            if (output.Htlc is { } spentHtlc)
            {
                HtlcFacts(pass, spentHtlc, output.Kind == CommitmentOutputKind.ReceivedHtlc, spend);
            }
            var (stx, index) = spend;
            if (index < stx.Transaction.Outputs.Count && stx.Transaction.Outputs[index].ScriptPubKey == revokedToLocal)
            {
                var second = new OutPoint(stx.TxId, index);
                pass.Cared.Add(second);
                if (_log.SpendOf(second) is null)
                {
                    if (!secondStage.TryGetValue(stx.TxId, out var entry))
                    {
                        entry = (stx, []);
                        secondStage[stx.TxId] = entry;
                    }
                    entry.Inputs.Add(SweepInput.RevokedToLocal(second, stx.Transaction.Outputs[index].Value, revocationKey, ct.Parameters.ToSelfDelay, ct.Keys.LocalDelayedPubKey));
                }
            }
        }
        var deadline = commit.Height + ct.Parameters.ToSelfDelay;
        if (unspent.Count > 0)
        {
            Sweep(pass, unspent[0].OutPoint, ClaimPurpose.Penalty, deadline, () => unspent, unspent.Select(i => i.OutPoint));
        }
        foreach (var (tx, inputs) in secondStage.Values)
        {
            Sweep(pass, inputs[0].OutPoint, ClaimPurpose.PenaltySecondStage, tx.Height + ct.Parameters.ToSelfDelay, () => inputs, inputs.Select(i => i.OutPoint));
        }
        if (ct.Outputs.FirstOrDefault(o => o.Kind == CommitmentOutputKind.ToRemote) is { } toRemote)
        {
            ClaimToRemote(pass, commit, ct, toRemote);
        }
    }

    private static string HtlcKey(bool offeredByUs, ulong id) => string.Create(CultureInfo.InvariantCulture, $"htlc:{(offeredByUs ? 'o' : 'r')}:{id}");

    /// <summary>A spend of an HTLC output: a preimage in its witness settles the HTLC now; otherwise it failed, reported once buried.</summary>
    private void HtlcFacts(Pass pass, CommitmentHtlc htlc, bool offeredByUs, (SeenTransaction Tx, int Input) spend)
    {
        var key = HtlcKey(offeredByUs, htlc.Id);
        var preimage = ExtractPreimage(spend.Tx.Transaction.Inputs[spend.Input].WitScript, htlc.PaymentHash);
        if (preimage is { } p)
        {
            _preimages.TryAdd(htlc.PaymentHash, p);
            pass.Facts[key] = new HtlcResolvedOnChain(htlc.PaymentHash, p, false, htlc.Id, offeredByUs);
        }
        else if (_log.Confirmations(spend.Tx.Height) >= AntiReorgDelay)
        {
            pass.Facts[key] = new HtlcResolvedOnChain(htlc.PaymentHash, null, true, htlc.Id, offeredByUs);
        }
    }

    /// <summary>The witness item hashing to <paramref name="hash"/>, if any: the preimage revealed by a success spend.</summary>
    public static PaymentPreimage? ExtractPreimage(WitScript witness, PaymentHash hash)
    {
        ArgumentNullException.ThrowIfNull(witness);
        foreach (var item in witness.Pushes)
        {
            if (item.Length == 32)
            {
                var candidate = PaymentPreimage.FromBytes(item);
                if (candidate.Hash == hash)
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    /// <summary>Whether an input with a relative lock of <paramref name="blocks"/> on an output confirmed at <paramref name="confirmedAt"/> can be mined in the next block.</summary>
    private bool CsvSatisfied(uint confirmedAt, uint blocks) => (ulong)_log.TipHeight + 1 >= (ulong)confirmedAt + blocks;

    /// <summary>The feerate of a claim: the block estimate, raised as its deadline nears, never below what it used before (and bumped by at least 25 % when raised, for RBF).</summary>
    private uint ClaimFeerate(Pass pass, string key, uint? deadline)
    {
        var rate = (ulong)_lastFeerate;
        if (deadline is { } d)
        {
            var left = d > _log.TipHeight ? d - _log.TipHeight : 0;
            rate = left switch
            {
                > 36 => rate,
                > 12 => rate * 3 / 2,
                > 3 => rate * 2,
                _ => rate * 3,
            };
        }
        var computed = (uint)Math.Min(rate, 50_000_000UL);
        if (_claimFeerates.TryGetValue(key, out var last))
        {
            computed = !pass.Bump || computed <= last ? last : Math.Max(computed, (uint)Math.Min(last * 5UL / 4, uint.MaxValue));
        }
        _claimFeerates[key] = computed;
        return computed;
    }

    private void Sweep(Pass pass, OutPoint key, ClaimPurpose purpose, uint? deadline, Func<IReadOnlyList<SweepInput>> inputs, IEnumerable<OutPoint>? covered = null)
    {
        var rate = ClaimFeerate(pass, $"{purpose}:{key}", deadline);
        try
        {
            var sweep = SweepTransactionBuilder.Build(inputs(), Destination, rate);
            pass.Broadcasts.Add(new MonitorBroadcast(sweep.Transaction, purpose, sweep.SpentOutputs));
        }
        catch (SweepException e) when (e.Reason is SweepFailure.OutputBelowDust)
        {
            foreach (var op in covered ?? [key])
            {
                pass.Abandoned.Add(op);
            }
        }
    }

    private void BroadcastLocalCommitment(Pass pass)
    {
        var ct = _localTx!;
        var signed = Bolt3Signing.FinalizeCommitment(ct, Bolt3Signing.SignCommitment(ct, _keys.FundingKey), _local!.RemoteCommitmentSignature);
        pass.Broadcasts.Add(new MonitorBroadcast(signed, ClaimPurpose.LocalCommitment, [ct.FundingOutput]));
        if (ct.Parameters.Format != CommitmentFormat.AnchorOutputs || _wallet is null)
        {
            return;
        }
        uint? deadline = _local.Htlcs.Count == 0 ? null : _local.Htlcs.Min(h => h.CltvExpiry);
        var rate = ClaimFeerate(pass, "cpfp:" + ct.TxId, deadline);
        var parentWeight = SweepTransactionBuilder.WeightOf(signed);
        var minimum = SweepTransactionBuilder.FeeFor(rate, parentWeight + 1000) + SweepTransactionBuilder.DefaultDustLimit;
        if (_wallet.GetFeeInput(minimum, pass.UsedCoins) is not { } coin)
        {
            return;
        }
        try
        {
            var cpfp = AnchorCpfp.Build(ct, signed, _keys.FundingKey, [coin.Coin], coin.ChangeScript, rate);
            pass.UsedCoins.Add(coin.Coin.OutPoint);
            pass.Broadcasts.Add(new MonitorBroadcast(cpfp.Child.Transaction, ClaimPurpose.AnchorCpfp, cpfp.Child.SpentOutputs));
        }
        catch (SweepException e) when (e.Reason is SweepFailure.InsufficientFunds or SweepFailure.NothingToClaim)
        {
            // No anchor of ours (nothing but the peer's balance) or a coin too small: the commitment goes out alone.
        }
    }

    /// <summary>Our HTLC-timeout/HTLC-success transaction, with a wallet coin paying the fee for zero-fee anchors transactions.</summary>
    private void BroadcastLocalHtlc(Pass pass, CommitmentTransaction ct, CommitmentOutput output, int signatureIndex, Key htlcKey, PaymentPreimage? preimage, uint deadline)
    {
        var htlcTx = HtlcTransactionBuilder.Build(ct, output);
        var remoteSignature = _local!.RemoteHtlcSignatures[signatureIndex];
        var purpose = htlcTx.IsSuccess ? ClaimPurpose.HtlcSuccess : ClaimPurpose.HtlcTimeout;
        var spentHtlc = new TxOut(output.Amount, output.ScriptPubKey);
        if (ct.Parameters.Format != CommitmentFormat.AnchorOutputs)
        {
            var local = Bolt3Signing.SignHtlc(htlcTx, htlcKey, signerIsCommitmentOwner: true);
            pass.Broadcasts.Add(new MonitorBroadcast(Bolt3Signing.FinalizeHtlc(htlcTx, remoteSignature, local, preimage), purpose, [spentHtlc]));
            return;
        }
        if (_wallet is null)
        {
            return;
        }
        var rate = ClaimFeerate(pass, $"{purpose}:{output.Index}:{ct.TxId}", deadline);
        var baseWeight = htlcTx.IsSuccess ? Bolt3Fees.HtlcSuccessWeight(ct.Parameters.Format) : Bolt3Fees.HtlcTimeoutWeight(ct.Parameters.Format);
        var minimum = SweepTransactionBuilder.FeeFor(rate, baseWeight + 600) + SweepTransactionBuilder.DefaultDustLimit;
        if (_wallet.GetFeeInput(minimum, pass.UsedCoins) is not { } fee)
        {
            return;
        }
        var coin = fee.Coin;
        var tx = htlcTx.Transaction;
        tx.Inputs.Add(coin.OutPoint).Sequence = coin.Sequence;
        tx.Outputs.Add(new TxOut(coin.SpentOutput.Value, fee.ChangeScript));
        byte[] last = preimage is { } p ? p.Value.ToArray() : [];
        var script = output.WitnessScript!;
        WitScript HtlcWitness(byte[] remote, byte[] local) => new(new byte[][] { [], remote, local, last, script.ToBytes(true) });
        var placeholder = new byte[SweepInput.MaxSignatureSize];
        var weight = (tx.GetSerializedSize(TransactionOptions.None) * 4) + 2 + HtlcWitness(placeholder, placeholder).ToBytes().Length + coin.MaxWitnessWeight;
        var change = coin.SpentOutput.Value - SweepTransactionBuilder.FeeFor(rate, weight);
        if (change < SweepTransactionBuilder.DefaultDustLimit)
        {
            return;
        }
        tx.Outputs[1].Value = change;
        var localSignature = Bolt3Signing.Sign(tx, 0, script, spentHtlc, SigHash.All, htlcKey);
        tx.Inputs[0].WitScript = HtlcWitness(new TransactionSignature(remoteSignature, htlcTx.RemoteSigHash).ToBytes(), new TransactionSignature(localSignature, SigHash.All).ToBytes());
        var hash = tx.GetSignatureHash(coin.ScriptCode, 1, SigHash.All, coin.SpentOutput, HashVersion.WitnessV0);
        var coinSignature = coin.Signer(hash);
        if (coinSignature is null || !coin.PubKey.Verify(hash, coinSignature))
        {
            return;
        }
        tx.Inputs[1].WitScript = coin.Witness(new TransactionSignature(coinSignature, SigHash.All).ToBytes());
        pass.UsedCoins.Add(coin.OutPoint);
        pass.Broadcasts.Add(new MonitorBroadcast(tx, purpose, [spentHtlc, coin.SpentOutput]));
    }

    /// <summary>The working set of one analysis.</summary>
    private sealed class Pass(bool bump)
    {
        public bool Bump { get; } = bump;

        public List<MonitorBroadcast> Broadcasts { get; } = [];

        public Dictionary<string, MonitorEvent> Facts { get; } = new(StringComparer.Ordinal);

        public List<OutPoint> Cared { get; } = [];

        public HashSet<OutPoint> Abandoned { get; } = [];

        public HashSet<string> HtlcOutputs { get; } = new(StringComparer.Ordinal);

        public List<OutPoint> UsedCoins { get; } = [];
    }
}
