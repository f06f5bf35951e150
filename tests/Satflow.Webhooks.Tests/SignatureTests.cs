using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CsCheck;

namespace Satflow.Webhooks.Tests;

public sealed class SignatureTests
{
    private const string Secret = "whsec_0123456789abcdef";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"id\":\"e1\",\"type\":\"invoice.settled\",\"created\":1764124800,\"ownerId\":\"store1\",\"data\":{\"amount\":1000}}");
    private static readonly DateTimeOffset SignedAt = DateTimeOffset.FromUnixTimeSeconds(1764124800);

    // Independent computation with the BCL: HMAC-SHA256(key = UTF-8 secret, message = "<t>." + body).
    private static string Expected(string secret, long t, byte[] body)
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        var message = Encoding.ASCII.GetBytes(t.ToString(CultureInfo.InvariantCulture) + ".").Concat(body).ToArray();
        return Convert.ToHexString(hmac.ComputeHash(message)).ToLowerInvariant();
    }

    [Fact]
    public void Header_matches_an_independent_hmac()
    {
        var header = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        Assert.Equal($"t=1764124800,v1={Expected(Secret, 1764124800, Body)}", header);
    }

    [Fact]
    public void Known_vector_for_a_fixed_message()
    {
        // HMAC-SHA256("key", "0." + "The quick brown fox jumps over the lazy dog") computed by the BCL.
        var body = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog");
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData("key"u8, Encoding.ASCII.GetBytes("0.The quick brown fox jumps over the lazy dog")));
        Assert.Equal(expected, WebhookSignature.ComputeHex("key", 0, body));
        Assert.Equal(64, expected.Length);
    }

    [Fact]
    public void A_fresh_signature_verifies()
    {
        var header = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        Assert.True(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromMinutes(5), SignedAt.AddMinutes(4), out var failure));
        Assert.Equal(WebhookSignatureFailure.None, failure);
    }

    [Fact]
    public void A_tampered_body_is_rejected()
    {
        var header = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        var tampered = (byte[])Body.Clone();
        tampered[^3] ^= 1;
        Assert.False(WebhookSignature.Verify(Secret, header, tampered, TimeSpan.FromMinutes(5), SignedAt, out var failure));
        Assert.Equal(WebhookSignatureFailure.SignatureMismatch, failure);
    }

    [Fact]
    public void Another_secret_is_rejected()
    {
        var header = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        Assert.False(WebhookSignature.Verify(Secret + "x", header, Body, TimeSpan.FromMinutes(5), SignedAt));
    }

    [Fact]
    public void An_old_or_future_timestamp_is_rejected()
    {
        var header = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        Assert.False(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromMinutes(5), SignedAt.AddMinutes(5).AddSeconds(1), out var old));
        Assert.Equal(WebhookSignatureFailure.TimestampOutsideTolerance, old);
        Assert.False(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromMinutes(5), SignedAt.AddMinutes(-6), out var future));
        Assert.Equal(WebhookSignatureFailure.TimestampOutsideTolerance, future);
        Assert.True(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromMinutes(5), SignedAt.AddMinutes(5)));
    }

    [Fact]
    public void A_replayed_signature_with_a_new_timestamp_is_rejected()
    {
        var header = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        var v1 = header[(header.IndexOf("v1=", StringComparison.Ordinal) + 3)..];
        var forged = $"t={SignedAt.AddHours(1).ToUnixTimeSeconds()},v1={v1}";
        Assert.False(WebhookSignature.Verify(Secret, forged, Body, TimeSpan.FromMinutes(5), SignedAt.AddHours(1), out var failure));
        Assert.Equal(WebhookSignatureFailure.SignatureMismatch, failure);
    }

    [Fact]
    public void Any_of_several_v1_values_may_match_and_unknown_schemes_are_ignored()
    {
        var good = Expected(Secret, 1764124800, Body);
        var header = $"t=1764124800, v0=abc, v1={new string('0', 64)}, v1={good}";
        Assert.True(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromMinutes(5), SignedAt));
    }

    [Fact]
    public void Property_sign_then_verify_and_any_body_change_breaks_it()
    {
        Gen.Select(Gen.String[16, 64], Gen.Byte.Array[0, 200], Gen.Long[0, 4_000_000_000], Gen.Int[0, 299]).Sample((secret, body, t, flip) =>
        {
            var at = DateTimeOffset.FromUnixTimeSeconds(t);
            var header = WebhookSignature.CreateHeader(secret, at, body);
            Assert.Equal($"t={t},v1={Expected(secret, t, body)}", header);
            Assert.True(WebhookSignature.Verify(secret, header, body, TimeSpan.FromMinutes(5), at.AddSeconds(299)));
            if (body.Length > 0)
            {
                var changed = (byte[])body.Clone();
                changed[flip % body.Length] ^= 0x01;
                Assert.False(WebhookSignature.Verify(secret, header, changed, TimeSpan.FromMinutes(5), at));
            }

            Assert.False(WebhookSignature.Verify(secret, header, body.Append((byte)'x').ToArray(), TimeSpan.FromMinutes(5), at));
        }, iter: 500);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("t=1764124800")]
    [InlineData("v1=00")]
    [InlineData("t=abc,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=-5,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=1,t=2,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=1764124800,v1=zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=1764124800,v1")]
    public void Malformed_headers_are_rejected(string? header)
    {
        Assert.False(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromMinutes(5), SignedAt, out var failure));
        Assert.Equal(WebhookSignatureFailure.Malformed, failure);
    }

    [Fact]
    public void Random_headers_never_throw_and_never_verify()
    {
        Gen.String.Sample(header =>
            Assert.False(WebhookSignature.Verify(Secret, header, Body, TimeSpan.FromDays(100000), SignedAt)), iter: 2000);
        var valid = WebhookSignature.CreateHeader(Secret, SignedAt, Body);
        Gen.Int[0, valid.Length - 1].Select(Gen.Char['!', '~']).Sample((i, c) =>
        {
            var mutated = valid[..i] + c + valid[(i + 1)..];
            var ok = WebhookSignature.Verify(Secret, mutated, Body, TimeSpan.FromMinutes(5), SignedAt);
            // Only a no-op mutation (or a hex case change, which decodes to the same bytes) may still verify.
            Assert.True(!ok || string.Equals(mutated, valid, StringComparison.OrdinalIgnoreCase) || mutated.Replace(" ", "", StringComparison.Ordinal) == valid);
        }, iter: 2000);
    }
}
