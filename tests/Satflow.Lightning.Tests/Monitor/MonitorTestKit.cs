using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>
/// A channel between A (the monitored side, funder) and B (the peer), built from real keys, with a standard history:
/// A's commitment 1 and B's commitment 1 carry two HTLCs: <see cref="Offered"/> (A to B, expiry 500) and
/// <see cref="Received"/> (B to A, expiry 520); B's commitment 0 is revoked.
/// </summary>
internal sealed class TwoParties
{
    public const uint OfferedExpiry = 500;
    public const uint ReceivedExpiry = 520;
    public const ushort DelayOfA = 15;
    public const ushort DelayOfB = 25;
    public const uint Feerate = 2500;

    public static readonly byte[] SeedA = Enumerable.Repeat((byte)0x11, 32).ToArray();
    public static readonly byte[] SeedB = Enumerable.Repeat((byte)0x22, 32).ToArray();
    public static readonly PaymentPreimage PreimageOffered = PaymentPreimage.FromBytes(Enumerable.Repeat((byte)0xA1, 32).ToArray());
    public static readonly PaymentPreimage PreimageReceived = PaymentPreimage.FromBytes(Enumerable.Repeat((byte)0xB2, 32).ToArray());
    public static readonly Script Destination = new Key(Enumerable.Repeat((byte)0x55, 32).ToArray()).PubKey.WitHash.ScriptPubKey;

    public TwoParties(CommitmentFormat format)
    {
        Format = format;
        A = LocalChannelKeys.Derive(SeedA, 7);
        B = LocalChannelKeys.Derive(SeedB, 3);
        var funding = new OutPoint(new uint256(SHA256.HashData("funding"u8)), 1);
        ParamsA = new ChannelStaticParameters(format, funding, Capacity, true, A.Basepoints, B.Basepoints, DelayOfA, DelayOfB, Money.Satoshis(546), Money.Satoshis(354));
        ParamsB = new ChannelStaticParameters(format, funding, Capacity, false, B.Basepoints, A.Basepoints, DelayOfB, DelayOfA, Money.Satoshis(354), Money.Satoshis(546));
    }

    public static Money Capacity { get; } = Money.Satoshis(1_000_000);

    public CommitmentFormat Format { get; }

    public LocalChannelKeys A { get; }

    public LocalChannelKeys B { get; }

    public ChannelStaticParameters ParamsA { get; }

    public ChannelStaticParameters ParamsB { get; }

    /// <summary>A's offered HTLC, A's view.</summary>
    public static CommitmentHtlc Offered { get; } = new(0, HtlcDirection.Offered, MilliSatoshi.FromSatoshis(50_000), PreimageOffered.Hash, OfferedExpiry);

    /// <summary>A's received HTLC, A's view.</summary>
    public static CommitmentHtlc Received { get; } = new(0, HtlcDirection.Received, MilliSatoshi.FromSatoshis(60_000), PreimageReceived.Hash, ReceivedExpiry);

    public static IReadOnlyList<CommitmentHtlc> HtlcsOfA { get; } = [Offered, Received];

    public static IReadOnlyList<CommitmentHtlc> HtlcsOfB { get; } = [Flip(Offered), Flip(Received)];

    public static CommitmentHtlc Flip(CommitmentHtlc h) => h with { Direction = h.Direction == HtlcDirection.Offered ? HtlcDirection.Received : HtlcDirection.Offered };

    public static MilliSatoshi Sat(ulong satoshis) => MilliSatoshi.FromSatoshis(satoshis);

    /// <summary>Balances (A, B) of commitment number n: with both HTLCs from number 1 to 9, settled from 10 on.</summary>
    public static (MilliSatoshi A, MilliSatoshi B, IReadOnlyList<CommitmentHtlc> HtlcsA, IReadOnlyList<CommitmentHtlc> HtlcsB) State(ulong n) => n switch
    {
        0 => (Sat(700_000), Sat(300_000), [], []),
        1 => (Sat(590_000), Sat(300_000), HtlcsOfA, HtlcsOfB),
        < 10 => (Sat(580_000), Sat(310_000), HtlcsOfA, HtlcsOfB),
        _ => (Sat(650_000), Sat(350_000), [], []),
    };

    public CommitmentTransaction CommitmentOfA(ulong n)
    {
        var s = State(n);
        return ParamsA.BuildLocalCommitment(n, A.PerCommitmentPoint(n), Feerate, s.A, s.B, s.HtlcsA);
    }

    public CommitmentTransaction CommitmentOfB(ulong n)
    {
        var s = State(n);
        return ParamsB.BuildLocalCommitment(n, B.PerCommitmentPoint(n), Feerate, s.B, s.A, s.HtlcsB);
    }

