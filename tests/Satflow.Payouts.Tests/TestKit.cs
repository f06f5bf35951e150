using System.Collections.Concurrent;
using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Payouts.Tests;

/// <summary>Regtest invoices and addresses for tests.</summary>
public static class Kit
{
    public static readonly Network Network = Network.RegTest;
    public static readonly Key NodeKey = new();
    public static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1764124800);

    /// <summary>Preimages of every invoice made here, by payment hash (the fake node "knows" them).</summary>
    public static ConcurrentDictionary<PaymentHash, PaymentPreimage> Preimages { get; } = new();

    public static string Invoice(MilliSatoshi? amount = null, DateTimeOffset? created = null, ulong expirySeconds = 86_400, Bytes32? descriptionHash = null, Bolt11Network network = Bolt11Network.Regtest)
    {
        var preimage = new PaymentPreimage(new Bytes32(RandomNumberGenerator.GetBytes(32)));
        Preimages[preimage.Hash] = preimage;
        var builder = new Bolt11InvoiceBuilder(network, (ulong)(created ?? Start).ToUnixTimeSeconds());
        if (amount is { } a)
        {
            builder.Amount(a);
        }

        builder.PaymentHash(preimage.Hash).PaymentSecret(new PaymentSecret(new Bytes32(RandomNumberGenerator.GetBytes(32))));
        if (descriptionHash is { } h)
        {
            builder.DescriptionHash(h);
        }
        else
        {
            builder.Description("payout test");
        }

        builder.Expiry(expirySeconds);
        return builder.Sign(NodeKey).Encoded;
    }

    public static string Address() => new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network).ToString();

    public static string TaprootAddress() => new Key().PubKey.GetAddress(ScriptPubKeyType.TaprootBIP86, Network).ToString();
}

/// <summary>Thrown by the crash harness: the "process" died here.</summary>
public sealed class SimulatedCrashException(string where) : Exception("simulated crash " + where);

/// <summary>
/// Counts steps across restarts and kills the process at chosen steps: the step throws, and every later call of
/// the dead process throws too, until <see cref="Restart"/>.
/// </summary>
public sealed class CrashPlan(IEnumerable<int> crashAt, string? crashAtFirst = null)
{
    private readonly HashSet<int> _crashAt = [.. crashAt];
    private string? _crashAtFirst = crashAtFirst;

    /// <summary>Crashes the first time a step whose name starts with <paramref name="where"/> runs.</summary>
    public static CrashPlan AtFirst(string where) => new([], where);

    public int Steps { get; private set; }

    public bool Dead { get; private set; }

    public List<string> Crashes { get; } = [];

    public void Step(string where)
    {
        if (Dead)
        {
            throw new SimulatedCrashException("(dead) " + where);
        }

        if (_crashAt.Contains(Steps++) || (_crashAtFirst is not null && where.StartsWith(_crashAtFirst, StringComparison.Ordinal)))
        {
            _crashAtFirst = null;
            Dead = true;
            Crashes.Add(where);
            throw new SimulatedCrashException(where);
        }
    }

    public void Restart() => Dead = false;
}

/// <summary>An <see cref="IPayoutStore"/> that may crash just before or just after each commit.</summary>
public sealed class CrashingStore(IPayoutStore inner, CrashPlan plan) : IPayoutStore
{
    public Task<PullPayment?> GetPullPaymentAsync(PullPaymentId id, CancellationToken cancellationToken = default) { plan.Step("read"); return inner.GetPullPaymentAsync(id, cancellationToken); }

    public Task<IReadOnlyList<PullPayment>> ListPullPaymentsAsync(string storeId, CancellationToken cancellationToken = default) => inner.ListPullPaymentsAsync(storeId, cancellationToken);

    public Task<Payout?> GetPayoutAsync(PayoutId id, CancellationToken cancellationToken = default) => inner.GetPayoutAsync(id, cancellationToken);

    public Task<IReadOnlyList<Payout>> ListPayoutsAsync(PayoutQuery query, CancellationToken cancellationToken = default) { plan.Step("list"); return inner.ListPayoutsAsync(query, cancellationToken); }

