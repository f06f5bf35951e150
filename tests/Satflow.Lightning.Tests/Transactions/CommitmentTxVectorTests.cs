using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>BOLT 3 Appendix C: the 16 named commitment transactions (option_static_remotekey) and their HTLC transactions.</summary>
public sealed class CommitmentTxVectorTests
{
    private static JsonElement Cases => Bolt3Fixture.Instance.Cases;

    public static TheoryData<string> CaseNames()
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt03-commitment-tx.json"));
        var data = new TheoryData<string>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(c.GetProperty("name").GetString()!);
        }
        return data;
    }

    public static TheoryData<string, int> HtlcTxEntries()
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt03-commitment-tx.json"));
        var data = new TheoryData<string, int>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var count = c.GetProperty("htlc_txs").GetArrayLength();
            for (var i = 0; i < count; i++)
            {
                data.Add(c.GetProperty("name").GetString()!, i);
            }
        }
        return data;
    }

    [Fact]
    public void VectorFileHasSixteenCases() => Assert.Equal(16, Cases.GetArrayLength());

    [Fact]
    public void VectorsWereSignedWithoutLowRGrinding()
    {
        // The first case's remote signature has a 33-byte R (high bit set): low-R grinding could never produce it,
        // so the signer must use plain RFC 6979 nonces, as Bolt3Signing does.
        var c = Cases[0];
        var expected = Convert.FromHexString(Bolt3Fixture.Str(c, "remote_signature"));
        Assert.Equal(0x21, expected[3]);
        var f = Bolt3Fixture.Instance;
        var commitment = Build(c);
        var hash = commitment.Transaction.GetSignatureHash(commitment.FundingScript, 0, SigHash.All, commitment.FundingOutput, HashVersion.WitnessV0);
        Assert.NotEqual(expected, f.RemoteFundingKey.Sign(hash, useLowR: true).ToDER());
        Assert.Equal(expected, Bolt3Signing.SignCommitment(commitment, f.RemoteFundingKey).ToDER());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void CommitmentTransactionMatches(string name)
    {
        var f = Bolt3Fixture.Instance;
        var c = FindCase(name);
        var commitment = Build(c);

        // The last case of the spec gives no fee lines and lists only its HTLC outputs.
        var listsEverything = c.TryGetProperty("base_commitment_tx_fee", out var baseFee);
        if (listsEverything)
        {
            Assert.Equal(baseFee.GetInt64(), commitment.BaseFee.Satoshi);
            Assert.Equal(c.GetProperty("actual_commitment_tx_fee").GetInt64(), commitment.ActualFee.Satoshi);
        }
        Assert.Equal(c.GetProperty("num_htlcs").GetInt32(), commitment.HtlcOutputs.Count());

        // The outputs the spec lists (in its own order) are the transaction's outputs.
        var expectedOutputs = c.GetProperty("outputs").EnumerateArray().Select(o => (o.GetProperty("amount_sat").GetInt64(), ScriptText(o))).OrderBy(x => x).ToList();
        var actualOutputs = commitment.Outputs
            .Where(o => listsEverything || o.Htlc is not null)
            .Select(o => (o.Amount.Satoshi, o.WitnessScript is null ? "P2WPKH" : Convert.ToHexStringLower(o.WitnessScript.ToBytes())))
            .OrderBy(x => x)
            .ToList();
        Assert.Equal(expectedOutputs, actualOutputs);

        var local = Bolt3Signing.SignCommitment(commitment, f.LocalFundingKey);
        var remote = Bolt3Signing.SignCommitment(commitment, f.RemoteFundingKey);
        Assert.Equal(Bolt3Fixture.Str(c, "local_signature"), Convert.ToHexStringLower(local.ToDER()));
        Assert.Equal(Bolt3Fixture.Str(c, "remote_signature"), Convert.ToHexStringLower(remote.ToDER()));
        Assert.True(Bolt3Signing.VerifyCommitment(commitment, remote, f.Keys.RemoteFundingPubKey));

        var signed = Bolt3Signing.FinalizeCommitment(commitment, local, remote);
        Assert.Equal(Bolt3Fixture.Str(c, "commit_tx"), signed.ToHex());
        AssertSpendsValidly(signed, 0, commitment.FundingOutput);
        AssertWithinExpectedWeight(commitment, signed);
    }

    [Theory]
    [MemberData(nameof(HtlcTxEntries))]
    public void HtlcTransactionMatches(string name, int entry)
    {
        var f = Bolt3Fixture.Instance;
        var c = FindCase(name);
        var commitment = Build(c);
        var expected = c.GetProperty("htlc_txs")[entry];
        var htlcTxs = HtlcTransactionBuilder.BuildAll(commitment);
        Assert.Equal(c.GetProperty("htlc_txs").GetArrayLength(), htlcTxs.Count);

        var htlcTx = htlcTxs.Single(t => t.SpentOutput.Index == expected.GetProperty("output_index").GetInt32());
        Assert.Equal(expected.GetProperty("htlc").GetUInt64(), htlcTx.Htlc.Id);
        Assert.Equal(Bolt3Fixture.Str(expected, "type") == "htlc-success", htlcTx.IsSuccess);

        var remoteSig = Bolt3Signing.SignHtlc(htlcTx, f.RemoteHtlcKey, signerIsCommitmentOwner: false);
        var localSig = Bolt3Signing.SignHtlc(htlcTx, f.LocalHtlcKey, signerIsCommitmentOwner: true);
        Assert.Equal(Bolt3Fixture.Str(expected, "remote_htlc_signature"), Convert.ToHexStringLower(remoteSig.ToDER()));
        Assert.Equal(Bolt3Fixture.Str(expected, "local_htlc_signature"), Convert.ToHexStringLower(localSig.ToDER()));
        Assert.True(Bolt3Signing.VerifyHtlc(htlcTx, remoteSig, f.Keys.RemoteHtlcPubKey, signerIsCommitmentOwner: false));

        var signed = Bolt3Signing.FinalizeHtlc(htlcTx, remoteSig, localSig, htlcTx.IsSuccess ? f.PreimageOf(htlcTx.Htlc) : null);
        Assert.Equal(Bolt3Fixture.Str(expected, "tx"), signed.ToHex());
        var spent = commitment.Transaction.Outputs[htlcTx.SpentOutput.Index];
        AssertSpendsValidly(signed, 0, spent);
    }

    /// <summary>Appendix A: the fee formula's expected weight bounds the real weight when both balance outputs exist.</summary>
    internal static void AssertWithinExpectedWeight(CommitmentTransaction commitment, Transaction signed)
    {
        var kinds = commitment.Outputs.Select(o => o.Kind).ToList();
        if (!kinds.Contains(CommitmentOutputKind.ToLocal) || !kinds.Contains(CommitmentOutputKind.ToRemote))
        {
            return;
        }
        var weight = (signed.GetSerializedSize(TransactionOptions.None) * 3) + signed.GetSerializedSize(TransactionOptions.All);
        var expected = Bolt3Fees.CommitmentBaseWeight(commitment.Parameters.Format) + (Bolt3Fees.HtlcOutputWeight * commitment.HtlcOutputs.Count());
        // Shorter DER signatures (71-72 bytes instead of 73) make the real weight a few units lower.
        Assert.InRange(weight, expected - 24, expected);
    }

    internal static void AssertSpendsValidly(Transaction tx, int inputIndex, TxOut spent)
    {
        var validator = tx.CreateValidator([spent]);
        var result = validator.ValidateInput(inputIndex);
        Assert.True(result.Error is null, $"script error: {result.Error}");
    }

    private static CommitmentTransaction Build(JsonElement c)
    {
        var f = Bolt3Fixture.Instance;
        var toLocal = new MilliSatoshi(c.GetProperty("to_local_msat").GetUInt64());
        var toRemote = new MilliSatoshi(c.GetProperty("to_remote_msat").GetUInt64());
        var name = Bolt3Fixture.Str(c, "name");
        var htlcs = f.HtlcsFor(name, name != "simple commitment tx with no HTLCs", toLocal, toRemote);
        var parameters = f.Parameters(CommitmentFormat.StaticRemoteKey, c.GetProperty("local_feerate_per_kw").GetUInt32(), f.Common.GetProperty("local_dust_limit_satoshi").GetInt64());
        return CommitmentTransactionBuilder.Build(parameters, f.Keys, toLocal, toRemote, htlcs);
    }

    private static string ScriptText(JsonElement output) =>
        output.TryGetProperty("wscript", out var w) ? w.GetString()! : "P2WPKH";

    private static JsonElement FindCase(string name) =>
        Cases.EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
}
