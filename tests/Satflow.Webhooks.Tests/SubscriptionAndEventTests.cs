using System.Text;
using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace Satflow.Webhooks.Tests;

public sealed class SubscriptionAndEventTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1764124800));

    [Theory]
    [InlineData("https://example.com/hooks")]
    [InlineData("https://example.com:8443/hooks?x=1")]
    [InlineData("http://127.0.0.1:5000/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("http://[::1]:8080/hook")]
    public void Https_or_loopback_http_urls_are_accepted(string url)
    {
        var s = WebhookSubscription.Create("store1", new Uri(url), _time);
        Assert.Equal(64, s.Secret.Length);
        Assert.True(s.Enabled);
        Assert.Equal(_time.GetUtcNow(), s.CreatedAt);
    }

    [Theory]
    [InlineData("http://example.com/hooks")]
    [InlineData("http://10.0.0.1/hooks")]
    [InlineData("ftp://example.com/hooks")]
    [InlineData("https://user:pass@example.com/hooks")]
    [InlineData("https://example.com/hooks#frag")]
    [InlineData("file:///etc/passwd")]
    public void Other_urls_are_refused(string url)
    {
        var e = Assert.Throws<WebhookException>(() => WebhookSubscription.Create("store1", new Uri(url), _time));
        Assert.Equal(WebhookErrorReason.InvalidUrl, e.Reason);
    }

    [Fact]
    public void Relative_urls_short_secrets_and_bad_filters_are_refused()
    {
        Assert.Equal(WebhookErrorReason.InvalidUrl, Assert.Throws<WebhookException>(() => WebhookSubscription.Create("s", new Uri("/x", UriKind.Relative), _time)).Reason);
        Assert.Equal(WebhookErrorReason.InvalidSecret, Assert.Throws<WebhookException>(() => WebhookSubscription.Create("s", new Uri("https://a.example"), _time, "short")).Reason);
        Assert.Equal(WebhookErrorReason.InvalidEventType, Assert.Throws<WebhookException>(() => WebhookSubscription.Create("s", new Uri("https://a.example"), _time, null, ["Invoice.Settled"])).Reason);
        Assert.Equal(WebhookErrorReason.InvalidArgument, Assert.Throws<WebhookException>(() => WebhookSubscription.Create(" ", new Uri("https://a.example"), _time)).Reason);
    }

    [Fact]
    public void Filters_select_types_prefixes_or_everything()
    {
        var all = WebhookSubscription.Create("s", new Uri("https://a.example"), _time);
        var invoices = all with { EventTypes = ["invoice.*"] };
        var settled = all with { EventTypes = ["invoice.settled", "payout.completed"] };
        Assert.True(all.Accepts("payout.failed"));
        Assert.True(invoices.Accepts("invoice.expired"));
        Assert.False(invoices.Accepts("payout.completed"));
        Assert.True(settled.Accepts("payout.completed"));
        Assert.False(settled.Accepts("invoice.created"));
        Assert.False((all with { Enabled = false }).Accepts("invoice.settled"));
    }

    [Fact]
    public void Envelope_round_trips_and_has_the_documented_shape()
    {
        var e = WebhookEvent.Create(WebhookEventTypes.InvoiceSettled, "store1", new { InvoiceId = "inv1", AmountSat = 1500 }, _time);
        var bytes = e.ToJsonBytes();
        Assert.Equal($"{{\"id\":\"{e.Id}\",\"type\":\"invoice.settled\",\"created\":1764124800,\"ownerId\":\"store1\",\"data\":{{\"invoiceId\":\"inv1\",\"amountSat\":1500}}}}", Encoding.UTF8.GetString(bytes));
        var back = WebhookEvent.Parse(bytes);
        Assert.Equal(e.Id, back.Id);
        Assert.Equal(e.Type, back.Type);
        Assert.Equal(e.Created, back.Created);
        Assert.Equal("inv1", back.Data.GetProperty("invoiceId").GetString());
    }

    [Fact]
    public void Invalid_events_are_typed_errors()
    {
        Assert.Equal(WebhookErrorReason.InvalidEventType, Assert.Throws<WebhookException>(() => WebhookEvent.Create("settled", "s", new { }, _time)).Reason);
        Assert.Equal(WebhookErrorReason.InvalidArgument, Assert.Throws<WebhookException>(() => WebhookEvent.Create("invoice.settled", "s", 5, _time)).Reason);
    }

    [Fact]
    public void Parsing_random_or_mutated_bodies_throws_only_webhook_exceptions()
    {
        var valid = WebhookEvent.Create(WebhookEventTypes.PayoutCompleted, "store1", new { PayoutId = "p1" }, _time).ToJsonBytes();
        void Check(byte[] body)
        {
            try
            {
                WebhookEvent.Parse(body);
            }
            catch (WebhookException)
            {
                // The only allowed failure.
            }
        }

        Gen.Byte.Array[0, 300].Sample(Check, iter: 2000);
        Gen.Int[0, valid.Length - 1].Select(Gen.Byte).Sample((i, b) =>
        {
            var copy = (byte[])valid.Clone();
            copy[i] = b;
            Check(copy);
        }, iter: 2000);
    }
}
