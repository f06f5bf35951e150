using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Server.Payments;

namespace Satflow.Server.Tests;

/// <summary>A Lightning invoice source that signs real regtest BOLT 11 invoices with a fixed key (no node).</summary>
public class FakeLightningSource : ILightningInvoiceSource
{
    private static readonly Key NodeKey = new(Convert.FromHexString(new string('4', 64)));

    public bool IsAvailable => true;

    public string? UnavailableReason => null;

    public int Created { get; private set; }

    public Task<LightningInvoice> CreateInvoiceAsync(MilliSatoshi amount, DateTimeOffset expiresAt, string description, CancellationToken cancellationToken = default)
        => Task.FromResult(Build(amount, expiresAt, b => b.Description(description)));

    protected LightningInvoice Build(MilliSatoshi amount, DateTimeOffset expiresAt, Func<Bolt11InvoiceBuilder, Bolt11InvoiceBuilder> describe)
    {
        Created++;
        var preimage = new PaymentPreimage(new Bytes32(RandomNumberGenerator.GetBytes(32)));
        var now = DateTimeOffset.UtcNow;
        var builder = new Bolt11InvoiceBuilder(Bolt11Network.Regtest, (ulong)now.ToUnixTimeSeconds())
            .Amount(amount).PaymentHash(preimage.Hash).PaymentSecret(new PaymentSecret(new Bytes32(RandomNumberGenerator.GetBytes(32))))
            .Expiry((ulong)Math.Max(1, (expiresAt - now).TotalSeconds));
        var invoice = describe(builder).Sign(NodeKey);
        return new LightningInvoice(invoice.Encoded, preimage.Hash);
    }
}

/// <summary>The fake source that can also commit to a description hash (what LNURL-pay wants).</summary>
public sealed class FakeHashingLightningSource : FakeLightningSource, ILightningDescriptionHashInvoiceSource
{
    public Task<LightningInvoice> CreateInvoiceWithDescriptionHashAsync(MilliSatoshi amount, DateTimeOffset expiresAt, Bytes32 descriptionHash, CancellationToken cancellationToken = default)
        => Task.FromResult(Build(amount, expiresAt, b => b.DescriptionHash(descriptionHash)));
}
