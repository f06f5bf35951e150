using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>The Appendix C channel (shared by Appendix F): keys, basepoints and HTLCs, derived and checked once.</summary>
internal sealed class Bolt3Fixture
{
    private static readonly Lazy<Bolt3Fixture> LazyInstance = new(() => new Bolt3Fixture());

    public static Bolt3Fixture Instance => LazyInstance.Value;

    public JsonElement Common { get; }
    public JsonElement Derivation { get; }
    public JsonElement Cases { get; }
    public Key LocalFundingKey { get; }
    public Key RemoteFundingKey { get; }
    public Key LocalHtlcKey { get; }
    public Key RemoteHtlcKey { get; }
    public CommitmentKeys Keys { get; }
    public OutPoint FundingOutPoint { get; }
    public Money FundingAmount { get; }
    public ulong ObscuringFactor { get; }
    public IReadOnlyList<(CommitmentHtlc Htlc, PaymentPreimage Preimage)> Htlcs { get; }

    private Bolt3Fixture()
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt03-commitment-tx.json"));
        var root = doc.RootElement.Clone();
        Common = root.GetProperty("common");
        Derivation = root.GetProperty("derivation_values");
        Cases = root.GetProperty("cases");

        LocalFundingKey = PrivKey(Common, "local_funding_privkey");
        RemoteFundingKey = PrivKey(Derivation, "remote_funding_privkey");
        var perCommitmentSecret = new Bytes32(Convert.FromHexString(Str(Derivation, "x_local_per_commitment_secret"))[..32]);
        var perCommitmentPoint = KeyDerivation.PerCommitmentPoint(perCommitmentSecret);
        Assert.Equal(Str(Derivation, "local_per_commitment_point"), perCommitmentPoint.ToHex());

        var localPaymentBasepointSecret = PrivKey(Derivation, "local_payment_basepoint_secret");
        var remotePaymentBasepointSecret = PrivKey(Derivation, "remote_payment_basepoint_secret");
        Assert.Equal(Str(Common, "local_payment_basepoint"), localPaymentBasepointSecret.PubKey.ToHex());
        Assert.Equal(Str(Common, "remote_payment_basepoint"), remotePaymentBasepointSecret.PubKey.ToHex());
        // HTLC basepoints equal the payment basepoints in the vectors, so the same secrets derive the HTLC keys.
        LocalHtlcKey = KeyDerivation.DerivePrivateKey(localPaymentBasepointSecret, perCommitmentPoint);
        RemoteHtlcKey = KeyDerivation.DerivePrivateKey(remotePaymentBasepointSecret, perCommitmentPoint);
        Assert.Equal(PrivKey(Common, "local_privkey").ToHex(), LocalHtlcKey.ToHex());
        Assert.Equal(PrivKey(Derivation, "remote_privkey").ToHex(), RemoteHtlcKey.ToHex());
        var localDelayedBasepointSecret = PrivKey(Derivation, "local_delayed_payment_basepoint_secret");
        Assert.Equal(PrivKey(Derivation, "local_delayed_privkey").ToHex(), KeyDerivation.DerivePrivateKey(localDelayedBasepointSecret, perCommitmentPoint).ToHex());
        var remoteRevocationBasepointSecret = PrivKey(Derivation, "remote_revocation_basepoint_secret");
        Assert.Equal(Str(Derivation, "remote_revocation_basepoint"), remoteRevocationBasepointSecret.PubKey.ToHex());

