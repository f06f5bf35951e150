using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;

namespace Satflow.Merchant.Tests;

public sealed class ApiKeyTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
    private static readonly UserId Alice = new("alice");
    private static readonly StoreId Shop = new("shop");

    [Fact]
    public void Created_key_is_shown_once_and_stored_as_a_sha256_hash()
    {
        var created = ApiKeyTokens.Create(Alice, "pos", [Permission.InvoicesCreate, Permission.InvoicesView], Shop, Now);
        Assert.StartsWith(ApiKeyTokens.Prefix, created.Token, StringComparison.Ordinal);
        Assert.True(ApiKeyTokens.IsWellFormed(created.Token));
        Assert.Equal(64, created.Record.SecretHash.Length);
        Assert.DoesNotContain(created.Token[ApiKeyTokens.Prefix.Length..], created.Record.SecretHash, StringComparison.Ordinal);
        Assert.Equal(ApiKeyTokens.HashToken(created.Token), created.Record.SecretHash);
        Assert.NotEqual(created.Token, ApiKeyTokens.Create(Alice, "pos", [Permission.InvoicesCreate], Shop, Now).Token);
    }

    [Fact]
    public void Keys_need_scopes()
    {
        Assert.Equal(MerchantErrorReason.InvalidArgument, Assert.Throws<MerchantException>(() => ApiKeyTokens.Create(Alice, "x", [], null, Now)).Reason);
    }

    [Fact]
    public void Header_parsing_accepts_the_token_scheme_case_insensitively()
    {
        var token = ApiKeyTokens.Create(Alice, "x", [Permission.InvoicesView], null, Now).Token;
        Assert.Equal(token, ApiKeyTokens.ParseAuthorizationHeader("token " + token));
        Assert.Equal(token, ApiKeyTokens.ParseAuthorizationHeader("Token  " + token + " "));
    }

    [Theory]
    [InlineData(null, AuthenticationFailure.MissingHeader)]
    [InlineData("", AuthenticationFailure.MissingHeader)]
    [InlineData("   ", AuthenticationFailure.MissingHeader)]
    [InlineData("sfk_abc", AuthenticationFailure.WrongScheme)]
    [InlineData("Bearer sfk_2Nf", AuthenticationFailure.WrongScheme)]
    [InlineData("Basic dXNlcjpwYXNz", AuthenticationFailure.WrongScheme)]
    [InlineData("token abc", AuthenticationFailure.MalformedToken)]
    [InlineData("token sfk_", AuthenticationFailure.MalformedToken)]
    [InlineData("token sfk_0OIl", AuthenticationFailure.MalformedToken)]
    [InlineData("token sfk_abc def", AuthenticationFailure.MalformedToken)]
    [InlineData("token sfk_2NEpo7TZRRrLZSi2U", AuthenticationFailure.MalformedToken)]
    public void Bad_headers_have_typed_failures(string? header, AuthenticationFailure failure)
    {
        Assert.Equal(failure, Assert.Throws<ApiKeyAuthenticationException>(() => ApiKeyTokens.ParseAuthorizationHeader(header)).Failure);
    }

    [Fact]
    public void Random_headers_only_raise_typed_failures()
    {
        var token = ApiKeyTokens.Create(Alice, "x", [Permission.InvoicesView], null, Now).Token;
        Gen.String.Sample(s =>
        {
            var e = Record.Exception(() => ApiKeyTokens.ParseAuthorizationHeader(s));
            Assert.True(e is null or ApiKeyAuthenticationException, e?.ToString());
        }, iter: 2000);
        var header = "token " + token;
        Gen.Select(Gen.Int[0, header.Length - 1], Gen.Char).Sample((i, c) =>
        {
            var mutated = header[..i] + c + header[(i + 1)..];
            var e = Record.Exception(() => ApiKeyTokens.ParseAuthorizationHeader(mutated));
            Assert.True(e is null or ApiKeyAuthenticationException, e?.ToString());
        }, iter: 2000);
    }

    [Fact]
    public async Task Authenticate_finds_the_key_and_refuses_unknown_and_revoked_keys()
    {
        var created = ApiKeyTokens.Create(Alice, "x", [Permission.InvoicesView], null, Now);
        var keys = new Dictionary<string, ApiKeyRecord> { [created.Record.SecretHash] = created.Record };
        Task<ApiKeyRecord?> Find(string hash, CancellationToken _) => Task.FromResult(keys.GetValueOrDefault(hash));

        Assert.Equal(created.Record.Id, (await ApiKeyTokens.AuthenticateAsync("token " + created.Token, Find)).Id);

        var other = ApiKeyTokens.Create(Alice, "y", [Permission.InvoicesView], null, Now).Token;
        Assert.Equal(AuthenticationFailure.UnknownKey, (await Assert.ThrowsAsync<ApiKeyAuthenticationException>(() => ApiKeyTokens.AuthenticateAsync("token " + other, Find))).Failure);

        keys[created.Record.SecretHash] = created.Record with { RevokedAt = Now };
        Assert.Equal(AuthenticationFailure.Revoked, (await Assert.ThrowsAsync<ApiKeyAuthenticationException>(() => ApiKeyTokens.AuthenticateAsync("token " + created.Token, Find))).Failure);
    }

    public static TheoryData<StoreRole?, Permission[], string?, Permission, bool> AccessCases() => new()
    {
        // Session (no key): role decides.
        { StoreRole.Owner, [], null, Permission.StoresManage, true },
        { StoreRole.Employee, [], null, Permission.PayoutsManage, false },
        { null, [], null, Permission.InvoicesView, false },
        // Key: both the role and the key's scope must allow.
        { StoreRole.Owner, [Permission.InvoicesCreate], "any", Permission.InvoicesCreate, true },
        { StoreRole.Owner, [Permission.InvoicesCreate], "any", Permission.InvoicesView, false },
        { StoreRole.Employee, [Permission.PayoutsManage], "any", Permission.PayoutsManage, false },
        // Store-restricted key.
        { StoreRole.Owner, [Permission.InvoicesView], "shop", Permission.InvoicesView, true },
        { StoreRole.Owner, [Permission.InvoicesView], "other", Permission.InvoicesView, false },
    };

    [Theory]
    [MemberData(nameof(AccessCases))]
    public void Principal_access_is_role_and_scope(StoreRole? role, Permission[] scopes, string? keyStore, Permission needed, bool allowed)
    {
        ApiKeyRecord? key = keyStore is null ? null
            : ApiKeyTokens.Create(Alice, "k", scopes, keyStore == "any" ? null : new StoreId(keyStore), Now).Record;
        var principal = new MerchantPrincipal(Alice, key);
        Assert.Equal(allowed, principal.IsAllowed(Shop, role, needed));
        if (!allowed)
        {
            Assert.Equal(MerchantErrorReason.Forbidden, Assert.Throws<MerchantException>(() => principal.Demand(Shop, role, needed)).Reason);
        }
    }

    [Fact]
    public void Revoked_keys_and_keys_of_another_user_grant_nothing()
    {
        var key = ApiKeyTokens.Create(Alice, "k", Permissions.All, null, Now).Record;
        Assert.False(new MerchantPrincipal(Alice, key with { RevokedAt = Now }).IsAllowed(Shop, StoreRole.Owner, Permission.InvoicesView));
        Assert.False(new MerchantPrincipal(new UserId("mallory"), key).IsAllowed(Shop, StoreRole.Owner, Permission.InvoicesView));
    }
}
