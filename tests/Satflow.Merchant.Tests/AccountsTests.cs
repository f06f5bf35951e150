using Satflow.Merchant.Accounts;

namespace Satflow.Merchant.Tests;

public sealed class PasswordHasherTests
{
    private static readonly PasswordHasher Hasher = new(PasswordHasher.MinimumIterations);

    [Fact]
    public void Hash_verifies_and_rejects_wrong_passwords()
    {
        var hash = Hasher.Hash("correct horse battery staple");
        Assert.StartsWith("$pbkdf2-sha256$v=1$i=210000$", hash, StringComparison.Ordinal);
        Assert.Equal(PasswordVerification.Success, Hasher.Verify(hash, "correct horse battery staple"));
        Assert.Equal(PasswordVerification.Failed, Hasher.Verify(hash, "correct horse battery stapler"));
        Assert.Equal(PasswordVerification.Failed, Hasher.Verify(hash, ""));
    }

    [Fact]
    public void Salts_are_per_hash()
    {
        Assert.NotEqual(Hasher.Hash("same"), Hasher.Hash("same"));
    }

    [Fact]
    public void Older_parameters_ask_for_a_rehash_on_login()
    {
        var old = Hasher.Hash("pw");
        var stronger = new PasswordHasher(PasswordHasher.MinimumIterations + 10_000);
        Assert.Equal(PasswordVerification.SuccessRehashNeeded, stronger.Verify(old, "pw"));
        Assert.Equal(PasswordVerification.Failed, stronger.Verify(old, "other"));
        var rehashed = stronger.Hash("pw");
        Assert.Contains("$i=220000$", rehashed, StringComparison.Ordinal);
        Assert.Equal(PasswordVerification.Success, stronger.Verify(rehashed, "pw"));
    }

    [Fact]
    public void Too_few_iterations_are_refused()
    {
        Assert.Equal(MerchantErrorReason.InvalidArgument, Assert.Throws<MerchantException>(() => new PasswordHasher(100_000)).Reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain")]
    [InlineData("$pbkdf2-sha256$v=2$i=210000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("$pbkdf2-sha256$v=1$i=0$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("$pbkdf2-sha256$v=1$i=999999999$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("$pbkdf2-sha256$v=1$i=210000$!!$AAAA")]
    [InlineData("$pbkdf2-sha256$v=1$i=210000$AAAA$AAAA")]
    [InlineData("$pbkdf2-sha256$v=1$i=210000$AAAAAAAAAAAAAAAAAAAAAA==")]
    public void Malformed_stored_hashes_are_a_typed_error(string stored)
    {
        var e = Assert.Throws<MerchantException>(() => Hasher.Verify(stored, "pw"));
        Assert.Equal(MerchantErrorReason.InvalidPasswordHash, e.Reason);
    }

    [Fact]
    public void Random_stored_hashes_only_raise_the_typed_error()
    {
        Gen.String.Sample(s =>
        {
            var e = Record.Exception(() => Hasher.Verify("$pbkdf2-sha256$v=1$i=1$" + s, "pw"));
            Assert.True(e is null || e is MerchantException { Reason: MerchantErrorReason.InvalidPasswordHash }, e?.ToString());
        }, iter: 300);
    }
}

public sealed class PermissionTests
{
    [Fact]
    public void Scope_names_round_trip_and_are_unique()
    {
        var names = Permissions.All.Select(p => p.ToScopeName()).ToArray();
        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
        foreach (var p in Permissions.All)
        {
            Assert.Equal(p, Permissions.Parse(p.ToScopeName()));
        }

        Assert.Equal("invoices.create", Permission.InvoicesCreate.ToScopeName());
        Assert.Equal("payouts.manage", Permission.PayoutsManage.ToScopeName());
        Assert.Equal("webhooks.manage", Permission.WebhooksManage.ToScopeName());
        Assert.False(Permissions.TryParse("Invoices.Create", out _));
        Assert.Throws<MerchantException>(() => Permissions.Parse("root"));
    }

    public static TheoryData<StoreRole, Permission, bool> Matrix() => new()
    {
        { StoreRole.Owner, Permission.StoresManage, true },
        { StoreRole.Owner, Permission.StoreMembersManage, true },
        { StoreRole.Manager, Permission.StoresManage, false },
        { StoreRole.Manager, Permission.StoreMembersManage, false },
        { StoreRole.Manager, Permission.PayoutsManage, true },
        { StoreRole.Manager, Permission.WebhooksManage, true },
        { StoreRole.Manager, Permission.LedgerView, true },
        { StoreRole.Employee, Permission.InvoicesCreate, true },
        { StoreRole.Employee, Permission.InvoicesView, true },
        { StoreRole.Employee, Permission.InvoicesManage, false },
        { StoreRole.Employee, Permission.PayoutsManage, false },
        { StoreRole.Guest, Permission.InvoicesCreate, true },
        { StoreRole.Guest, Permission.InvoicesView, false },
        { StoreRole.Guest, Permission.LedgerView, false },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Role_matrix(StoreRole role, Permission permission, bool granted) => Assert.Equal(granted, role.Grants(permission));

    [Fact]
    public void Roles_are_nested_owner_over_manager_over_employee()
    {
        Assert.Equal(Permissions.All.Count, StoreRolePermissions.Of(StoreRole.Owner).Count);
        Assert.True(StoreRolePermissions.Of(StoreRole.Manager).IsSubsetOf(StoreRolePermissions.Of(StoreRole.Owner)));
        Assert.True(StoreRolePermissions.Of(StoreRole.Employee).IsSubsetOf(StoreRolePermissions.Of(StoreRole.Manager)));
    }

    [Theory]
    [InlineData(" Alice@Example.COM ", "alice@example.com")]
    [InlineData("bob@x.io", "bob@x.io")]
    public void Emails_are_normalised(string input, string expected) => Assert.Equal(expected, User.NormalizeEmail(input));

    [Theory]
    [InlineData("")]
    [InlineData("nobody")]
    [InlineData("a@b@c")]
    [InlineData("@x.io")]
    [InlineData("x@")]
    [InlineData("a b@c.d")]
    public void Bad_emails_are_refused(string input) => Assert.Throws<MerchantException>(() => User.NormalizeEmail(input));
}
