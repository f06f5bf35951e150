using Microsoft.Extensions.Configuration;
using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Server.Hosting;
using Satflow.Server.Payments;

namespace Satflow.Server.Tests;

public sealed class OptionsTests
{
    private static ServerOptions Parse(params (string Key, string Value)[] values)
        => ServerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void Defaults_are_sqlite_in_the_satflow_home_with_simple_logs_on_regtest()
    {
        var o = Parse();
        Assert.Null(o.PostgresConnectionString);
        Assert.Equal("sqlite", o.StorageKind);
        Assert.Equal(LogFormat.Simple, o.LogFormat);
        Assert.Equal(Network.RegTest, o.Network);
        var home = Environment.GetEnvironmentVariable("SATFLOW_HOME");
        Assert.Equal(string.IsNullOrWhiteSpace(home)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".satflow", "server")
            : Path.Combine(home, "server"), ServerOptions.DefaultDataDirectory());
        Assert.Equal(Path.GetFullPath(ServerOptions.DefaultDataDirectory()), o.DataDirectory);
        Assert.Equal(TimeSpan.FromSeconds(5), o.TickInterval);
    }

    [Fact]
    public void Options_are_read_and_bad_values_are_typed_errors()
    {
        var o = Parse(("datadir", "/tmp/x"), ("postgres", "Host=127.0.0.1"), ("log-format", "JSON"), ("network", "mainnet"), ("tick-seconds", "2.5"));
        Assert.Equal("/tmp/x", o.DataDirectory);
        Assert.Equal("postgres", o.StorageKind);
        Assert.Equal(LogFormat.Json, o.LogFormat);
        Assert.Equal(Network.Main, o.Network);
        Assert.Equal(TimeSpan.FromSeconds(2.5), o.TickInterval);
        foreach (var bad in new[] { ("log-format", "xml"), ("network", "moon"), ("tick-seconds", "0"), ("tick-seconds", "abc"), ("webhook-poll-seconds", "-1"), ("rates-file", "/nonexistent/rates") })
        {
            var e = Assert.Throws<MerchantException>(() => Parse(bad));
            Assert.Equal(MerchantErrorReason.InvalidConfiguration, e.Reason);
        }
    }
}