    public LocalCommitmentUpdate LocalUpdate(ulong id, ulong n)
    {
        var s = State(n);
        var ct = CommitmentOfA(n);
        var bHtlcKey = KeyDerivation.DerivePrivateKey(B.HtlcBasepointSecret, A.PerCommitmentPoint(n));
        var htlcSignatures = HtlcTransactionBuilder.BuildAll(ct).Select(h => Bolt3Signing.SignHtlc(h, bHtlcKey, false)).ToList();
        return new LocalCommitmentUpdate(id, n, Feerate, s.A, s.B, s.HtlcsA, Bolt3Signing.SignCommitment(ct, B.FundingKey), htlcSignatures);
    }

    public RemoteCommitmentUpdate RemoteUpdate(ulong id, ulong n)
    {
        var s = State(n);
        return new RemoteCommitmentUpdate(id, n, B.PerCommitmentPoint(n), Feerate, s.B, s.A, s.HtlcsB);
    }

    public RemoteRevocationUpdate Revocation(ulong id, ulong n) => new(id, n, B.PerCommitmentSecret(n));

    /// <summary>B's commitment n, signed by both: what B broadcasts.</summary>
    public Transaction SignedCommitmentOfB(ulong n)
    {
        var ct = CommitmentOfB(n);
        return Bolt3Signing.FinalizeCommitment(ct, Bolt3Signing.SignCommitment(ct, B.FundingKey), Bolt3Signing.SignCommitment(ct, A.FundingKey));
    }

    /// <summary>B's HTLC-success (for an HTLC B received) or HTLC-timeout on its own commitment n.</summary>
    public Transaction SecondStageOfB(ulong n, CommitmentHtlc htlcOfB, PaymentPreimage? preimage)
    {
        var ct = CommitmentOfB(n);
        var output = ct.HtlcOutputs.Single(o => o.Htlc == htlcOfB);
        var htlcTx = HtlcTransactionBuilder.Build(ct, output);
        var point = B.PerCommitmentPoint(n);
        var aSig = Bolt3Signing.SignHtlc(htlcTx, KeyDerivation.DerivePrivateKey(A.HtlcBasepointSecret, point), false);
        var bSig = Bolt3Signing.SignHtlc(htlcTx, KeyDerivation.DerivePrivateKey(B.HtlcBasepointSecret, point), true);
        return Bolt3Signing.FinalizeHtlc(htlcTx, aSig, bSig, preimage);
    }

    /// <summary>A monitor of A that went through the standard history (update ids 1..5).</summary>
    public ChannelMonitor StandardMonitor(IClaimFeeWallet? wallet)
    {
        var monitor = new ChannelMonitor(ParamsA, A, Destination, wallet);
        monitor.ApplyUpdate(LocalUpdate(1, 0));
        monitor.ApplyUpdate(RemoteUpdate(2, 0));
        monitor.ApplyUpdate(RemoteUpdate(3, 1));
        monitor.ApplyUpdate(Revocation(4, 0));
        monitor.ApplyUpdate(LocalUpdate(5, 1));
        return monitor;
    }
}

/// <summary>A wallet lending P2WPKH coins for fees, never one the chain saw spent.</summary>
internal sealed class FakeWallet : IClaimFeeWallet
{
    private readonly TestChain _chain;
    private readonly List<(OutPoint OutPoint, TxOut Out, Key Key)> _coins = [];

    public FakeWallet(TestChain chain, int coins = 8)
    {
        _chain = chain;
        for (var i = 0; i < coins; i++)
        {
            var key = new Key(SHA256.HashData([0x77, (byte)i]));
            var op = new OutPoint(new uint256(SHA256.HashData([0x78, (byte)i])), 0);
            var txOut = new TxOut(Money.Satoshis(200_000), key.PubKey.WitHash.ScriptPubKey);
            _coins.Add((op, txOut, key));
            chain.AddWalletCoin(op, txOut);
        }
    }

    /// <summary>The change script: the monitors' destination, as a node sweeping into its own wallet may use.</summary>
    public Script ChangeScript { get; } = TwoParties.Destination;

    public int Calls { get; private set; }

    public ClaimFeeInput? GetFeeInput(Money minimumAmount, IReadOnlyCollection<OutPoint> exclude)
    {
        Calls++;
        foreach (var (op, txOut, key) in _coins)
        {
            if (!exclude.Contains(op) && !_chain.IsSpent(op) && txOut.Value >= minimumAmount)
            {
                return new ClaimFeeInput(SweepInput.P2wpkh(op, txOut.Value, key.PubKey, h => key.Sign(h, useLowR: false)), ChangeScript);
            }
        }
        return null;
    }
}

/// <summary>
/// A chain driving a monitor block by block. It checks every broadcast: scripts valid against the real spent outputs,
/// nLockTime reached and relative locks satisfied for inclusion in the next block, and no double spend when mined.
/// </summary>
internal sealed class TestChain
{
    private readonly Dictionary<uint256, (Transaction Tx, uint Height)> _confirmed = [];
    private readonly Dictionary<OutPoint, TxOut> _walletCoins = [];
    private readonly Dictionary<OutPoint, uint256> _spent = [];
    private string _fork = "main";

    public TestChain(uint height, TxOut fundingOutput, OutPoint funding)
    {
        Height = height;
        _walletCoins[funding] = fundingOutput;
    }

