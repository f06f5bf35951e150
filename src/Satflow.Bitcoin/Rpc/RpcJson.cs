using System.Globalization;
using System.Text.Json;
using NBitcoin;

namespace Satflow.Bitcoin.Rpc;

/// <summary>Strict readers for Core's JSON results; every mismatch throws <see cref="FormatException"/>.</summary>
internal static class RpcJson
{
    public static JsonElement Object(JsonElement e, string what = "result")
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{what} is {e.ValueKind}, expected an object");
        }

        return e;
    }

    public static JsonElement Array(JsonElement e, string what = "result")
    {
        if (e.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{what} is {e.ValueKind}, expected an array");
        }

        return e;
    }

    public static JsonElement Prop(JsonElement obj, string name)
    {
        Object(obj);
        if (!obj.TryGetProperty(name, out var value))
        {
            throw new FormatException($"'{name}' is missing");
        }

        return value;
    }

    public static bool TryProp(JsonElement obj, string name, out JsonElement value)
    {
        Object(obj);
        if (obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    public static string AsString(JsonElement e, string what = "result") =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new FormatException($"{what} is {e.ValueKind}, expected a string");

    public static string String(JsonElement obj, string name, string? fallback)
    {
        if (TryProp(obj, name, out var v))
        {
            return AsString(v, $"'{name}'");
        }

        return fallback ?? throw new FormatException($"'{name}' is missing");
    }

    public static long AsLong(JsonElement e, string what = "result") =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) ? v : throw new FormatException($"{what} is not an integer");

    public static long Long(JsonElement obj, string name) => AsLong(Prop(obj, name), $"'{name}'");

    public static long? OptLong(JsonElement obj, string name) => TryProp(obj, name, out var v) ? AsLong(v, $"'{name}'") : null;

    public static int AsInt(JsonElement e, string what = "result") =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) ? v : throw new FormatException($"{what} is not a 32-bit integer");

    public static int Int(JsonElement obj, string name) => AsInt(Prop(obj, name), $"'{name}'");

    public static int? OptInt(JsonElement obj, string name) => TryProp(obj, name, out var v) ? AsInt(v, $"'{name}'") : null;

    public static uint UInt(JsonElement obj, string name)
    {
        var v = Prop(obj, name);
        return v.ValueKind == JsonValueKind.Number && v.TryGetUInt32(out var u) ? u : throw new FormatException($"'{name}' is not an unsigned 32-bit integer");
    }

    public static double AsDouble(JsonElement e, string what = "result") =>
        e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var v) ? v : throw new FormatException($"{what} is not a number");

    public static double Double(JsonElement obj, string name) => AsDouble(Prop(obj, name), $"'{name}'");

    public static double OptDouble(JsonElement obj, string name, double fallback) => TryProp(obj, name, out var v) ? AsDouble(v, $"'{name}'") : fallback;

    public static bool AsBool(JsonElement e, string what = "result") => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FormatException($"{what} is not a boolean"),
    };

    public static bool Bool(JsonElement obj, string name) => AsBool(Prop(obj, name), $"'{name}'");

    public static bool OptBool(JsonElement obj, string name, bool fallback) => TryProp(obj, name, out var v) ? AsBool(v, $"'{name}'") : fallback;

    /// <summary>An amount in BTC (Core writes 8 decimals).</summary>
    public static Money AsBtc(JsonElement e, string what = "result")
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDecimal(out var btc))
        {
            throw new FormatException($"{what} is not an amount");
        }

        var sats = btc * 100_000_000m;
        if (sats != decimal.Truncate(sats) || sats < -21_000_000m * 100_000_000m || sats > 21_000_000m * 100_000_000m)
        {
            throw new FormatException($"{what} is not a valid BTC amount");
        }

        return Money.Satoshis((long)sats);
    }

    public static Money Btc(JsonElement obj, string name) => AsBtc(Prop(obj, name), $"'{name}'");

    public static Money? OptBtc(JsonElement obj, string name) => TryProp(obj, name, out var v) ? AsBtc(v, $"'{name}'") : null;

    public static uint256 AsHash(JsonElement e, string what = "result")
    {
        var s = AsString(e, what);
        if (s.Length != 64 || !uint256.TryParse(s, out var hash))
        {
            throw new FormatException($"{what} is not a 32-byte hex hash");
        }

        return hash;
    }

    public static uint256 Hash(JsonElement obj, string name) => AsHash(Prop(obj, name), $"'{name}'");

    public static uint256? OptHash(JsonElement obj, string name) => TryProp(obj, name, out var v) ? AsHash(v, $"'{name}'") : null;

    public static byte[] AsHex(JsonElement e, string what = "result")
    {
        var s = AsString(e, what);
        try
        {
            return Convert.FromHexString(s);
        }
        catch (FormatException)
        {
            throw new FormatException($"{what} is not hex");
        }
    }

    public static byte[] Hex(JsonElement obj, string name) => AsHex(Prop(obj, name), $"'{name}'");

    public static uint HexUInt(JsonElement obj, string name)
    {
        var s = AsString(Prop(obj, name), $"'{name}'");
        return s.Length is > 0 and <= 8 && uint.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new FormatException($"'{name}' is not a 32-bit hex number");
    }

    public static IReadOnlyList<string> Strings(JsonElement e, string what)
    {
        Array(e, what);
        var list = new List<string>(e.GetArrayLength());
        foreach (var item in e.EnumerateArray())
        {
            list.Add(AsString(item, what + " item"));
        }

        return list;
    }

    public static IReadOnlyList<uint256> Hashes(JsonElement e, string what = "result")
    {
        Array(e, what);
        var list = new List<uint256>(e.GetArrayLength());
        foreach (var item in e.EnumerateArray())
        {
            list.Add(AsHash(item, what + " item"));
        }

        return list;
    }

    /// <summary>Core's "warnings" is a string before v28 and an array of strings since.</summary>
    public static IReadOnlyList<string> Warnings(JsonElement obj)
    {
        if (!TryProp(obj, "warnings", out var w))
        {
            return [];
        }

        return w.ValueKind == JsonValueKind.String
            ? (w.GetString() is { Length: > 0 } s ? [s] : [])
            : Strings(w, "'warnings'");
    }
}
