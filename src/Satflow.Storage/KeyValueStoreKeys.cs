namespace Satflow.Storage;

/// <summary>
/// The rules every store applies to a (primary namespace, secondary namespace, key) triple, as in LDK's KVStore:
/// <list type="bullet">
/// <item>each of the three is made of <c>[A-Za-z0-9_-]</c> only (ASCII) and is at most <see cref="MaxLength"/> characters;</item>
/// <item>the key is never empty;</item>
/// <item>either namespace may be empty, but a non-empty secondary namespace requires a non-empty primary one
/// (so the valid shapes are ("", "", key), (primary, "", key) and (primary, secondary, key));</item>
/// <item>null is never valid.</item>
/// </list>
/// Keys are compared and listed by ordinal (byte) order.
/// </summary>
public static class KeyValueStoreKeys
{
    /// <summary>The maximum length, in characters, of a namespace or a key.</summary>
    public const int MaxLength = 120;

    /// <summary>True when <paramref name="value"/> has only allowed characters and at most <see cref="MaxLength"/> of them (empty is allowed here).</summary>
    /// <param name="value">A namespace or key.</param>
    /// <returns>Whether the charset and length rules hold.</returns>
    public static bool IsValidComponent(string? value)
    {
        if (value is null || value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!IsAllowed(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Checks a namespace pair, as used by listing.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <exception cref="KeyValueStoreException">The pair breaks a rule.</exception>
    public static void ValidateNamespaces(string? primaryNamespace, string? secondaryNamespace)
    {
        if (!IsValidComponent(primaryNamespace))
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.InvalidPrimaryNamespace,
                $"Invalid primary namespace {Describe(primaryNamespace)}: use at most {MaxLength} characters of [A-Za-z0-9_-].");
        }

        if (!IsValidComponent(secondaryNamespace))
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.InvalidSecondaryNamespace,
                $"Invalid secondary namespace {Describe(secondaryNamespace)}: use at most {MaxLength} characters of [A-Za-z0-9_-].");
        }

        if (primaryNamespace!.Length == 0 && secondaryNamespace!.Length != 0)
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.InvalidNamespaceCombination,
                $"Secondary namespace {Describe(secondaryNamespace)} given with an empty primary namespace; a secondary namespace needs a primary one.");
        }
    }

    /// <summary>Checks a full (primary, secondary, key) triple.</summary>
    /// <param name="primaryNamespace">The primary namespace.</param>
    /// <param name="secondaryNamespace">The secondary namespace.</param>
    /// <param name="key">The key.</param>
    /// <exception cref="KeyValueStoreException">The triple breaks a rule.</exception>
    public static void Validate(string? primaryNamespace, string? secondaryNamespace, string? key)
    {
        ValidateNamespaces(primaryNamespace, secondaryNamespace);
        if (!IsValidComponent(key) || key!.Length == 0)
        {
            throw new KeyValueStoreException(
                KeyValueStoreErrorReason.InvalidKey,
                $"Invalid key {Describe(key)}: use 1 to {MaxLength} characters of [A-Za-z0-9_-].");
        }
    }

    /// <summary>Checks every operation of a batch before any is applied.</summary>
    /// <param name="operations">The batch.</param>
    /// <exception cref="KeyValueStoreException">The list or one of its operations is invalid.</exception>
    public static void ValidateBatch(IReadOnlyList<KvOperation>? operations)
    {
        if (operations is null)
        {
            throw new KeyValueStoreException(KeyValueStoreErrorReason.InvalidBatch, "The batch is null.");
        }

        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i] ?? throw new KeyValueStoreException(
                KeyValueStoreErrorReason.InvalidBatch, $"Batch operation #{i} is null.");
            Validate(op.PrimaryNamespace, op.SecondaryNamespace, op.Key);
        }
    }

    private static bool IsAllowed(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-';

    private static string Describe(string? value)
    {
        if (value is null)
        {
            return "(null)";
        }

        var shown = value.Length > 40 ? string.Concat(value.AsSpan(0, 40), "…") : value;
        return $"\"{shown}\" (length {value.Length})";
    }
}