    public Task<OnChainPayoutBatch?> GetBatchAsync(PayoutBatchId id, CancellationToken cancellationToken = default) => inner.GetBatchAsync(id, cancellationToken);

    public Task<PaymentRequest?> GetPaymentRequestAsync(PaymentRequestId id, CancellationToken cancellationToken = default) => inner.GetPaymentRequestAsync(id, cancellationToken);

    public Task<IReadOnlyList<PaymentRequest>> ListPaymentRequestsAsync(string storeId, CancellationToken cancellationToken = default) => inner.ListPaymentRequestsAsync(storeId, cancellationToken);

    public Task<ProcessorLease?> GetLeaseAsync(string name, CancellationToken cancellationToken = default) { plan.Step("read lease"); return inner.GetLeaseAsync(name, cancellationToken); }

    public async Task CommitAsync(PayoutChangeSet changes, CancellationToken cancellationToken = default)
    {
        var what = string.Join(",", changes.Payouts.Select(p => p.State)) + (changes.Batches.Count > 0 ? "+batch" : "") + (changes.Leases.Count > 0 ? "lease" : "");
        plan.Step("before commit " + what);
        await inner.CommitAsync(changes, cancellationToken);
        plan.Step("after commit " + what);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// A Lightning node with durable payment records: every payment it makes is counted (no de-duplication, so a
/// processor that pays twice is caught). Hashes in <see cref="FailingHashes"/> fail for good.
/// </summary>
public sealed class FakeLightningNode : ILightningPayoutSender
{
    private readonly ConcurrentDictionary<PaymentHash, LightningPaymentStatus> _records = new();

    public ConcurrentDictionary<PaymentHash, int> TimesPaid { get; } = new();

    public HashSet<PaymentHash> FailingHashes { get; } = [];

    public HashSet<PaymentHash> PendingHashes { get; } = [];

    public int PayCalls { get; private set; }

    public int StatusCalls { get; private set; }

    public Task<LightningPaymentStatus> PayAsync(LightningPayoutRequest request, CancellationToken cancellationToken)
    {
        PayCalls++;
        var invoice = Bolt11Invoice.Decode(request.Invoice);
        Assert.Equal(invoice.PaymentHash, request.PaymentHash);
        Assert.True(invoice.Amount is null || invoice.Amount == request.Amount);
        if (FailingHashes.Contains(request.PaymentHash))
        {
            return Task.FromResult(_records[request.PaymentHash] = new LightningPaymentStatus(LightningPaymentState.Failed, FailureReason: "no route"));
        }

        TimesPaid.AddOrUpdate(request.PaymentHash, 1, (_, n) => n + 1);
        var status = PendingHashes.Contains(request.PaymentHash)
            ? new LightningPaymentStatus(LightningPaymentState.Pending)
            : new LightningPaymentStatus(LightningPaymentState.Succeeded, Kit.Preimages[request.PaymentHash], new MilliSatoshi(1000));
        _records[request.PaymentHash] = status;
        return Task.FromResult(status);
    }

    public Task<LightningPaymentStatus> GetStatusAsync(PaymentHash paymentHash, CancellationToken cancellationToken)
    {
        StatusCalls++;
        return Task.FromResult(_records.TryGetValue(paymentHash, out var s) ? s : new LightningPaymentStatus(LightningPaymentState.Unknown));
    }

    /// <summary>Resolves every pending payment as succeeded.</summary>
    public void SettleAllPending()
    {
        foreach (var (hash, status) in _records)
        {
            if (status.State == LightningPaymentState.Pending)
            {
                Settle(hash);
            }
        }
    }

    /// <summary>Resolves a pending payment as succeeded.</summary>
    public void Settle(PaymentHash hash) => _records[hash] = new LightningPaymentStatus(LightningPaymentState.Succeeded, Kit.Preimages[hash]);
}

/// <summary>
/// A wallet: builds real (unsigned-input) regtest transactions with a fresh input each, records which were
/// broadcast, and counts, per address, how many distinct broadcast transactions paid it.
/// </summary>
public sealed class FakeWallet : IOnChainPayoutSender
{
    private readonly ConcurrentDictionary<uint256, Transaction> _broadcast = new();

    public int Confirmations { get; set; } = 1;

    public HashSet<uint256> Conflicted { get; } = [];

    public int CreateCalls { get; private set; }

    public int BroadcastCalls { get; private set; }

    public Func<IReadOnlyList<OnChainPayoutOutput>, Transaction>? Builder { get; set; }

    public List<Transaction> Created { get; } = [];

    public Task<Transaction> CreateTransactionAsync(PayoutBatchId batchId, IReadOnlyList<OnChainPayoutOutput> outputs, CancellationToken cancellationToken)
    {
        CreateCalls++;
        var tx = Builder?.Invoke(outputs) ?? Build(outputs);
        Created.Add(tx);
        return Task.FromResult(tx);
    }

    public static Transaction Build(IReadOnlyList<OnChainPayoutOutput> outputs)
    {
        var tx = Kit.Network.CreateTransaction();
        tx.Inputs.Add(new TxIn(new OutPoint(new uint256(RandomNumberGenerator.GetBytes(32)), 0)));
        foreach (var o in outputs)
        {
            tx.Outputs.Add(o.Amount, o.Address);
        }

        tx.Outputs.Add(Money.Coins(0.1m), new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Kit.Network));
        return tx;
    }

    public Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        BroadcastCalls++;
        _broadcast.TryAdd(transaction.GetHash(), transaction);
        return Task.CompletedTask;
    }