        Keys = CommitmentKeys.Derive(
            new PubKey(Str(Common, "local_funding_pubkey")),
            new PubKey(Str(Common, "remote_funding_pubkey")),
            remoteRevocationBasepointSecret.PubKey,
            new PubKey(Str(Derivation, "local_delayed_payment_basepoint")),
            new PubKey(Str(Common, "local_htlc_basepoint")),
            new PubKey(Str(Common, "remote_htlc_basepoint")),
            new PubKey(Str(Common, "remote_payment_basepoint")),
            perCommitmentPoint);
        Assert.Equal(LocalFundingKey.PubKey, Keys.LocalFundingPubKey);
        Assert.Equal(RemoteFundingKey.PubKey, Keys.RemoteFundingPubKey);
        Assert.Equal(Str(Common, "local_revocation_pubkey"), Keys.RevocationPubKey.ToHex());
        Assert.Equal(Str(Common, "local_delayedpubkey"), Keys.LocalDelayedPubKey.ToHex());
        Assert.Equal(Str(Common, "local_htlcpubkey"), Keys.LocalHtlcPubKey.ToHex());
        Assert.Equal(Str(Common, "remote_htlcpubkey"), Keys.RemoteHtlcPubKey.ToHex());
        Assert.Equal(Str(Common, "funding_wscript"), Convert.ToHexStringLower(Bolt3Scripts.Funding(Keys.LocalFundingPubKey, Keys.RemoteFundingPubKey).ToBytes()));

        FundingOutPoint = new OutPoint(uint256.Parse(Str(Common, "funding_tx_id")), Common.GetProperty("funding_output_index").GetUInt32());
        FundingAmount = Money.Satoshis(Common.GetProperty("funding_amount_satoshi").GetInt64());
        ObscuringFactor = CommitmentNumberObscuring.Factor(new PubKey(Str(Common, "local_payment_basepoint")), new PubKey(Str(Common, "remote_payment_basepoint")));
        Assert.Equal(0x2bb038521914UL, ObscuringFactor);

        Htlcs = Common.GetProperty("htlcs").EnumerateArray().Select(h =>
        {
            var preimage = PaymentPreimage.Parse(h.GetProperty("payment_preimage").GetString()!);
            var direction = h.GetProperty("direction").GetString() switch
            {
                "remote->local" => HtlcDirection.Received,
                "local->remote" => HtlcDirection.Offered,
                var other => throw new InvalidOperationException($"Unknown direction {other}"),
            };
            return (new CommitmentHtlc(
                h.GetProperty("id").GetUInt64(),
                direction,
                new MilliSatoshi(h.GetProperty("amount_msat").GetUInt64()),
                preimage.Hash,
                h.GetProperty("expiry").GetUInt32()), preimage);
        }).ToList();
    }

    /// <summary>
    /// The HTLCs of a case: Appendix C says HTLCs 0-4 are used except in the first test (none) and the "same amount and
    /// preimage" test (HTLCs 1, 5 and 6). The choice is cross-checked against the balances, which exclude in-flight HTLCs.
    /// </summary>
    public IReadOnlyList<CommitmentHtlc> HtlcsFor(string caseName, bool useHtlcs, MilliSatoshi toLocal, MilliSatoshi toRemote)
    {
        int[] ids = !useHtlcs ? [] : caseName.Contains("same amount and preimage", StringComparison.Ordinal) ? [1, 5, 6] : [0, 1, 2, 3, 4];
        var htlcs = ids.Select(i => Htlcs[i].Htlc).ToList();
        var inFlight = htlcs.Aggregate(MilliSatoshi.Zero, (s, h) => s + h.Amount);
        Assert.Equal(MilliSatoshi.FromSatoshis((ulong)FundingAmount.Satoshi), toLocal + toRemote + inFlight);
        return htlcs;
    }

    public PaymentPreimage PreimageOf(CommitmentHtlc htlc) => Htlcs.Single(h => h.Htlc.Id == htlc.Id).Preimage;

    public CommitmentParameters Parameters(CommitmentFormat format, uint feeratePerKw, long dustLimit) => new(
        format,
        FundingOutPoint,
        FundingAmount,
        Common.GetProperty("commitment_number").GetUInt64(),
        ObscuringFactor,
        (ushort)Common.GetProperty("local_delay").GetUInt32(),
        Money.Satoshis(dustLimit),
        feeratePerKw,
        LocalIsFunder: true);

    public static string Str(JsonElement e, string name) => e.GetProperty(name).GetString()!;

    /// <summary>The spec prints private keys with a trailing 01 (compressed marker); the first 32 bytes are the key.</summary>
    public static Key PrivKey(JsonElement e, string name) => new(Convert.FromHexString(Str(e, name))[..32]);
}
