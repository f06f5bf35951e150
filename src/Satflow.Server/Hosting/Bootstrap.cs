using System.Security.Cryptography;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;

namespace Satflow.Server.Hosting;

/// <summary>
/// <c>satflowd bootstrap --email E [--store NAME] [--datadir D | --postgres CS]</c>: creates the first user (with a
/// random password), optionally a store, and an API key with every scope, and prints the password and key once on
/// standard output (never to a log).
/// </summary>
public static class Bootstrap
{
    /// <summary>Runs the command.</summary>
    /// <param name="args">Arguments after <c>bootstrap</c>.</param>
    /// <returns>Exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var config = new ConfigurationBuilder().AddCommandLine(args).Build();
        var email = config["email"];
        if (string.IsNullOrWhiteSpace(email))
        {
            await Console.Error.WriteLineAsync("usage: satflowd bootstrap --email ADDRESS [--store NAME] [--currency BTC] [--datadir DIR | --postgres CONNSTRING]").ConfigureAwait(false);
            return 2;
        }

        try
        {
            var options = ServerOptions.FromConfiguration(config);
            await using var storage = await ServerStorage.OpenAsync(options).ConfigureAwait(false);
            var service = new MerchantService(storage.Merchant, new Merchant.Invoices.InvoiceService(TimeProvider.System,
                new Merchant.Rates.RateRuleEvaluator([]), []), new PasswordHasher(), TimeProvider.System);
            var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
            var user = await service.RegisterUserAsync(email, password, isServerAdmin: true).ConfigureAwait(false);
            Store? store = null;
            if (config["store"] is { Length: > 0 } name)
            {
                store = await service.CreateStoreAsync(user.Id, name, config["currency"] ?? "BTC").ConfigureAwait(false);
            }

            var key = await service.CreateApiKeyAsync(new MerchantPrincipal(user.Id, null), "bootstrap", Permissions.All.ToArray(), null).ConfigureAwait(false);
            Console.WriteLine($"user:     {user.Email} ({user.Id})");
            Console.WriteLine($"password: {password}");
            if (store is not null)
            {
                Console.WriteLine($"store:    {store.Name} ({store.Id})");
            }

            Console.WriteLine($"api key:  {key.Token}");
            Console.WriteLine("The password and the API key are shown only now.");
            return 0;
        }
        catch (MerchantException e)
        {
            await Console.Error.WriteLineAsync($"bootstrap failed: {e.Reason}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
