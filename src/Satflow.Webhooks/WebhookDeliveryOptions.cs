namespace Satflow.Webhooks;

/// <summary>How the delivery engine retries and what it keeps.</summary>
public sealed record WebhookDeliveryOptions
{
    /// <summary>HTTP attempts per delivery in total, counting across restarts (default 6: the first try and 5 retries).</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>The first retry delay; each next one doubles (exponential backoff), jittered (default 2 s).</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest delay between two attempts (default 5 minutes).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Randomise each delay (decorrelated jitter) so failed endpoints are not hit in lock-step (default on).</summary>
    public bool UseJitter { get; init; } = true;

    /// <summary>The timeout of one HTTP attempt, headers and snippet included (default 15 s).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How many characters of the response body the log keeps (default 1024).</summary>
    public int ResponseSnippetLength { get; init; } = 1024;

    /// <summary>How many pending deliveries one pass picks up (default 100).</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>How many deliveries one pass sends at once (default 4).</summary>
    public int MaxConcurrentDeliveries { get; init; } = 4;

    /// <summary>The <c>User-Agent</c> header.</summary>
    public string UserAgent { get; init; } = "Satflow-Webhooks/1";

    /// <summary>Checks the values.</summary>
    /// <exception cref="WebhookException">With <see cref="WebhookErrorReason.InvalidConfiguration"/>.</exception>
    public void Validate()
    {
        if (MaxAttempts is < 1 or > 100 || BaseDelay < TimeSpan.Zero || MaxDelay < BaseDelay || AttemptTimeout <= TimeSpan.Zero
            || ResponseSnippetLength is < 0 or > 65536 || BatchSize < 1 || MaxConcurrentDeliveries < 1 || string.IsNullOrWhiteSpace(UserAgent))
        {
            throw new WebhookException(WebhookErrorReason.InvalidConfiguration,
                "Webhook delivery options: MaxAttempts 1..100, 0 <= BaseDelay <= MaxDelay, AttemptTimeout > 0, ResponseSnippetLength 0..65536, BatchSize and MaxConcurrentDeliveries >= 1, a User-Agent.");
        }
    }
}
