using System.Collections.Frozen;

namespace Satflow.Merchant.Accounts;

/// <summary>A user's role in a store.</summary>
public enum StoreRole
{
    /// <summary>Everything, including members and store settings.</summary>
    Owner,
    /// <summary>Day-to-day operation: invoices, payouts, webhooks, ledger; not settings or members.</summary>
    Manager,
    /// <summary>Point-of-sale staff: create and view invoices.</summary>
    Employee,
    /// <summary>Can see the store and create invoices (e.g. a kiosk), nothing more.</summary>
    Guest,
}

/// <summary>The role → permission matrix.</summary>
public static class StoreRolePermissions
{
    private static readonly FrozenDictionary<StoreRole, FrozenSet<Permission>> s_matrix = new Dictionary<StoreRole, FrozenSet<Permission>>
    {
        [StoreRole.Owner] = Permissions.All.ToFrozenSet(),
        [StoreRole.Manager] = new[]
        {
            Permission.StoresView, Permission.InvoicesView, Permission.InvoicesCreate, Permission.InvoicesManage,
            Permission.PayoutsView, Permission.PayoutsManage, Permission.WebhooksManage, Permission.RatesView, Permission.LedgerView,
        }.ToFrozenSet(),
        [StoreRole.Employee] = new[] { Permission.StoresView, Permission.InvoicesView, Permission.InvoicesCreate, Permission.RatesView }.ToFrozenSet(),
        [StoreRole.Guest] = new[] { Permission.StoresView, Permission.InvoicesCreate }.ToFrozenSet(),
    }.ToFrozenDictionary();

    /// <summary>The permissions a role grants.</summary>
    /// <param name="role">The role.</param>
    /// <returns>The permission set.</returns>
    public static IReadOnlySet<Permission> Of(StoreRole role)
        => s_matrix.TryGetValue(role, out var set) ? set : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"Unknown store role {(int)role}.");

    /// <summary>Whether a role grants a permission.</summary>
    /// <param name="role">The role.</param>
    /// <param name="permission">The permission.</param>
    /// <returns>True when granted.</returns>
    public static bool Grants(this StoreRole role, Permission permission) => Of(role).Contains(permission);
}