    public uint Height { get; private set; }

    public List<MonitorEvent> Events { get; } = [];

    public void AddWalletCoin(OutPoint op, TxOut txOut) => _walletCoins[op] = txOut;

    public bool IsSpent(OutPoint op) => _spent.ContainsKey(op);

    public bool IsConfirmed(uint256 txId) => _confirmed.ContainsKey(txId);

    public static uint256 HashOf(uint height, string fork) => new(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes($"{fork}:{height}")));

    /// <summary>Mines the next block with <paramref name="txs"/> and feeds it to the monitors; checks and returns the output.</summary>
    public MonitorOutput Mine(Func<uint, uint256, IReadOnlyList<Transaction>, MonitorOutput> connect, params Transaction[] txs)
    {
        Height++;
        foreach (var tx in txs)
        {
            var id = tx.GetHash();
            foreach (var input in tx.Inputs)
            {
                Assert.False(_spent.ContainsKey(input.PrevOut), $"double spend of {input.PrevOut}");
                _spent[input.PrevOut] = id;
            }
            _confirmed[id] = (tx, Height);
        }
        var output = connect(Height, HashOf(Height, _fork), txs);
        Check(output);
        Events.AddRange(output.Events);
        return output;
    }

    public MonitorOutput Mine(ChannelMonitor monitor, params Transaction[] txs) =>
        Mine((h, hash, t) => monitor.BlockConnected(h, hash, t, TwoParties.Feerate), txs);

    /// <summary>Disconnects the tip block; later blocks are mined on a new fork.</summary>
    public MonitorOutput Disconnect(Func<uint, uint256, MonitorOutput> disconnect)
    {
        var height = Height;
        var hash = HashOf(height, _fork);
        foreach (var (id, (tx, h)) in _confirmed.Where(c => c.Value.Height == height).ToList())
        {
            _confirmed.Remove(id);
            foreach (var input in tx.Inputs)
            {
                _spent.Remove(input.PrevOut);
            }
        }
        Height--;
        _fork += "'";
        var output = disconnect(height, hash);
        Check(output);
        Events.AddRange(output.Events);
        return output;
    }

    /// <summary>Each broadcast: every input validates against its real spent output and the transaction can be mined in the next block.</summary>
    public void Check(MonitorOutput output)
    {
        var pending = output.Broadcasts.ToDictionary(b => b.Transaction.GetHash(), b => b.Transaction);
        foreach (var b in output.Broadcasts)
        {
            var tx = b.Transaction;
            Assert.Equal(tx.Inputs.Count, b.SpentOutputs.Count);
            for (var i = 0; i < tx.Inputs.Count; i++)
            {
                var prev = tx.Inputs[i].PrevOut;
                uint prevHeight;
                TxOut real;
                if (_confirmed.TryGetValue(prev.Hash, out var parent))
                {
                    real = parent.Tx.Outputs[(int)prev.N];
                    prevHeight = parent.Height;
                }
                else if (_walletCoins.TryGetValue(prev, out var coin))
                {
                    real = coin;
                    prevHeight = 0;
                }
                else
                {
                    Assert.True(pending.TryGetValue(prev.Hash, out var unconfirmed), $"{b.Purpose} spends unknown {prev}");
                    real = unconfirmed!.Outputs[(int)prev.N];
                    prevHeight = Height + 1;
                }
                Assert.Equal(real.ToBytes(), b.SpentOutputs[i].ToBytes());
                var seq = tx.Inputs[i].Sequence.Value;
                if ((seq & 0x8000_0000u) == 0)
                {
                    Assert.True(Height + 1 >= prevHeight + (seq & 0xFFFF), $"{b.Purpose} input {i}: relative lock {seq & 0xFFFF} not reached at {Height} (prev at {prevHeight})");
                }
                var result = tx.CreateValidator(b.SpentOutputs.ToArray()).ValidateInput(i);
                Assert.True(result.Error is null, $"{b.Purpose} input {i}: {result.Error}");
            }
            // Commitments carry the obscured commitment number as a (1985-era) timestamp locktime; heights must be reached.
            Assert.True(tx.LockTime.Value >= 500_000_000 || tx.LockTime.Value <= Height, $"{b.Purpose}: locktime {tx.LockTime.Value} not reached at {Height}");
            if (b.Purpose != ClaimPurpose.LocalCommitment)
            {
                var fee = b.SpentOutputs.Select(o => o.Value).Sum() - tx.Outputs.Select(o => o.Value).Sum();
                var weight = (tx.GetSerializedSize(TransactionOptions.None) * 3) + tx.GetSerializedSize(TransactionOptions.All);
                // Every claim pays at least the relay floor (zero-fee anchors HTLC transactions get theirs from the wallet coin).
                Assert.True(fee.Satoshi * 1000 >= (long)ChannelMonitor.MinimumFeeratePerKw * weight, $"{b.Purpose} pays {fee} for weight {weight}");
            }
        }
    }
}
