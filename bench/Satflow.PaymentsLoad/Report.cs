using System.Text;

namespace Satflow.PaymentsLoad;

/// <summary>Renders the results as plain-text tables.</summary>
internal static class Report
{
    public static string Render(LoadOptions options, Calibration calibration, IReadOnlyList<LevelResult> results, string loadAverage)
    {
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine($"Payments: {options.Payments} per level of {options.AmountSat} sat, store {options.Store.ToString().ToLowerInvariant()}, {(options.FlushMs == 0 ? "AutoFlush" : $"flush every {options.FlushMs} ms")}, {Environment.ProcessorCount} cores, load average at the end {loadAverage}");
        Table(
            text,
            ["in flight", "ok", "failed", "seconds", "payments/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "invoice p50 ms", "balances"],
            results.Select(r => new[]
            {
                r.Concurrency.ToString(), r.Succeeded.ToString(), r.Failed.ToString(), F(r.Seconds, 2), F(r.PaymentsPerSecond, 1),
                F(r.PayLatencyMs.P50, 1), F(r.PayLatencyMs.P90, 1), F(r.PayLatencyMs.P99, 1), F(r.PayLatencyMs.Max, 1),
                F(r.InvoiceLatencyMs.P50, 1), r.BalancesVerified ? "exact" : "WRONG",
            }));

        text.AppendLine();
        text.AppendLine($"Where the time goes, per succeeded payment (both nodes; secp256k1 on one thread here: sign {calibration.SignUs:0} µs, verify {calibration.VerifyUs:0} µs, ECDH {calibration.EcdhUs:0} µs):");
        Table(
            text,
            ["in flight", "CPU ms", "alloc KB", "store commits", "ms/commit", "store ms", "KB/commit", "commit_sig", "HTLC sigs", "est. ECDSA ms", "msgs sent", "handler ms"],
            results.Select(r =>
            {
                var n = Math.Max(1, r.Succeeded);
                var batches = r.Payer.StoreBatches.Count + r.Payee.StoreBatches.Count;
                var storeMs = r.Payer.StoreBatches.Milliseconds + r.Payee.StoreBatches.Milliseconds + r.Payer.StoreOther.Milliseconds + r.Payee.StoreOther.Milliseconds;
                var batchBytes = r.Payer.StoreBatches.Bytes + r.Payee.StoreBatches.Bytes;
                var commitSigs = Count(r.Payer, "CommitmentSigned") + Count(r.Payee, "CommitmentSigned");
                var htlcSigs = r.Payer.HtlcSignaturesSent.Count + r.Payee.HtlcSignaturesSent.Count;
                var ecdsaMs = (commitSigs + htlcSigs) * (calibration.SignUs + calibration.VerifyUs) / 1000.0;
                var sent = r.Payer.SentByType.Values.Sum() + r.Payee.SentByType.Values.Sum();
                var handled = r.Payer.Handled.Milliseconds + r.Payee.Handled.Milliseconds;
                return new[]
                {
                    r.Concurrency.ToString(), F(r.CpuMsPerPayment, 2), F(r.AllocatedKbPerPayment, 0), F((double)batches / n, 2),
                    F(batches == 0 ? 0 : (r.Payer.StoreBatches.Milliseconds + r.Payee.StoreBatches.Milliseconds) / batches, 3), F(storeMs / n, 2),
                    F(batches == 0 ? 0 : batchBytes / 1024.0 / batches, 1), F((double)commitSigs / n, 2), F((double)htlcSigs / n, 2),
                    F(ecdsaMs / n, 2), F((double)sent / n, 2), F(handled / n, 2),
                };
            }));
        text.AppendLine();
        text.AppendLine("Bytes committed per payment by record kind (both nodes), and each kind's latest record size:");
        var kinds = results.SelectMany(r => r.Payer.BatchBytesByNamespace.Keys.Concat(r.Payee.BatchBytesByNamespace.Keys)).Distinct().Order(StringComparer.Ordinal).ToList();
        Table(
            text,
            ["in flight", .. kinds.Select(k => k + " KB")],
            results.Select(r => (string[])[r.Concurrency.ToString(), .. kinds.Select(k => F((r.Payer.BatchBytesByNamespace.GetValueOrDefault(k) + r.Payee.BatchBytesByNamespace.GetValueOrDefault(k)) / 1024.0 / Math.Max(1, r.Succeeded), 1))]));
        var removed = results.SelectMany(r => r.Payer.BatchRemovesByNamespace.Keys.Concat(r.Payee.BatchRemovesByNamespace.Keys)).Distinct().Order(StringComparer.Ordinal).ToList();
        text.AppendLine("Remove operations per payment by record kind (both nodes; a settled HTLC needs one in 'received' and one in 'htlcs'):");
        Table(
            text,
            ["in flight", .. removed.Select(k => k + " removes")],
            results.Select(r => (string[])[r.Concurrency.ToString(), .. removed.Select(k => F((double)(r.Payer.BatchRemovesByNamespace.GetValueOrDefault(k) + r.Payee.BatchRemovesByNamespace.GetValueOrDefault(k)) / Math.Max(1, r.Succeeded), 2))]));
        if (results.Count > 0)
        {
            var last = results[^1];
            text.AppendLine("Latest record sizes, payer / payee: " + string.Join(", ", kinds.Select(k => $"{k} {last.Payer.LastValueSizeByNamespace.GetValueOrDefault(k) / 1024.0:0.0} / {last.Payee.LastValueSizeByNamespace.GetValueOrDefault(k) / 1024.0:0.0} KB")));
        }
        text.AppendLine();
        text.AppendLine("CPU ms: process CPU time (all threads) per payment. store ms: time inside the store (commits fsync the SQLite WAL).");
        text.AppendLine("est. ECDSA ms: (commitment + HTLC signatures sent) x (one sign + one verify) at the calibrated cost.");
        text.AppendLine("handler ms: time the nodes spent on incoming messages, lock waits included.");
        return text.ToString();
    }

    private static long Count(NodeProbeSnapshot snapshot, string type) => snapshot.SentByType.GetValueOrDefault(type);

    private static string F(double value, int decimals) => value.ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture);

    private static void Table(StringBuilder text, string[] headers, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        text.AppendLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadLeft(widths[i]))) + " |");
        text.AppendLine("|" + string.Join("|", widths.Select(w => new string('-', w + 1) + ":")) + "|");
        foreach (var row in all)
        {
            text.AppendLine("| " + string.Join(" | ", row.Select((c, i) => c.PadLeft(widths[i]))) + " |");
        }
    }
}
