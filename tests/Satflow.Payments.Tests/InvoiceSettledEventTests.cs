using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Payments.Tests;

/// <summary><see cref="InvoiceService.Settled"/>: raised once per settlement, after the record is stored, never for a refused settlement.</summary>
public sealed class InvoiceSettledEventTests
{
    [Fact]
    public async Task Settled_IsRaisedOnceAfterTheWrite_AndNotForRefusedSettlements()
    {
        await using var store = new InMemoryKeyValueStore();
        var service = TestEnv.Invoices(store, TestEnv.Clock());
        var record = await service.CreateAsync(new InvoiceRequest { Amount = new MilliSatoshi(150_000), Description = "tea" });
        var other = await service.CreateAsync(new InvoiceRequest { Amount = new MilliSatoshi(150_000), Description = "cake" });
        var raised = new List<(InvoiceRecord Record, InvoiceRecord? Stored)>();
        service.Settled += (_, r) => raised.Add((r, service.LookupAsync(r.PaymentHash).GetAwaiter().GetResult()));

        await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(other.PaymentHash, other.PaymentSecret, new MilliSatoshi(100)));
        await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(other.PaymentHash, record.PaymentSecret, new MilliSatoshi(150_000)));
        Assert.Empty(raised);

        var settled = await service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(150_000));
        await Assert.ThrowsAsync<InvoiceException>(() => service.SettleAsync(record.PaymentHash, record.PaymentSecret, new MilliSatoshi(150_000)));

        var (args, stored) = Assert.Single(raised);
        Assert.Equal(settled, args);
        Assert.Equal(InvoiceState.Settled, args.State);
        Assert.Equal(settled, stored); // the handler sees the stored record (raised after the write, outside the lock)
    }
}