    public Task<OnChainTransactionStatus> GetStatusAsync(uint256 txId, CancellationToken cancellationToken) =>
        Task.FromResult(
            Conflicted.Contains(txId) ? new OnChainTransactionStatus(OnChainTransactionState.Conflicted)
            : !_broadcast.ContainsKey(txId) ? new OnChainTransactionStatus(OnChainTransactionState.Unknown)
            : Confirmations == 0 ? new OnChainTransactionStatus(OnChainTransactionState.InMempool)
            : new OnChainTransactionStatus(OnChainTransactionState.Confirmed, Confirmations));

    /// <summary>How many distinct broadcast (and not conflicted) transactions pay <paramref name="address"/>.</summary>
    public int TimesPaid(string address)
    {
        var script = BitcoinAddress.Create(address, Kit.Network).ScriptPubKey;
        return _broadcast.Values.Where(t => !Conflicted.Contains(t.GetHash())).Sum(t => t.Outputs.Count(o => o.ScriptPubKey == script));
    }
}

/// <summary>Wraps a sender so that it may crash just before or just after each call.</summary>
public sealed class CrashingLightning(ILightningPayoutSender inner, CrashPlan plan) : ILightningPayoutSender
{
    public async Task<LightningPaymentStatus> PayAsync(LightningPayoutRequest request, CancellationToken cancellationToken)
    {
        plan.Step("before pay");
        var s = await inner.PayAsync(request, cancellationToken);
        plan.Step("after pay");
        return s;
    }

    public async Task<LightningPaymentStatus> GetStatusAsync(PaymentHash paymentHash, CancellationToken cancellationToken)
    {
        plan.Step("before status");
        var s = await inner.GetStatusAsync(paymentHash, cancellationToken);
        plan.Step("after status");
        return s;
    }
}

/// <summary>Wraps a wallet so that it may crash just before or just after each call.</summary>
public sealed class CrashingWallet(IOnChainPayoutSender inner, CrashPlan plan) : IOnChainPayoutSender
{
    public async Task<Transaction> CreateTransactionAsync(PayoutBatchId batchId, IReadOnlyList<OnChainPayoutOutput> outputs, CancellationToken cancellationToken)
    {
        plan.Step("before create");
        var tx = await inner.CreateTransactionAsync(batchId, outputs, cancellationToken);
        plan.Step("after create");
        return tx;
    }

    public async Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        plan.Step("before broadcast");
        await inner.BroadcastAsync(transaction, cancellationToken);
        plan.Step("after broadcast");
    }

    public async Task<OnChainTransactionStatus> GetStatusAsync(uint256 txId, CancellationToken cancellationToken)
    {
        plan.Step("before tx status");
        var s = await inner.GetStatusAsync(txId, cancellationToken);
        plan.Step("after tx status");
        return s;
    }
}

/// <summary>A temporary directory for SQLite files, deleted at the end.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "satflow-po-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDirectory() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
