using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Persistence;

namespace Satflow.Server.Sandbox;

/// <summary>The sandbox demo login.</summary>
/// <param name="Email">The e-mail address.</param>
/// <param name="Password">The password.</param>
public sealed record SandboxLogin(string Email, string Password);

/// <summary>What the sandbox prints on start and writes to <c>DATADIR/sandbox.json</c> (mode 0600).</summary>
/// <param name="DashboardUrl">The dashboard.</param>
/// <param name="ApiUrl">The REST API base (<c>/api/v1/</c>).</param>
/// <param name="Login">The demo user's login.</param>
/// <param name="ApiKey">An API key with every scope, restricted to nothing (sandbox-marked).</param>
/// <param name="StoreId">The demo store.</param>
/// <param name="WalletUrl">The sandbox customer wallet page.</param>
/// <param name="SandboxUrl">The sandbox start page (create a demo invoice and pay it).</param>
public sealed record SandboxInfo(
    string DashboardUrl,
    string ApiUrl,
    SandboxLogin Login,
    string ApiKey,
    string StoreId,
    string WalletUrl,
    string SandboxUrl)
{
    /// <summary>The JSON options of <c>sandbox.json</c> (camelCase, indented).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>Hides the secrets from logs and debuggers.</summary>
    /// <returns>A description without password or key.</returns>
    public override string ToString() => $"SandboxInfo({DashboardUrl}, store {StoreId}, ***)";
}

/// <summary>
/// The sandbox's demo account: the user <see cref="Email"/>, the store "Sandbox store" and an API key labelled
/// <see cref="KeyLabel"/>, created on the first start and reused afterwards (the same <c>sandbox.json</c>). Any key of
/// the sandbox user is a sandbox key: production refuses to start while one exists.
/// </summary>
public static class SandboxAccount
{
    /// <summary>The demo user's e-mail address (the reserved <c>.invalid</c> domain marks it).</summary>
    public const string Email = "demo@sandbox.satflow.invalid";

    /// <summary>The label of the sandbox API key.</summary>
    public const string KeyLabel = "sandbox";

    /// <summary>The file in the data directory.</summary>
    public const string FileName = "sandbox.json";

    /// <summary>Creates the demo account on the first start, or reuses the one in <c>sandbox.json</c> when it still works.</summary>
    /// <param name="merchant">The merchant service.</param>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="baseUrl">The server's URL (http://host:port).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The sandbox info, also written to <c>sandbox.json</c>.</returns>
    public static async Task<SandboxInfo> EnsureAsync(MerchantService merchant, string dataDirectory, string baseUrl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(merchant);
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(baseUrl);
        baseUrl = baseUrl.TrimEnd('/');
        var path = Path.Combine(dataDirectory, FileName);
        var existing = await ReadAsync(path, cancellationToken).ConfigureAwait(false);
        SandboxInfo info;
        if (existing is not null && await StillWorksAsync(merchant, existing, cancellationToken).ConfigureAwait(false))
        {
            info = existing;
        }
        else
        {
            var password = "sandbox-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            User user;
            try
            {
                user = await merchant.RegisterUserAsync(Email, password, isServerAdmin: true, cancellationToken).ConfigureAwait(false);
            }
            catch (MerchantException e) when (e.Reason == MerchantErrorReason.AlreadyExists)
            {
                throw new MerchantException(MerchantErrorReason.InvalidConfiguration,
                    $"The sandbox user {Email} exists but {path} is missing or stale; delete the data directory to start a fresh sandbox.", e);
            }

            var store = await merchant.CreateStoreAsync(user.Id, "Sandbox store", "BTC", cancellationToken: cancellationToken).ConfigureAwait(false);
            var key = await merchant.CreateApiKeyAsync(new MerchantPrincipal(user.Id, null), KeyLabel, Permissions.All.ToArray(), null, cancellationToken).ConfigureAwait(false);
            info = new SandboxInfo("", "", new SandboxLogin(Email, password), key.Token, store.Id.Value, "", "");
        }

        info = info with
        {
            DashboardUrl = baseUrl + "/dashboard/",
            ApiUrl = baseUrl + "/api/v1/",
            WalletUrl = baseUrl + SandboxEndpoints.WalletPath,
            SandboxUrl = baseUrl + SandboxEndpoints.Prefix,
        };
        WritePrivate(path, JsonSerializer.Serialize(info, SandboxInfo.Json));
        return info;
    }

    /// <summary>Refuses a non-sandbox start while sandbox keys (any unrevoked key of the sandbox user) exist.</summary>
    /// <param name="repository">The merchant repository.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.InvalidConfiguration"/> naming the problem and the fix.</exception>
    public static async Task RefuseSandboxKeysAsync(IMerchantRepository repository, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var user = await repository.FindUserByEmailAsync(Email, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return;
        }

        var keys = await repository.ListApiKeysAsync(user.Id, cancellationToken).ConfigureAwait(false);
        var live = keys.Count(k => !k.IsRevoked);
        if (live > 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidConfiguration,
                $"This database holds {live} sandbox API key(s) (user {Email}); production refuses to start with sandbox keys. Use a fresh --datadir/--postgres-schema for production, or revoke the sandbox keys.");
        }
    }

    private static async Task<bool> StillWorksAsync(MerchantService merchant, SandboxInfo info, CancellationToken cancellationToken)
    {
        try
        {
            var principal = await merchant.AuthenticateAsync("token " + info.ApiKey, cancellationToken).ConfigureAwait(false);
            var user = await merchant.LoginAsync(info.Login.Email, info.Login.Password, cancellationToken).ConfigureAwait(false);
            return user is not null && principal.UserId == user.Id;
        }
        catch (MerchantException)
        {
            return false;
        }
    }

    private static async Task<SandboxInfo?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
            var info = JsonSerializer.Deserialize<SandboxInfo>(text, SandboxInfo.Json);
            return info is { Login: not null, ApiKey: not null, StoreId: not null } ? info : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void WritePrivate(string path, string content)
    {
        var temp = path + ".tmp";
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        File.Move(temp, path, overwrite: true);
    }
}
