using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Satflow.Payouts;

/// <summary>Id syntax shared by the payouts id types: 1..64 characters of [A-Za-z0-9_-].</summary>
internal static class IdSyntax
{
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public static string Check(string? value, string kind) =>
        value is { Length: > 0 and <= 64 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            ? value
            : throw new PayoutsException(PayoutsErrorReason.InvalidArgument, $"'{value}' is not a valid {kind} id (1 to 64 letters, digits, '_' or '-').");
}

/// <summary>Identifies a pull payment.</summary>
[JsonConverter(typeof(IdJsonConverter<PullPaymentId>))]
public readonly record struct PullPaymentId : IPayoutsId<PullPaymentId>
{
    /// <summary>Wraps a validated id.</summary>
    /// <exception cref="PayoutsException">A malformed id.</exception>
    public PullPaymentId(string value) => Value = IdSyntax.Check(value, "pull payment");

    /// <summary>The id text.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static PullPaymentId New() => new(IdSyntax.New());

    /// <inheritdoc />
    public static PullPaymentId FromString(string value) => new(value);

    /// <inheritdoc />
    public override string ToString() => Value;
}

/// <summary>Identifies a payout.</summary>
[JsonConverter(typeof(IdJsonConverter<PayoutId>))]
public readonly record struct PayoutId : IPayoutsId<PayoutId>
{
    /// <summary>Wraps a validated id.</summary>
    /// <exception cref="PayoutsException">A malformed id.</exception>
    public PayoutId(string value) => Value = IdSyntax.Check(value, "payout");

    /// <summary>The id text.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static PayoutId New() => new(IdSyntax.New());

    /// <inheritdoc />
    public static PayoutId FromString(string value) => new(value);

    /// <inheritdoc />
    public override string ToString() => Value;
}

/// <summary>Identifies an on-chain payout batch (one transaction).</summary>
[JsonConverter(typeof(IdJsonConverter<PayoutBatchId>))]
public readonly record struct PayoutBatchId : IPayoutsId<PayoutBatchId>
{
    /// <summary>Wraps a validated id.</summary>
    /// <exception cref="PayoutsException">A malformed id.</exception>
    public PayoutBatchId(string value) => Value = IdSyntax.Check(value, "payout batch");

    /// <summary>The id text.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static PayoutBatchId New() => new(IdSyntax.New());

    /// <inheritdoc />
    public static PayoutBatchId FromString(string value) => new(value);

    /// <inheritdoc />
    public override string ToString() => Value;
}

/// <summary>Identifies a payment request.</summary>
[JsonConverter(typeof(IdJsonConverter<PaymentRequestId>))]
public readonly record struct PaymentRequestId : IPayoutsId<PaymentRequestId>
{
    /// <summary>Wraps a validated id.</summary>
    /// <exception cref="PayoutsException">A malformed id.</exception>
    public PaymentRequestId(string value) => Value = IdSyntax.Check(value, "payment request");

    /// <summary>The id text.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static PaymentRequestId New() => new(IdSyntax.New());

    /// <inheritdoc />
    public static PaymentRequestId FromString(string value) => new(value);

    /// <inheritdoc />
    public override string ToString() => Value;
}

/// <summary>What the payouts id types share (used by their JSON converter).</summary>
/// <typeparam name="TSelf">The id type.</typeparam>
public interface IPayoutsId<TSelf>
{
    /// <summary>The id text.</summary>
    string Value { get; }

    /// <summary>Parses and validates an id.</summary>
    /// <exception cref="PayoutsException">A malformed id.</exception>
    static abstract TSelf FromString(string value);
}

/// <summary>Writes ids as JSON strings.</summary>
internal sealed class IdJsonConverter<T> : JsonConverter<T>
    where T : struct, IPayoutsId<T>
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        T.FromString(reader.GetString() ?? throw new JsonException("Expected an id string."));

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
}