public sealed class PaymentMethodTests
{
    [Fact]
    public async Task Descriptor_addresses_are_fresh_match_the_descriptor_and_survive_a_restart()
    {
        var dir = Directory.CreateTempSubdirectory("satflowd-addr-");
        try
        {
            var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
            var descriptor = account.Descriptor(KeyChain.Receive).ToString();
            var file = Path.Combine(dir.FullName, "index");
            var first = new DescriptorAddressSource(descriptor, Network.RegTest, file);
            var a0 = await first.NextAddressAsync();
            var a1 = await first.NextAddressAsync();
            Assert.Equal(account.ScriptPubKey(KeyChain.Receive, 0).GetDestinationAddress(Network.RegTest)!.ToString(), a0);
            Assert.Equal(account.ScriptPubKey(KeyChain.Receive, 1).GetDestinationAddress(Network.RegTest)!.ToString(), a1);
            var restarted = new DescriptorAddressSource(descriptor, Network.RegTest, file);
            Assert.Equal(2, restarted.NextIndex);
            Assert.Equal(account.ScriptPubKey(KeyChain.Receive, 2).GetDestinationAddress(Network.RegTest)!.ToString(), await restarted.NextAddressAsync());

            await File.WriteAllTextAsync(file, "garbage");
            var corrupt = await Assert.ThrowsAsync<MerchantException>(() => restarted.NextAddressAsync());
            Assert.Equal(MerchantErrorReason.InvalidConfiguration, corrupt.Reason);
            Assert.ThrowsAny<WalletException>(() => new DescriptorAddressSource(descriptor[..^1] + (descriptor[^1] == 'x' ? 'y' : 'x'), Network.RegTest, file));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Without_a_node_Lightning_is_not_offered_and_says_why()
    {
        var unavailable = new UnavailableLightningInvoiceSource();
        Assert.False(unavailable.IsAvailable);
        Assert.Contains("no Lightning node", unavailable.UnavailableReason, StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<MerchantException>(() => unavailable.CreateInvoiceAsync(new MilliSatoshi(1000), DateTimeOffset.UnixEpoch, "x"));
        Assert.Equal(MerchantErrorReason.PaymentMethodUnavailable, e.Reason);

        var account = HdAccount.FromMaster(new ExtKey(), AddressType.P2wpkh, Network.RegTest);
        var dir = Directory.CreateTempSubdirectory("satflowd-addr-");
        try
        {
            var source = new DescriptorAddressSource(account.Descriptor(KeyChain.Receive).ToString(), Network.RegTest, Path.Combine(dir.FullName, "i"));
            var providers = PaymentMethodSetup.Providers(source, unavailable);
            var onchain = Assert.Single(providers);
            Assert.Equal(PaymentMethodId.OnChain, onchain.Method);
            var prompt = await onchain.CreatePromptAsync(new PaymentPromptRequest(StoreId.New(), InvoiceId.New(), new MilliSatoshi(1000), DateTimeOffset.UnixEpoch, "d"));
            prompt.Validate();
            Assert.Empty(PaymentMethodSetup.Providers(null, unavailable));

            var lightning = new FakeLightning();
            var both = PaymentMethodSetup.Providers(source, lightning);
            Assert.Equal([PaymentMethodId.OnChain, PaymentMethodId.Lightning], both.Select(p => p.Method));
            var ln = await both[1].CreatePromptAsync(new PaymentPromptRequest(StoreId.New(), InvoiceId.New(), new MilliSatoshi(5000), DateTimeOffset.UnixEpoch, "d"));
            ln.Validate();
            Assert.Equal(lightning.Hash.ToString(), ln.LookupKey);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private sealed class FakeLightning : ILightningInvoiceSource
    {
        public PaymentHash Hash { get; } = new(new Bytes32(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()));

        public bool IsAvailable => true;

        public string? UnavailableReason => null;

        public Task<LightningInvoice> CreateInvoiceAsync(MilliSatoshi amount, DateTimeOffset expiresAt, string description, CancellationToken cancellationToken = default)
            => Task.FromResult(new LightningInvoice("lnbcrt50n1pexampleinvoicedata", Hash));
    }
}

[Collection(nameof(ConsoleCollection))]
public sealed class BootstrapTests
{
    [Fact]
    public async Task Bootstrap_creates_an_admin_store_and_a_working_key_printed_once_on_stdout()
    {
        var dir = Directory.CreateTempSubdirectory("satflowd-boot-");
        var original = Console.Out;
        using var output = new StringWriter();
        try
        {
            Console.SetOut(output);
            var code = await Bootstrap.RunAsync(["--email", "Owner@Example.com", "--store", "Shop", "--datadir", dir.FullName]);
            Assert.Equal(0, code);
            Console.SetOut(original);
            var lines = output.ToString().Split('\n').Select(l => l.Trim()).ToArray();
            var token = lines.Single(l => l.StartsWith("api key:", StringComparison.Ordinal))["api key:".Length..].Trim();
            Assert.StartsWith("sfk_", token, StringComparison.Ordinal);
            Assert.Contains(lines, l => l.StartsWith("store:    Shop", StringComparison.Ordinal));

            await using var storage = await ServerStorage.OpenAsync(new ServerOptions { DataDirectory = dir.FullName });
            var service = new MerchantService(storage.Merchant, new InvoiceService(TimeProvider.System, new Merchant.Rates.RateRuleEvaluator([]), []),
                new Merchant.Accounts.PasswordHasher(), TimeProvider.System);
            var principal = await service.AuthenticateAsync("token " + token);
            var stores = await storage.Merchant.ListStoresForUserAsync(principal.UserId);
            Assert.Equal("Shop", Assert.Single(stores).Store.Name);
            Assert.True((await storage.Merchant.GetUserAsync(principal.UserId))!.IsServerAdmin);

            using var usage = new StringWriter();
            Console.SetError(usage);
            Assert.Equal(2, await Bootstrap.RunAsync([]));
        }
        finally
        {
            Console.SetOut(original);
            Console.SetError(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }
}

[CollectionDefinition(nameof(ConsoleCollection), DisableParallelization = true)]
public sealed class ConsoleCollection;
