using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Server.Hosting;
using Satflow.Server.Payments;

namespace Satflow.InvoiceLoad;

/// <summary>
/// Starts satflowd in this process on 127.0.0.1:0 with a fresh SQLite data directory (or a fresh PostgreSQL schema),
/// bootstraps a user, a store and an API key, then creates invoices through <c>POST /api/v1/stores/{id}/invoices</c>
/// (unique <c>Idempotency-Key</c>s) at a given concurrency while a sampler fetches checkout pages <c>/i/{id}</c>.
/// </summary>
public static class Program
{
    private sealed record Options(int Invoices, int Concurrency, int CheckoutConcurrency, int Warmup, string? Postgres, bool Json, int Stages, string Mode);

    public static async Task<int> Main(string[] args)
    {
        Options o;
        try
        {
            o = Parse(args);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            await Console.Error.WriteLineAsync("usage: Satflow.InvoiceLoad [--invoices 20000] [--concurrency 64] [--checkout-concurrency 2] [--warmup 1000] [--postgres CONNSTR] [--json] [--stages N] [--mode standalone|sandbox]");
            return 2;
        }

        var dataDir = Path.Combine(Path.GetTempPath(), "satflow-invoiceload-" + Guid.NewGuid().ToString("N")[..10]);
        var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
        var serverArgs = new List<string>
        {
            "--urls", "http://127.0.0.1:0", "--datadir", dataDir, "--rates", "BTC_USD = 50000; BTC_EUR = 45000/46000",
            "--onchain-descriptor", account.Descriptor(KeyChain.Receive).ToString(), "--tick-seconds", "5", "--mode", o.Mode,
        };
        if (o.Postgres is not null)
        {
            serverArgs.AddRange(["--postgres", o.Postgres, "--postgres-schema", "load_" + Guid.NewGuid().ToString("N")[..10]]);
        }

        var builder = WebApplication.CreateBuilder(serverArgs.ToArray());
        builder.Logging.ClearProviders();
        builder.Services.AddSatflowServer();
        await using var app = builder.Build();
        SatflowServer.Configure(app);
        await app.StartAsync();
        try
        {
            var baseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var merchant = app.Services.GetRequiredService<MerchantService>();
            var user = await merchant.RegisterUserAsync("load@example.com", "load-password-" + Guid.NewGuid().ToString("N"));
            var store = await merchant.CreateStoreAsync(user.Id, "Load shop", "USD");
            var key = await merchant.CreateApiKeyAsync(new MerchantPrincipal(user.Id, null), "load", [Permission.InvoicesCreate, Permission.InvoicesView], store.Id);

            using var handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = o.Concurrency + o.CheckoutConcurrency + 4,
                PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
                UseCookies = false,
                AllowAutoRedirect = false,
            };
            using var client = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(2) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("token", key.Token);
            var url = $"/api/v1/stores/{store.Id}/invoices";

            Console.WriteLine($"satflowd ({o.Mode}) on {baseUrl}, storage {(o.Postgres is null ? "sqlite " + dataDir : "postgres")}, {Environment.ProcessorCount} cores, load average {LoadAverage()}");
            if (o.Stages > 0)
            {
                await StagesAsync(app.Services, client, key.Token, store, o.Stages, o.Concurrency, account);
                return 0;
            }

            Console.WriteLine($"warm-up: {o.Warmup} invoices ...");
            await RunAsync(client, url, o.Warmup, o.Concurrency, 0, "w");

            Console.WriteLine($"run: {o.Invoices} invoices at concurrency {o.Concurrency}, checkout sampler x{o.CheckoutConcurrency} ...");
            var gc0 = GC.CollectionCount(0);
            var gc2 = GC.CollectionCount(2);
            var alloc = GC.GetTotalAllocatedBytes();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var result = await RunAsync(client, url, o.Invoices, o.Concurrency, o.CheckoutConcurrency, "r");
            var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            var perSecond = o.Invoices / result.Elapsed.TotalSeconds;
            var report = new
            {
                storage = o.Postgres is null ? "sqlite" : "postgres",
                invoices = o.Invoices,
                concurrency = o.Concurrency,
                errors = result.Errors,
                seconds = Math.Round(result.Elapsed.TotalSeconds, 2),
                invoicesPerSecond = Math.Round(perSecond, 0),
                createP50Ms = Percentile(result.Create, 0.50),
                createP99Ms = Percentile(result.Create, 0.99),
                checkoutSamples = result.Checkout.Count,
                checkoutP50Ms = Percentile(result.Checkout, 0.50),
                checkoutP99Ms = Percentile(result.Checkout, 0.99),
                cpuMsPerInvoice = Math.Round(cpuUsed.TotalMilliseconds / o.Invoices, 3),
                allocatedKbPerInvoice = Math.Round((GC.GetTotalAllocatedBytes() - alloc) / 1024.0 / o.Invoices, 1),
                gen0 = GC.CollectionCount(0) - gc0,
                gen2 = GC.CollectionCount(2) - gc2,
                loadAverage = LoadAverage(),
            };
            if (o.Json)
            {
                Console.WriteLine(JsonSerializer.Serialize(report));
            }
            else
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"invoices/s {report.invoicesPerSecond:0} ({o.Invoices} in {report.seconds:0.00} s, {result.Errors} errors); create p50 {report.createP50Ms:0.00} ms p99 {report.createP99Ms:0.00} ms; " +
                    $"checkout p50 {report.checkoutP50Ms:0.00} ms p99 {report.checkoutP99Ms:0.00} ms ({report.checkoutSamples} samples); " +
                    $"CPU {report.cpuMsPerInvoice:0.000} ms/invoice, {report.allocatedKbPerInvoice:0.0} KB/invoice, gen0 {report.gen0} gen2 {report.gen2}; load average {report.loadAverage}"));
            }

            return result.Errors == 0 ? 0 : 1;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: the temporary directory is left behind.
            }
        }
    }

    /// <summary>
    /// The per-stage breakdown: each stage of invoice creation called directly (in process, no HTTP), <paramref name="n"/>
    /// times from <paramref name="concurrency"/> workers (so group commit batches as under load), after a warm-up of the
    /// same stage; prints process CPU ms per call. The first stages are whole HTTP requests for comparison.
    /// </summary>
    private static async Task StagesAsync(IServiceProvider services, HttpClient client, string token, Store store, int n, int concurrency, HdAccount account)
    {
        var merchant = services.GetRequiredService<MerchantService>();
        var repo = services.GetRequiredService<IMerchantRepository>();
        var addresses = services.GetRequiredService<IOnChainAddressSource>();
        var invoices = services.GetRequiredService<InvoiceService>();
        var notifications = services.GetRequiredService<InvoiceNotifications>();
        var principal = await merchant.AuthenticateAsync("token " + token);
        var run = Guid.NewGuid().ToString("N")[..8];
        var request = new CreateInvoiceRequest(10m, "USD") { OrderId = "stage" };
        var built = new Invoice[2 * n];
        var storeUrl = $"/api/v1/stores/{store.Id}";
        var invoiceUrl = storeUrl + "/invoices";
        Console.WriteLine($"stage breakdown: {n} calls per stage at concurrency {concurrency} (process CPU per call; load average {LoadAverage()})");

        async Task Stage(string name, Func<int, Task> op)
        {
            for (var pass = 0; pass < 2; pass++)
            {
                var offset = pass * n;
                var next = -1;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var alloc = GC.GetTotalAllocatedBytes();
                var start = Stopwatch.GetTimestamp();
                await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < n)
                    {
                        await op(offset + i).ConfigureAwait(false);
                    }
                }))).ConfigureAwait(false);
                var elapsed = Stopwatch.GetElapsedTime(start);
                var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                var allocated = GC.GetTotalAllocatedBytes() - alloc;
                if (pass == 1)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {name,-34} {used.TotalMilliseconds * 1000 / n,8:0} µs CPU/call  {n / elapsed.TotalSeconds,9:0}/s  {allocated / 1024.0 / n,7:0.0} KB/call"));
                }
            }
        }

        async Task Post(int i)
        {
            using var r = new HttpRequestMessage(HttpMethod.Post, invoiceUrl)
            {
                Content = new StringContent($"{{\"amount\":\"10\",\"currency\":\"USD\",\"orderId\":\"s-{i}\"}}", Encoding.UTF8, "application/json"),
            };
            r.Headers.Add("Idempotency-Key", $"{run}-http-{i}");
            using var response = await client.SendAsync(r).ConfigureAwait(false);
            _ = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        }

        await Stage("http POST invoice (whole request)", Post);
        await Stage("http GET store (auth + tiny JSON)", async ignored =>
        {
            using var response = await client.GetAsync(storeUrl).ConfigureAwait(false);
            _ = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        });
        await Stage("authenticate (API key)", _ => merchant.AuthenticateAsync("token " + token));
        await Stage("authorize (store role)", _ => merchant.AuthorizeAsync(principal, store.Id, Permission.InvoicesCreate));
        await Stage("get store", _ => repo.GetStoreAsync(store.Id));
        await Stage("idempotency reserve", i => repo.TryReserveIdempotencyKeyAsync(new IdempotencyRecord("stage", $"{run}-{i}", "h", null, DateTimeOffset.UtcNow)));
        var body = new IdempotentResponse(201, "application/json", new byte[900]);
        await Stage("idempotency complete", i => repo.CompleteIdempotencyKeyAsync("stage", $"{run}-{i}", body));
        for (var round = 0; round < 2; round++)
        {
            await Stage("address derivation (next address)", _ => addresses.NextAddressAsync());
            await Stage("  derive only: NBitcoin ExtPubKey.Derive", i => Task.FromResult(account.ScriptPubKey(KeyChain.Receive, 1_000_000 + i).GetDestinationAddress(Network.RegTest)!.ToString()));
            await Stage("  derive only: IL*G + combine", i => Task.FromResult(GeneratorDerive(account, 1_000_000 + i)));
        }

        await Stage("build invoice (rates + address)", async i => built[i] = await invoices.CreateAsync(store, request).ConfigureAwait(false));
        await Stage("insert invoice", i => repo.CreateInvoiceAsync(built[i]));
        await Stage("publish created event (webhooks)", i => notifications.PublishAsync(new InvoiceEvents(built[i].Id, built[i].StoreId, built[i].Events)));
        await Stage("http POST invoice (again, last)", i => Post((2 * n) + i));
    }

    private static string GeneratorDerive(HdAccount account, int index)
    {
        var chain = account.AccountPubKey.Derive(0);
        var key = chain.PubKey.ToBytes();
        var data = new byte[37];
        key.CopyTo(data, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(33), (uint)index);
        var il = System.Security.Cryptography.HMACSHA512.HashData(chain.ChainCode, data);
        var parent = NBitcoin.Secp256k1.ECPubKey.Create(key, NBitcoin.Secp256k1.Context.Instance);
        NBitcoin.Secp256k1.ECPrivKey.TryCreate(il.AsSpan(0, 32), NBitcoin.Secp256k1.Context.Instance, out var tweak);
        NBitcoin.Secp256k1.ECPubKey.TryCombine(NBitcoin.Secp256k1.Context.Instance, [parent, tweak!.CreatePubKey()], out var child);
        return new WitKeyId(NBitcoin.Crypto.Hashes.Hash160(child!.ToBytes(true))).GetAddress(Network.RegTest).ToString();
    }

    private sealed record RunResult(TimeSpan Elapsed, List<double> Create, List<double> Checkout, int Errors);

    private static async Task<RunResult> RunAsync(HttpClient client, string url, int count, int concurrency, int checkoutConcurrency, string prefix)
    {
        var next = -1;
        var errors = 0;
        var created = new string?[count];
        var createdCount = 0;
        var createMs = new double[count];
        var run = Guid.NewGuid().ToString("N")[..8];
        var done = new CancellationTokenSource();
        var checkout = new List<double>();
        var firstError = "";

        async Task Creator()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url)
                {
                    Content = new StringContent($"{{\"amount\":\"10\",\"currency\":\"USD\",\"orderId\":\"{prefix}-{i}\"}}", Encoding.UTF8, "application/json"),
                };
                request.Headers.Add("Idempotency-Key", $"{run}-{prefix}-{i}");
                var t = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request).ConfigureAwait(false);
                var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                createMs[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.Created)
                {
                    if (Interlocked.Increment(ref errors) == 1)
                    {
                        firstError = $"{(int)response.StatusCode} {Encoding.UTF8.GetString(body)}";
                    }

                    continue;
                }

                using var doc = JsonDocument.Parse(body);
                created[i] = doc.RootElement.GetProperty("id").GetString();
                Interlocked.Increment(ref createdCount);
            }
        }

        async Task Sampler(int seed)
        {
            var random = new Random(seed);
            var local = new List<double>();
            while (!done.IsCancellationRequested)
            {
                var upTo = Math.Min(Volatile.Read(ref next), count - 1);
                string? id = null;
                for (var tries = 0; tries < 16 && id is null && upTo >= 0; tries++)
                {
                    id = Volatile.Read(ref created[random.Next(upTo + 1)]);
                }

                if (id is null)
                {
                    await Task.Delay(1).ConfigureAwait(false);
                    continue;
                }

                var t = Stopwatch.GetTimestamp();
                using var response = await client.GetAsync("/i/" + id, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
                var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    local.Add(ms);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }

                // A payer opens a page now and then: ~50 pages/s per sampler, so the sampler measures latency without
                // becoming the load itself.
                await Task.Delay(20).ConfigureAwait(false);
            }

            lock (checkout)
            {
                checkout.AddRange(local);
            }
        }

        var samplers = Enumerable.Range(0, checkoutConcurrency).Select(s => Task.Run(() => Sampler(s))).ToArray();
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Creator))).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start);
        await done.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(samplers).ConfigureAwait(false);
        if (errors > 0)
        {
            Console.WriteLine($"  {errors} errors; first: {firstError}");
        }

        return new RunResult(elapsed, createMs.Where((_, i) => created[i] is not null).ToList(), checkout, errors);
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return Math.Round(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)], 2);
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private static Options Parse(string[] args)
    {
        int invoices = 20000, concurrency = 64, checkout = 2, warmup = 1000;
        string? postgres = null;
        var json = false;
        var stages = 0;
        var mode = "standalone";
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            int Positive(string name)
            {
                var text = Next();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : throw new FormatException($"{name} must be a whole number, not '{text}'");
            }

            switch (args[i])
            {
                case "--invoices": invoices = Positive("--invoices"); break;
                case "--concurrency": concurrency = Math.Max(1, Positive("--concurrency")); break;
                case "--checkout-concurrency": checkout = Positive("--checkout-concurrency"); break;
                case "--warmup": warmup = Positive("--warmup"); break;
                case "--postgres": postgres = Next(); break;
                case "--json": json = true; break;
                case "--stages": stages = Positive("--stages"); break;
                case "--mode":
                    mode = Next();
                    if (mode is not ("standalone" or "sandbox"))
                    {
                        throw new FormatException($"--mode must be standalone or sandbox, not '{mode}'");
                    }

                    break;
                default: throw new FormatException($"unknown option '{args[i]}'");
            }
        }

        return invoices < 1 ? throw new FormatException("--invoices must be at least 1") : new Options(invoices, concurrency, checkout, warmup, postgres, json, stages, mode);
    }
}
