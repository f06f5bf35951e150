using CsCheck;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Payments.Tests;

public sealed class RecordCorruptionTests
{
    private static readonly InvoiceRecord ValidInvoice = CreateSettledInvoice();

    private static readonly OutgoingPaymentRecord ValidPayment = new()
    {
        PaymentHash = TestEnv.PreimageOf(3).Hash,
        Amount = new MilliSatoshi(1234),
        Destination = TestEnv.NodeIdOf(0x33),
        Bolt11 = "lnbcrt12340n1example",
        State = OutgoingPaymentState.Succeeded,
        Attempts = 2,
        StartedAt = TestEnv.Start,
        CompletedAt = TestEnv.Start.AddSeconds(5),
        Preimage = TestEnv.PreimageOf(3),
        Fee = new MilliSatoshi(1),
    };

    private static InvoiceRecord CreateSettledInvoice()
    {
        var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = service.CreateAsync(new InvoiceRequest { Amount = new MilliSatoshi(5000), Description = "vector" }).GetAwaiter().GetResult();
        return service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(6000)).GetAwaiter().GetResult();
    }

    private static bool DecodesOrTypedError(Func<object> decode)
    {
        try
        {
            decode();
            return true;
        }
        catch (PaymentRecordCorruptException e)
        {
            return e.Reason == PaymentsErrorReason.CorruptRecord;
        }
    }

    [Fact]
    public void ValidRecords_RoundTrip()
    {
        Assert.Equal(ValidInvoice, InvoiceRecord.Decode(ValidInvoice.Encode()));
        Assert.Equal(ValidPayment, OutgoingPaymentRecord.Decode(ValidPayment.Encode()));
        var failed = ValidPayment with
        {
            State = OutgoingPaymentState.Failed,
            Preimage = null,
            Fee = null,
            Bolt11 = null,
            FailureReason = PaymentFailureReason.RecipientRejected,
            FailureMessage = "incorrect_or_unknown_payment_details",
        };
        Assert.Equal(failed, OutgoingPaymentRecord.Decode(failed.Encode()));
        Assert.Equal(InvoiceRecord.CurrentVersion, ValidInvoice.Encode()[0]);
    }

    [Fact]
    public void RandomBytes_OnlyEverRaiseTheTypedError()
    {
        Gen.Byte.Array[0, 600].Sample(bytes =>
            DecodesOrTypedError(() => InvoiceRecord.Decode(bytes)) && DecodesOrTypedError(() => OutgoingPaymentRecord.Decode(bytes)));
    }

    [Fact]
    public void RandomBytesAfterTheVersionByte_OnlyEverRaiseTheTypedError()
    {
        Gen.Byte.Array[0, 600].Sample(tail =>
        {
            var bytes = new byte[tail.Length + 1];
            bytes[0] = 1;
            tail.CopyTo(bytes, 1);
            return DecodesOrTypedError(() => InvoiceRecord.Decode(bytes)) && DecodesOrTypedError(() => OutgoingPaymentRecord.Decode(bytes));
        });
    }

    [Fact]
    public void MutatedValidRecords_DecodeCanonicallyOrRaiseTheTypedError()
    {
        var invoice = ValidInvoice.Encode();
        var payment = ValidPayment.Encode();
        Gen.Select(Gen.Int[0, 10_000], Gen.Byte[1, 255], Gen.Int[0, 2]).Sample((position, mask, kind) =>
        {
            return Check(invoice, b => InvoiceRecord.Decode(b).Encode()) && Check(payment, b => OutgoingPaymentRecord.Decode(b).Encode());

            bool Check(byte[] valid, Func<byte[], byte[]> roundTrip)
            {
                var at = position % valid.Length;
                var mutated = kind switch
                {
                    0 => Flip(valid, at, mask),
                    1 => valid[..at],
                    _ => [.. valid, mask],
                };
                try
                {
                    return roundTrip(mutated).AsSpan().SequenceEqual(mutated);
                }
                catch (PaymentRecordCorruptException)
                {
                    return true;
                }
            }
        });
    }

    private static byte[] Flip(byte[] valid, int at, byte mask)
    {
        var copy = (byte[])valid.Clone();
        copy[at] ^= mask;
        return copy;
    }

    [Fact]
    public async Task GarbageInTheStore_IsATypedErrorOnLookupAndList()
    {
        var hash = TestEnv.PreimageOf(1).Hash;
        var key = InvoiceService.KeyOf(hash);
        await Gen.Byte.Array[0, 300].SampleAsync(async bytes =>
        {
            await using var store = new InMemoryKeyValueStore();
            await store.WriteAsync(InvoiceService.PrimaryNamespace, InvoiceService.SecondaryNamespace, key, bytes);
            await store.WriteAsync(PaymentTracker.PrimaryNamespace, PaymentTracker.SecondaryNamespace, key, bytes);
            var invoices = TestEnv.Invoices(store, TestEnv.Clock());
            var tracker = new PaymentTracker(store, TestEnv.Clock());

            var e1 = await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => invoices.LookupAsync(hash));
            Assert.Equal(key, e1.Key);
            await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => invoices.ListAsync());
            await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => invoices.SettleAsync(hash, default, new MilliSatoshi(1)));
            await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => invoices.CancelAsync(hash));
            await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => tracker.LookupAsync(hash));
            await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => tracker.ListAsync());
            await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => tracker.BeginAsync(hash, new MilliSatoshi(1), TestEnv.NodeIdOf(2)));
        }, iter: 200);
    }

    [Fact]
    public async Task AnUnknownVersion_IsATypedError()
    {
        await using var store = new InMemoryKeyValueStore();
        var invoiceBytes = ValidInvoice.Encode();
        invoiceBytes[0] = 2;
        var paymentBytes = ValidPayment.Encode();
        paymentBytes[0] = 0;
        await store.WriteAsync(InvoiceService.PrimaryNamespace, InvoiceService.SecondaryNamespace, InvoiceService.KeyOf(ValidInvoice.PaymentHash), invoiceBytes);
        await store.WriteAsync(PaymentTracker.PrimaryNamespace, PaymentTracker.SecondaryNamespace, InvoiceService.KeyOf(ValidPayment.PaymentHash), paymentBytes);

        var e1 = await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => TestEnv.Invoices(store, TestEnv.Clock()).LookupAsync(ValidInvoice.PaymentHash));
        Assert.Contains("version 2", e1.Message, StringComparison.Ordinal);
        var e2 = await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => new PaymentTracker(store, TestEnv.Clock()).LookupAsync(ValidPayment.PaymentHash));
        Assert.Contains("version 0", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AValidRecordUnderAnotherHashesKey_IsATypedError()
    {
        await using var store = new InMemoryKeyValueStore();
        var otherHash = TestEnv.PreimageOf(0x99).Hash;
        await store.WriteAsync(InvoiceService.PrimaryNamespace, InvoiceService.SecondaryNamespace, InvoiceService.KeyOf(otherHash), ValidInvoice.Encode());
        await store.WriteAsync(PaymentTracker.PrimaryNamespace, PaymentTracker.SecondaryNamespace, InvoiceService.KeyOf(otherHash), ValidPayment.Encode());

        await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => TestEnv.Invoices(store, TestEnv.Clock()).LookupAsync(otherHash));
        await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => TestEnv.Invoices(store, TestEnv.Clock()).ListAsync());
        await Assert.ThrowsAsync<PaymentRecordCorruptException>(() => new PaymentTracker(store, TestEnv.Clock()).LookupAsync(otherHash));
    }

    [Fact]
    public void InconsistentFields_AreTypedErrors()
    {
        Assert.Throws<PaymentRecordCorruptException>(() => InvoiceRecord.Decode((ValidInvoice with { Preimage = TestEnv.PreimageOf(8) }).Encode()));
        Assert.Throws<PaymentRecordCorruptException>(() => InvoiceRecord.Decode((ValidInvoice with { SettledAmount = null }).Encode()));
        Assert.Throws<PaymentRecordCorruptException>(() => InvoiceRecord.Decode((ValidInvoice with { State = InvoiceState.Open }).Encode()));
        Assert.Throws<PaymentRecordCorruptException>(() => OutgoingPaymentRecord.Decode((ValidPayment with { Preimage = TestEnv.PreimageOf(8) }).Encode()));
        Assert.Throws<PaymentRecordCorruptException>(() => OutgoingPaymentRecord.Decode((ValidPayment with { Attempts = 0 }).Encode()));
        Assert.Throws<PaymentRecordCorruptException>(() => OutgoingPaymentRecord.Decode((ValidPayment with { State = OutgoingPaymentState.Pending }).Encode()));
    }
}
