using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NBitcoin;

namespace Satflow.Devnet.Rpc;

/// <summary>Positional or named JSON-RPC parameters with Core's type errors.</summary>
internal sealed class RpcParams
{
    private readonly JsonNode?[] _values;

    private RpcParams(JsonNode?[] values) => _values = values;

    public static RpcParams From(JsonNode? node, string method, string[] names, int required, string usage)
    {
        JsonNode?[] values;
        if (node is null)
        {
            values = [];
        }
        else if (node is JsonArray array)
        {
            if (array.Count > names.Length)
            {
                throw new RpcException(RpcErrorCodes.MiscError, $"{method} {usage}");
            }

            values = [.. array];
        }
        else if (node is JsonObject obj)
        {
            values = new JsonNode?[names.Length];
            var last = -1;
            foreach (var (key, value) in obj)
            {
                var index = Array.IndexOf(names, key);
                if (index < 0)
                {
                    throw new RpcException(RpcErrorCodes.MiscError, $"Unknown named parameter {key}");
                }

                values[index] = value;
                last = Math.Max(last, index);
            }

            values = values[..(last + 1)];
        }
        else
        {
            throw new RpcException(RpcErrorCodes.InvalidRequest, "Params must be an array or object");
        }

        for (var i = 0; i < required; i++)
        {
            if (i >= values.Length || values[i] is null)
            {
                throw new RpcException(RpcErrorCodes.MiscError, $"{method} {usage}");
            }
        }

        return new RpcParams(values);
    }

    public bool Has(int index) => index < _values.Length && _values[index] is not null;

    private JsonNode Get(int index) => _values[index]!;

    private static string KindOf(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        _ => "null",
    };

    private static RpcException TypeError(JsonNode? node, string expected)
        => new(RpcErrorCodes.TypeError, $"JSON value of type {KindOf(node)} is not of expected type {expected}");

    public long GetLong(int index)
    {
        var node = Get(index);
        if (node.GetValueKind() != JsonValueKind.Number)
        {
            throw TypeError(node, "number");
        }

        var value = node.AsValue();
        if (value.TryGetValue<long>(out var l))
        {
            return l;
        }

        if (value.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e18)
        {
            return (long)d;
        }

        throw new RpcException(RpcErrorCodes.TypeError, "JSON integer out of range");
    }

    public int GetInt(int index)
    {
        var value = GetLong(index);
        if (value < int.MinValue || value > int.MaxValue)
        {
            throw new RpcException(RpcErrorCodes.TypeError, "JSON integer out of range");
        }

        return (int)value;
    }

    public int GetIntOr(int index, int fallback) => Has(index) ? GetInt(index) : fallback;

    public bool GetBoolOr(int index, bool fallback)
    {
        if (!Has(index))
        {
            return fallback;
        }

        var node = Get(index);
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TypeError(node, "bool"),
        };
    }

    /// <summary>Core's verbosity parameters accept a bool or a number.</summary>
    public int GetVerbosityOr(int index, int fallback)
    {
        if (!Has(index))
        {
            return fallback;
        }

        var node = Get(index);
        return node.GetValueKind() switch
        {
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            JsonValueKind.Number => GetInt(index),
            _ => throw TypeError(node, "number"),
        };
    }

    public string GetString(int index)
    {
        var node = Get(index);
        if (node.GetValueKind() != JsonValueKind.String)
        {
            throw TypeError(node, "string");
        }

        return node.GetValue<string>();
    }

    public JsonArray GetArray(int index)
    {
        var node = Get(index);
        return node as JsonArray ?? throw TypeError(node, "array");
    }

    public uint256 GetHash(int index, string name)
    {
        var text = GetString(index);
        if (text.Length != 64)
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, $"{name} must be of length 64 (not {text.Length}, for '{text}')");
        }

        if (!text.All(Uri.IsHexDigit))
        {
            throw new RpcException(RpcErrorCodes.InvalidParameter, $"{name} must be hexadecimal string (not '{text}')");
        }

        return uint256.Parse(text);
    }

    /// <summary>A BTC amount given as a number or a string, as Core's AmountFromValue.</summary>
    public Money GetAmount(int index)
    {
        var node = Get(index);
        decimal value;
        if (node.GetValueKind() == JsonValueKind.Number)
        {
            value = node.GetValue<decimal>();
        }
        else if (node.GetValueKind() == JsonValueKind.String
            && decimal.TryParse(node.GetValue<string>(), NumberStyles.Number, CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
        }
        else
        {
            throw new RpcException(RpcErrorCodes.TypeError, "Amount is not a number or string");
        }

        if (value < 0)
        {
            throw new RpcException(RpcErrorCodes.TypeError, "Amount out of range");
        }

        if (decimal.Round(value, 8) != value)
        {
            throw new RpcException(RpcErrorCodes.TypeError, "Invalid amount");
        }

        var sats = value * 100_000_000m;
        if (sats > DevnetConsensus.MaxMoney)
        {
            throw new RpcException(RpcErrorCodes.TypeError, "Amount out of range");
        }

        return Money.Satoshis((long)sats);
    }
}
