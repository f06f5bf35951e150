using NBitcoin;
using Satflow.Lightning.Crypto;

namespace Satflow.Lightning.Transactions;

/// <summary>The BOLT 3 obscured commitment number carried in a commitment transaction's locktime and sequence.</summary>
public static class CommitmentNumberObscuring
{
    /// <summary>The largest 48-bit commitment number.</summary>
    public const ulong MaxCommitmentNumber = (1UL << 48) - 1;

    /// <summary>The lower 48 bits of <c>SHA256(opener payment_basepoint || accepter payment_basepoint)</c>.</summary>
    public static ulong Factor(PubKey openerPaymentBasepoint, PubKey accepterPaymentBasepoint)
    {
        ArgumentNullException.ThrowIfNull(openerPaymentBasepoint);
        ArgumentNullException.ThrowIfNull(accepterPaymentBasepoint);
        var hash = Secp256k1Helpers.Sha256(openerPaymentBasepoint.Compress().ToBytes(), accepterPaymentBasepoint.Compress().ToBytes());
        ulong factor = 0;
        for (var i = 26; i < 32; i++)
        {
            factor = (factor << 8) | hash[i];
        }
        return factor;
    }

    /// <summary>The locktime: <c>0x20</c> then the lower 24 bits of the obscured number.</summary>
    public static LockTime LockTimeOf(ulong commitmentNumber, ulong factor) =>
        new((uint)(0x20000000UL | (Obscure(commitmentNumber, factor) & 0xFFFFFF)));

    /// <summary>The input sequence: <c>0x80</c> then the upper 24 bits of the obscured number.</summary>
    public static Sequence SequenceOf(ulong commitmentNumber, ulong factor) =>
        new((uint)(0x80000000UL | ((Obscure(commitmentNumber, factor) >> 24) & 0xFFFFFF)));

    /// <summary>Recovers the commitment number from a commitment transaction's locktime and sequence.</summary>
    /// <returns><c>null</c> when the markers (<c>0x20</c>, <c>0x80</c>) are absent.</returns>
    public static ulong? Recover(LockTime lockTime, Sequence sequence, ulong factor)
    {
        var lt = lockTime.Value;
        var seq = (uint)sequence;
        if ((lt >> 24) != 0x20 || (seq >> 24) != 0x80)
        {
            return null;
        }
        var obscured = ((ulong)(seq & 0xFFFFFF) << 24) | (lt & 0xFFFFFF);
        return obscured ^ (factor & MaxCommitmentNumber);
    }

    private static ulong Obscure(ulong commitmentNumber, ulong factor)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(commitmentNumber, MaxCommitmentNumber);
        return (commitmentNumber ^ factor) & MaxCommitmentNumber;
    }
}
