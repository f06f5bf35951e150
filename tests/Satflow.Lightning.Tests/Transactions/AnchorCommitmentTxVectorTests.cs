using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>BOLT 3 Appendix F: option_anchors (zero-fee HTLC) commitment transactions and their HTLC transactions.</summary>
public sealed class AnchorCommitmentTxVectorTests
{
    private static readonly Lazy<JsonElement> Vectors = new(() =>
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt03-anchor-commitment-tx.json"));
        return doc.RootElement.Clone();
    });

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Vectors.Value.EnumerateArray())
        {
            data.Add(c.GetProperty("Name").GetString()!);
        }
        return data;
    }

    public static TheoryData<string, int> HtlcEntries()
    {
        var data = new TheoryData<string, int>();
        foreach (var c in Vectors.Value.EnumerateArray())
        {
            for (var i = 0; i < c.GetProperty("HtlcDescs").GetArrayLength(); i++)
            {
                data.Add(c.GetProperty("Name").GetString()!, i);
            }
        }
        return data;
    }

    [Fact]
    public void VectorFileHasNineCases() => Assert.Equal(9, Vectors.Value.GetArrayLength());

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void CommitmentTransactionMatches(string name)
    {
        var f = Bolt3Fixture.Instance;
        var c = FindCase(name);
        var commitment = Build(c);
        var local = Bolt3Signing.SignCommitment(commitment, f.LocalFundingKey);
        var remote = Bolt3Signing.SignCommitment(commitment, f.RemoteFundingKey);
        Assert.Equal(Bolt3Fixture.Str(c, "RemoteSigHex"), Convert.ToHexStringLower(remote.ToDER()));
        var signed = Bolt3Signing.FinalizeCommitment(commitment, local, remote);
        Assert.Equal(Bolt3Fixture.Str(c, "ExpectedCommitmentTxHex"), signed.ToHex());
        Assert.Equal(c.GetProperty("HtlcDescs").GetArrayLength(), commitment.HtlcOutputs.Count());
        CommitmentTxVectorTests.AssertSpendsValidly(signed, 0, commitment.FundingOutput);
        CommitmentTxVectorTests.AssertWithinExpectedWeight(commitment, signed);

        // Anchors: one per side that has a balance output, both when any HTLC is untrimmed.
        var anchors = commitment.Outputs.Count(o => o.Kind is CommitmentOutputKind.LocalAnchor or CommitmentOutputKind.RemoteAnchor);
        var hasHtlcs = commitment.HtlcOutputs.Any();
        var expectedAnchors = hasHtlcs ? 2 : commitment.Outputs.Count(o => o.Kind is CommitmentOutputKind.ToLocal or CommitmentOutputKind.ToRemote);
        Assert.Equal(expectedAnchors, anchors);
    }

    [Theory]
    [MemberData(nameof(HtlcEntries))]
    public void HtlcTransactionMatches(string name, int entry)
    {
        var f = Bolt3Fixture.Instance;
        var c = FindCase(name);
        var commitment = Build(c);
        var expected = c.GetProperty("HtlcDescs")[entry];
        var htlcTx = HtlcTransactionBuilder.BuildAll(commitment)[entry];

        var remoteSig = Bolt3Signing.SignHtlc(htlcTx, f.RemoteHtlcKey, signerIsCommitmentOwner: false);
        var localSig = Bolt3Signing.SignHtlc(htlcTx, f.LocalHtlcKey, signerIsCommitmentOwner: true);
        Assert.Equal(Bolt3Fixture.Str(expected, "RemoteSigHex"), Convert.ToHexStringLower(remoteSig.ToDER()));
        Assert.Equal(SigHash.Single | SigHash.AnyoneCanPay, htlcTx.RemoteSigHash);

        var signed = Bolt3Signing.FinalizeHtlc(htlcTx, remoteSig, localSig, htlcTx.IsSuccess ? f.PreimageOf(htlcTx.Htlc) : null);
        Assert.Equal(Bolt3Fixture.Str(expected, "ResolutionTxHex"), signed.ToHex());
        // Zero-fee HTLC transactions: the output carries the whole HTLC amount, the input has sequence 1.
        Assert.Equal(htlcTx.SpentOutput.Amount, signed.Outputs[0].Value);
        Assert.Equal(1u, (uint)signed.Inputs[0].Sequence);
        CommitmentTxVectorTests.AssertSpendsValidly(signed, 0, commitment.Transaction.Outputs[htlcTx.SpentOutput.Index]);
    }

    private static CommitmentTransaction Build(JsonElement c)
    {
        var f = Bolt3Fixture.Instance;
        var toLocal = new MilliSatoshi(c.GetProperty("LocalBalance").GetUInt64());
        var toRemote = new MilliSatoshi(c.GetProperty("RemoteBalance").GetUInt64());
        var htlcs = f.HtlcsFor(Bolt3Fixture.Str(c, "Name"), c.GetProperty("UseTestHtlcs").GetBoolean(), toLocal, toRemote);
        var parameters = f.Parameters(CommitmentFormat.AnchorOutputs, c.GetProperty("FeePerKw").GetUInt32(), c.GetProperty("DustLimitSatoshis").GetInt64());
        return CommitmentTransactionBuilder.Build(parameters, f.Keys, toLocal, toRemote, htlcs);
    }

    private static JsonElement FindCase(string name) =>
        Vectors.Value.EnumerateArray().Single(c => c.GetProperty("Name").GetString() == name);
}
