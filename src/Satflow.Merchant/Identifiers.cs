using System.Security.Cryptography;
using NBitcoin.DataEncoders;

namespace Satflow.Merchant;

/// <summary>Random, URL-safe identifiers (base58 of 16 random bytes).</summary>
internal static class IdentifierGenerator
{
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Encoders.Base58.EncodeData(bytes);
    }

    public static string Validate(string? value, string what)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 64)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"A {what} id must be 1 to 64 characters.");
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                throw new MerchantException(MerchantErrorReason.InvalidArgument, $"A {what} id may contain only ASCII letters, digits, '-' and '_'.");
            }
        }

        return value;
    }
}

/// <summary>Identifies a user.</summary>
public readonly record struct UserId
{
    /// <summary>Wraps a textual id, validating its alphabet.</summary>
    /// <param name="value">1–64 ASCII letters, digits, '-' or '_'.</param>
    public UserId(string value) => Value = IdentifierGenerator.Validate(value, "user");

    /// <summary>The textual id.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static UserId New() => new(IdentifierGenerator.NewId());

    /// <inheritdoc/>
    public override string ToString() => Value;
}

/// <summary>Identifies a store.</summary>
public readonly record struct StoreId
{
    /// <summary>Wraps a textual id, validating its alphabet.</summary>
    /// <param name="value">1–64 ASCII letters, digits, '-' or '_'.</param>
    public StoreId(string value) => Value = IdentifierGenerator.Validate(value, "store");

    /// <summary>The textual id.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static StoreId New() => new(IdentifierGenerator.NewId());

    /// <inheritdoc/>
    public override string ToString() => Value;
}

/// <summary>Identifies an invoice.</summary>
public readonly record struct InvoiceId
{
    /// <summary>Wraps a textual id, validating its alphabet.</summary>
    /// <param name="value">1–64 ASCII letters, digits, '-' or '_'.</param>
    public InvoiceId(string value) => Value = IdentifierGenerator.Validate(value, "invoice");

    /// <summary>The textual id.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static InvoiceId New() => new(IdentifierGenerator.NewId());

    /// <inheritdoc/>
    public override string ToString() => Value;
}

/// <summary>Identifies an API key (not its secret).</summary>
public readonly record struct ApiKeyId
{
    /// <summary>Wraps a textual id, validating its alphabet.</summary>
    /// <param name="value">1–64 ASCII letters, digits, '-' or '_'.</param>
    public ApiKeyId(string value) => Value = IdentifierGenerator.Validate(value, "API key");

    /// <summary>The textual id.</summary>
    public string Value { get; }

    /// <summary>A fresh random id.</summary>
    public static ApiKeyId New() => new(IdentifierGenerator.NewId());

    /// <inheritdoc/>
    public override string ToString() => Value;
}
