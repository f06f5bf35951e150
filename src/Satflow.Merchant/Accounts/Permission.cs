using System.Collections.Frozen;

namespace Satflow.Merchant.Accounts;

/// <summary>The closed set of permissions, used both by store roles and by API key scopes.</summary>
public enum Permission
{
    /// <summary><c>stores.view</c>: read store settings.</summary>
    StoresView,
    /// <summary><c>stores.manage</c>: change store settings (rate rules, invoice defaults), delete the store.</summary>
    StoresManage,
    /// <summary><c>stores.members.manage</c>: add, change and remove store members.</summary>
    StoreMembersManage,
    /// <summary><c>invoices.view</c>: list and read invoices.</summary>
    InvoicesView,
    /// <summary><c>invoices.create</c>: create invoices.</summary>
    InvoicesCreate,
    /// <summary><c>invoices.manage</c>: mark invoices settled or invalid.</summary>
    InvoicesManage,
    /// <summary><c>payouts.view</c>: list payouts.</summary>
    PayoutsView,
    /// <summary><c>payouts.manage</c>: create, approve and cancel payouts.</summary>
    PayoutsManage,
    /// <summary><c>webhooks.manage</c>: create, change and delete webhooks.</summary>
    WebhooksManage,
    /// <summary><c>rates.view</c>: query the store's rates.</summary>
    RatesView,
    /// <summary><c>ledger.view</c>: read balances, journal entries and the reconciliation report.</summary>
    LedgerView,
    /// <summary><c>server.reconciliation.view</c>: read the server-wide reconciliation report (every store and the node operator's book); the key's user must also be a server administrator.</summary>
    ServerReconciliationView,
}

/// <summary>String names of <see cref="Permission"/> values, as used in API key scopes.</summary>
public static class Permissions
{
    private static readonly FrozenDictionary<Permission, string> s_names = new Dictionary<Permission, string>
    {
        [Permission.StoresView] = "stores.view",
        [Permission.StoresManage] = "stores.manage",
        [Permission.StoreMembersManage] = "stores.members.manage",
        [Permission.InvoicesView] = "invoices.view",
        [Permission.InvoicesCreate] = "invoices.create",
        [Permission.InvoicesManage] = "invoices.manage",
        [Permission.PayoutsView] = "payouts.view",
        [Permission.PayoutsManage] = "payouts.manage",
        [Permission.WebhooksManage] = "webhooks.manage",
        [Permission.RatesView] = "rates.view",
        [Permission.LedgerView] = "ledger.view",
        [Permission.ServerReconciliationView] = "server.reconciliation.view",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<string, Permission> s_byName = s_names.ToFrozenDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    /// <summary>Every permission.</summary>
    public static IReadOnlyList<Permission> All { get; } = Enum.GetValues<Permission>();

    /// <summary>The scope name of a permission, e.g. <c>invoices.create</c>.</summary>
    /// <param name="permission">The permission.</param>
    /// <returns>Its name.</returns>
    public static string ToScopeName(this Permission permission)
        => s_names.TryGetValue(permission, out var name) ? name : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"Unknown permission {(int)permission}.");

    /// <summary>Parses a scope name.</summary>
    /// <param name="name">E.g. <c>invoices.view</c> (exact, lowercase).</param>
    /// <param name="permission">The permission when known.</param>
    /// <returns>Whether the name is known.</returns>
    public static bool TryParse(string? name, out Permission permission)
    {
        if (name is not null && s_byName.TryGetValue(name, out permission))
        {
            return true;
        }

        permission = default;
        return false;
    }

    /// <summary>Parses a scope name or throws.</summary>
    /// <param name="name">The scope name.</param>
    /// <returns>The permission.</returns>
    /// <exception cref="MerchantException">Unknown name.</exception>
    public static Permission Parse(string? name)
        => TryParse(name, out var p) ? p : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"Unknown permission scope '{name}'.");
}
