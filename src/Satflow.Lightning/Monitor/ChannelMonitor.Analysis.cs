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
        else if (MatchRevoked(commit) is { } revoked)
        {
            kind = CommitmentKind.RemoteRevoked;
            number = revoked.Number;
            AnalyzeRevoked(commit, revoked, pass);
        }
        else
        {
            kind = _cooperative.Contains(commit.TxId) ? CommitmentKind.Cooperative : CommitmentKind.Unknown;
        }
        pass.Facts[$"commit:{kind}:{commit.TxId}:{height}"] = new CommitmentConfirmed(kind, commit.TxId, height, number);

        foreach (var seen in _log.Seen)
        {
            // Only our sweeps: transactions spending channel outputs alone (not the CPFP child or fee-paying HTLC
            // transactions, whose wallet change may use the same script).
            if (seen.TxId == commit.TxId || !seen.Transaction.Inputs.All(i => _log.FindTx(i.PrevOut.Hash) is not null))
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
                // Fulfilled off chain before the close (its preimage is known): a success, never a failure.
                pass.Facts.TryAdd(key, _preimages.TryGetValue(hash, out var known)
                    ? new HtlcResolvedOnChain(hash, known, false, id, true)
                    : new HtlcResolvedOnChain(hash, null, true, id, true));
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

    private void ClaimToRemote(Pass pass, SeenTransaction commit, CommitmentTransaction ct, CommitmentOutput o) =>
        ClaimToRemoteOutput(pass, commit, new OutPoint(ct.TxId, o.Index), o.Amount);

    /// <summary>Our <c>to_remote</c> output of a peer commitment: the 1-block CSV P2WSH with anchors, else the P2WPKH of our payment basepoint.</summary>
    private void ClaimToRemoteOutput(Pass pass, SeenTransaction commit, OutPoint op, Money amount)
    {
        pass.Cared.Add(op);
        if (_log.SpendOf(op) is not null)
        {
            return;
        }
        var anchors = Parameters.Format == CommitmentFormat.AnchorOutputs;
        if (anchors && !CsvSatisfied(commit.Height, 1))
        {
            return;
        }
        var key = _keys.PaymentBasepointSecret;
        Sweep(pass, op, ClaimPurpose.ClaimToRemote, null, () => [anchors ? SweepInput.ToRemoteAnchors(op, amount, key) : SweepInput.P2wpkh(op, amount, key)]);
    }

    /// <summary>
    /// Recognises a revoked peer commitment without storing anything per revoked commitment: the obscured commitment
    /// number in its locktime and sequence gives the revocation secret, from which the keys and every possible output
    /// script follow (<c>to_local</c>, <c>to_remote</c>, and the HTLCs of every commitment we signed for the peer).
    /// </summary>
    private RevokedMatch? MatchRevoked(SeenTransaction commit)
    {
        if (_revokedMatches.TryGetValue(commit.TxId, out var cached))
        {
            return cached;
        }
        var match = MatchRevokedUncached(commit.Transaction);
        _revokedMatches[commit.TxId] = match;
        return match;
    }

    private RevokedMatch? MatchRevokedUncached(Transaction tx)
    {
        if (tx.Inputs.Count != 1 || CommitmentNumberObscuring.Recover(tx.LockTime, tx.Inputs[0].Sequence, Parameters.ObscuringFactor) is not { } number
            || number > PerCommitmentSecrets.FirstIndex
            || !_secrets.TryGetSecret(PerCommitmentSecrets.IndexOfCommitment(number), out var secret))
        {
            return null;
        }
        var point = KeyDerivation.PerCommitmentPoint(secret);
        var p = Parameters;
        var keys = CommitmentKeys.Derive(p.Remote.FundingPubKey, p.Local.FundingPubKey, p.Local.RevocationBasepoint, p.Remote.DelayedPaymentBasepoint, p.Remote.HtlcBasepoint, p.Local.HtlcBasepoint, p.Local.PaymentBasepoint, point);
        var candidates = new Dictionary<Script, (CommitmentOutputKind Kind, Script? WitnessScript, CommitmentHtlc? Htlc)>();
        var toLocal = Bolt3Scripts.ToLocal(keys.RevocationPubKey, p.RemoteToSelfDelay, keys.LocalDelayedPubKey);
        candidates[toLocal.WitHash.ScriptPubKey] = (CommitmentOutputKind.ToLocal, toLocal, null);
        if (p.Format == CommitmentFormat.AnchorOutputs)
        {
            var toRemote = Bolt3Scripts.ToRemoteAnchors(keys.RemotePaymentPubKey);
            candidates[toRemote.WitHash.ScriptPubKey] = (CommitmentOutputKind.ToRemote, toRemote, null);
        }
        else
        {
            candidates[keys.RemotePaymentPubKey.Compress().WitHash.ScriptPubKey] = (CommitmentOutputKind.ToRemote, null, null);
        }
        foreach (var htlc in _peerHtlcs.Values)
        {
            var script = htlc.Direction == HtlcDirection.Offered
                ? Bolt3Scripts.OfferedHtlc(keys.RevocationPubKey, keys.LocalHtlcPubKey, keys.RemoteHtlcPubKey, htlc.PaymentHash, p.Format)
                : Bolt3Scripts.ReceivedHtlc(keys.RevocationPubKey, keys.LocalHtlcPubKey, keys.RemoteHtlcPubKey, htlc.PaymentHash, htlc.CltvExpiry, p.Format);
            candidates.TryAdd(script.WitHash.ScriptPubKey, (htlc.Direction == HtlcDirection.Offered ? CommitmentOutputKind.OfferedHtlc : CommitmentOutputKind.ReceivedHtlc, script, htlc));
        }
        var outputs = new List<(int, CommitmentOutputKind, Script?, CommitmentHtlc?)>();
        for (var i = 0; i < tx.Outputs.Count; i++)
        {
            if (candidates.TryGetValue(tx.Outputs[i].ScriptPubKey, out var c))
            {
                outputs.Add((i, c.Kind, c.WitnessScript, c.Htlc));
            }
        }
        // Our own older commitments carry the same obscured numbers: without a matching output it is not the peer's.
        return outputs.Count == 0 ? null : new RevokedMatch(number, secret, keys, outputs);
    }

    private void AnalyzeRevoked(SeenTransaction commit, RevokedMatch revoked, Pass pass)
    {
        var keys = revoked.Keys;
        var delay = Parameters.RemoteToSelfDelay;
        var revocationKey = OnChainClaims.RevocationKey(_keys.RevocationBasepointSecret, revoked.Secret);
        var revokedToLocal = Bolt3Scripts.ToLocal(keys.RevocationPubKey, delay, keys.LocalDelayedPubKey).WitHash.ScriptPubKey;
        var unspent = new List<SweepInput>();
        var secondStage = new Dictionary<uint256, (SeenTransaction Tx, List<SweepInput> Inputs)>();
        foreach (var (index, kind, witnessScript, htlc) in revoked.Outputs)
        {
            var op = new OutPoint(commit.TxId, index);
            var amount = commit.Transaction.Outputs[index].Value;
            if (kind == CommitmentOutputKind.ToRemote)
            {
                ClaimToRemoteOutput(pass, commit, op, amount);
                continue;
            }
            pass.Cared.Add(op);
            var offeredByUs = kind == CommitmentOutputKind.ReceivedHtlc;
            if (htlc is not null)
            {
                pass.HtlcOutputs.Add(HtlcKey(offeredByUs, htlc.Id));
            }
            if (_log.SpendOf(op) is not { } spend)
            {
                unspent.Add(kind == CommitmentOutputKind.ToLocal
                    ? SweepInput.RevokedToLocal(op, amount, revocationKey, delay, keys.LocalDelayedPubKey)
                    : SweepInput.RevokedHtlc(op, amount, witnessScript!, revocationKey));
                continue;
            }
            if (htlc is not null && (IsPending(htlc, offeredByUs) || ExtractPreimage(spend.Tx.Transaction.Inputs[spend.Input].WitScript, htlc.PaymentHash) is not null))
            {
                // A long-resolved HTLC of an old commitment is not reported failed again; a revealed preimage always is.
                HtlcFacts(pass, htlc, offeredByUs, spend);
            }
            var (stx, input) = spend;
            if (input < stx.Transaction.Outputs.Count && stx.Transaction.Outputs[input].ScriptPubKey == revokedToLocal)
            {
                var second = new OutPoint(stx.TxId, input);
                pass.Cared.Add(second);
                if (_log.SpendOf(second) is null)
                {
                    if (!secondStage.TryGetValue(stx.TxId, out var entry))
                    {
                        entry = (stx, []);
                        secondStage[stx.TxId] = entry;
                    }
                    entry.Inputs.Add(SweepInput.RevokedToLocal(second, stx.Transaction.Outputs[input].Value, revocationKey, delay, keys.LocalDelayedPubKey));
                }
            }
        }
        if (unspent.Count > 0)
        {
            Sweep(pass, unspent[0].OutPoint, ClaimPurpose.Penalty, commit.Height + delay, () => unspent, unspent.Select(i => i.OutPoint));
        }
        foreach (var (tx, inputs) in secondStage.Values)
        {
            Sweep(pass, inputs[0].OutPoint, ClaimPurpose.PenaltySecondStage, tx.Height + delay, () => inputs, inputs.Select(i => i.OutPoint));
        }
    }

    /// <summary>Whether the HTLC is in our latest commitment or one of the peer's unrevoked ones (still to be resolved upstream).</summary>
    private bool IsPending(CommitmentHtlc peerViewHtlc, bool offeredByUs)
    {
        var ourDirection = offeredByUs ? HtlcDirection.Offered : HtlcDirection.Received;
        var peerDirection = offeredByUs ? HtlcDirection.Received : HtlcDirection.Offered;
        return (_local?.Htlcs.Any(h => h.Id == peerViewHtlc.Id && h.Direction == ourDirection) ?? false)
            || _remotes.Any(r => r.Htlcs.Any(h => h.Id == peerViewHtlc.Id && h.Direction == peerDirection));
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
            // An HTLC we offered whose preimage we already have succeeded off chain, whoever took the output.
            pass.Facts[key] = offeredByUs && _preimages.TryGetValue(htlc.PaymentHash, out var known)
                ? new HtlcResolvedOnChain(htlc.PaymentHash, known, false, htlc.Id, offeredByUs)
                : new HtlcResolvedOnChain(htlc.PaymentHash, null, true, htlc.Id, offeredByUs);
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

    /// <summary>
    /// The feerate of a claim: the block estimate, raised as its deadline nears, never below what its last broadcast
    /// version used (and bumped by at least 25 % when raised, for RBF). Recorded by <see cref="Broadcast"/>.
    /// </summary>
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
        return computed;
    }

    private void Sweep(Pass pass, OutPoint key, ClaimPurpose purpose, uint? deadline, Func<IReadOnlyList<SweepInput>> inputs, IEnumerable<OutPoint>? covered = null)
    {
        var rate = ClaimFeerate(pass, $"{purpose}:{key}", deadline);
        try
        {
            var sweep = SweepTransactionBuilder.Build(inputs(), Destination, rate);
            Broadcast(pass, $"{purpose}:{key}", rate, new MonitorBroadcast(sweep.Transaction, purpose, sweep.SpentOutputs));
        }
        catch (SweepException e)
        {
            // Dust even at the lowest feerate: never worth claiming, so it does not hold back full resolution. Only
            // uneconomical at this feerate: stays pending and is retried each block. Any other refusal leaves the
            // output pending rather than failing the whole block.
            if (e.Reason is SweepFailure.OutputBelowDust && !WorthClaimingAtMinimumFeerate(inputs))
            {
                foreach (var op in covered ?? [key])
                {
                    pass.Abandoned.Add(op);
                }
            }
        }
    }

    private void Broadcast(Pass pass, string feerateKey, uint feerate, MonitorBroadcast broadcast)
    {
        _claimFeerates[feerateKey] = feerate;
        pass.Broadcasts.Add(broadcast);
    }

    private bool WorthClaimingAtMinimumFeerate(Func<IReadOnlyList<SweepInput>> inputs)
    {
        try
        {
            SweepTransactionBuilder.Build(inputs(), Destination, MinimumFeeratePerKw);
            return true;
        }
        catch (SweepException)
        {
            return false;
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
        var feerateKey = "cpfp:" + ct.TxId;
        var rate = ClaimFeerate(pass, feerateKey, deadline);
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
            Broadcast(pass, feerateKey, rate, new MonitorBroadcast(cpfp.Child.Transaction, ClaimPurpose.AnchorCpfp, cpfp.Child.SpentOutputs));
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
        var feerateKey = $"{purpose}:{output.Index}:{ct.TxId}";
        var rate = ClaimFeerate(pass, feerateKey, deadline);
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
        Broadcast(pass, feerateKey, rate, new MonitorBroadcast(tx, purpose, [spentHtlc, coin.SpentOutput]));
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
