using NBitcoin;

namespace Satflow.Lightning.Transactions.Sweeps;

/// <summary>A CPFP child spending our anchor, with the package figures.</summary>
/// <param name="Child">The signed child transaction.</param>
/// <param name="ParentWeight">The weight of the signed commitment transaction.</param>
/// <param name="ParentFee">The fee the commitment transaction pays.</param>
public sealed record AnchorCpfpTransaction(SweepTransaction Child, int ParentWeight, Money ParentFee)
{
    /// <summary>The package fee rate in sat per 1000 weight units: <c>(parent fee + child fee)·1000 / (parent weight + child weight)</c>.</summary>
    public decimal PackageFeeratePerKw => (ParentFee + Child.Fee).Satoshi * 1000m / (ParentWeight + Child.Weight);
}

/// <summary>
/// Bumps a commitment transaction (<c>option_anchors</c>) by spending our 330-sat anchor together with wallet coins in a
/// child transaction whose fee lifts the package to a target fee rate.
/// </summary>
public static class AnchorCpfp
{
    /// <summary>Builds the CPFP child.</summary>
    /// <param name="commitment">The commitment being bumped (ours or the peer's; both carry an anchor for our funding key).</param>
    /// <param name="signedCommitment">The fully signed commitment transaction (for its weight).</param>
    /// <param name="fundingKey">Our funding private key (locks our anchor).</param>
    /// <param name="walletInputs">Wallet coins adding funds, e.g. <see cref="SweepInput.P2wpkh(OutPoint, Money, Key)"/> or its external-signer overload (at least one).</param>
    /// <param name="changeDestination">Where the remaining value goes.</param>
    /// <param name="targetFeeratePerKw">The package fee rate to reach, in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable change output (330 sat when <c>null</c>).</param>
    /// <exception cref="SweepException">No anchor for the key, or not enough funds for the fee and a non-dust change.</exception>
    public static AnchorCpfpTransaction Build(
        CommitmentTransaction commitment,
        Transaction signedCommitment,
        Key fundingKey,
        IReadOnlyList<SweepInput> walletInputs,
        Script changeDestination,
        uint targetFeeratePerKw,
        Money? dustLimit = null)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        ArgumentNullException.ThrowIfNull(signedCommitment);
        ArgumentNullException.ThrowIfNull(fundingKey);
        ArgumentNullException.ThrowIfNull(walletInputs);
        ArgumentNullException.ThrowIfNull(changeDestination);
        if (signedCommitment.GetHash() != commitment.TxId)
        {
            throw new ArgumentException("The signed transaction is not this commitment.", nameof(signedCommitment));
        }
        if (walletInputs.Count == 0)
        {
            throw new SweepException(SweepFailure.InsufficientFunds, "A CPFP child needs at least one wallet input to pay its fee.");
        }
        var anchorScript = Bolt3Scripts.Anchor(fundingKey.PubKey).WitHash.ScriptPubKey;
        var anchor = commitment.Outputs.FirstOrDefault(o => o.ScriptPubKey == anchorScript)
            ?? throw new SweepException(SweepFailure.NothingToClaim, "The commitment has no anchor output for this funding key.");
        var inputs = new List<SweepInput>(walletInputs.Count + 1) { SweepInput.Anchor(new OutPoint(commitment.TxId, anchor.Index), fundingKey) };
        inputs.AddRange(walletInputs);

        var parentWeight = SweepTransactionBuilder.WeightOf(signedCommitment);
        var parentFee = commitment.ActualFee;
        var total = inputs.Select(i => i.SpentOutput.Value).Sum();
        var tx = SweepTransactionBuilder.Unsigned(inputs, [new TxOut(total, changeDestination)]);
        var childWeight = SweepTransactionBuilder.EstimateWeight(tx, inputs);
        var fee = Money.Max(ChildFee(targetFeeratePerKw, parentWeight, parentFee, childWeight), CeilFee(targetFeeratePerKw, childWeight));
        var change = total - fee;
        var dust = dustLimit ?? SweepTransactionBuilder.DefaultDustLimit;
        if (change < dust)
        {
            throw new SweepException(SweepFailure.InsufficientFunds, $"The inputs ({total}) cannot pay the {fee} CPFP fee and leave a change of at least {dust}.");
        }
        tx.Outputs[0].Value = change;
        SweepTransactionBuilder.Sign(tx, inputs);
        return new AnchorCpfpTransaction(new SweepTransaction(tx, inputs.Select(i => i.SpentOutput).ToList(), fee, childWeight), parentWeight, parentFee);
    }

    /// <summary>
    /// The child fee bringing the package to the target: <c>⌈target·(parent weight + child weight)/1000⌉ − parent fee</c>
    /// (zero when the parent alone already pays enough).
    /// </summary>
    public static Money ChildFee(uint targetFeeratePerKw, int parentWeight, Money parentFee, int childWeight)
    {
        ArgumentNullException.ThrowIfNull(parentFee);
        ArgumentOutOfRangeException.ThrowIfNegative(parentWeight);
        ArgumentOutOfRangeException.ThrowIfNegative(childWeight);
        var needed = CeilFee(targetFeeratePerKw, parentWeight + childWeight) - parentFee;
        return needed < Money.Zero ? Money.Zero : needed;
    }

    private static Money CeilFee(uint feeratePerKw, int weight) => Money.Satoshis(((long)feeratePerKw * weight + 999) / 1000);
}
