using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NBitcoin;

namespace Satflow.Devnet.Rpc;

/// <summary>Bitcoin Core's JSON renderings of scripts, transactions and amounts.</summary>
internal static class RpcJson
{
    private const string InputCharset = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
    private const string ChecksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    /// <summary>An amount in BTC as a JSON number with 8 decimals, like Core's ValueFromAmount.</summary>
    public static JsonNode Amount(long satoshis)
    {
        // Scale 8 so the number prints with eight decimals, as Core's ValueFromAmount does.
        var magnitude = (ulong)Math.Abs(satoshis);
        return JsonValue.Create(new decimal((int)(uint)(magnitude & 0xffffffff), (int)(uint)(magnitude >> 32), 0, satoshis < 0, 8))!;
    }

    public static JsonNode Amount(Money money) => Amount(money.Satoshi);

    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    public static string Difficulty(Target bits) => bits.Difficulty.ToString(CultureInfo.InvariantCulture);

    public static double DifficultyValue(uint bits)
    {
        var shift = (int)((bits >> 24) & 0xff);
        var diff = 0x0000ffff / (double)(bits & 0x00ffffff);
        while (shift < 29)
        {
            diff *= 256.0;
            shift++;
        }

        while (shift > 29)
        {
            diff /= 256.0;
            shift--;
        }

        return diff;
    }

    public static string ScriptType(Script script)
    {
        var bytes = script.ToBytes(true);
        if (bytes.Length > 0 && bytes[0] == (byte)OpcodeType.OP_RETURN)
        {
            return "nulldata";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.P2PKH))
        {
            return "pubkeyhash";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.P2SH))
        {
            return "scripthash";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.P2WPKH))
        {
            return "witness_v0_keyhash";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.P2WSH))
        {
            return "witness_v0_scripthash";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.Taproot))
        {
            return "witness_v1_taproot";
        }

        if (bytes.Length >= 4 && bytes.Length <= 42 && bytes[0] >= 0x51 && bytes[0] <= 0x60 && bytes[1] + 2 == bytes.Length)
        {
            return bytes[0] == 0x51 && bytes.Length == 4 && bytes[2] == 0x4e && bytes[3] == 0x73 ? "anchor" : "witness_unknown";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.P2PK))
        {
            return "pubkey";
        }

        if (script.IsScriptType(NBitcoin.ScriptType.MultiSig))
        {
            return "multisig";
        }

        return "nonstandard";
    }

    public static JsonObject ScriptPubKey(Script script)
    {
        var obj = new JsonObject
        {
            ["asm"] = script.ToString(),
            ["desc"] = Descriptor(script),
            ["hex"] = Hex(script.ToBytes(true)),
        };
        var address = TryAddress(script);
        if (address is not null)
        {
            obj["address"] = address;
        }

        obj["type"] = ScriptType(script);
        return obj;
    }

    public static string? TryAddress(Script script)
    {
        try
        {
            var type = ScriptType(script);
            if (type is "pubkey" or "multisig" or "nulldata" or "nonstandard")
            {
                return null;
            }

            return script.GetDestinationAddress(Network.RegTest)?.ToString();
        }
        catch (Exception ex) when (ex is FormatException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string Descriptor(Script script)
    {
        string body;
        var type = ScriptType(script);
        var address = TryAddress(script);
        if (type == "pubkey")
        {
            body = $"pk({Hex(script.GetAllPubKeys()[0].ToBytes())})";
        }
        else if (type == "witness_v1_taproot")
        {
            body = $"rawtr({Hex(script.ToBytes(true)[2..])})";
        }
        else if (address is not null)
        {
            body = $"addr({address})";
        }
        else
        {
            body = $"raw({Hex(script.ToBytes(true))})";
        }

        return body + "#" + DescriptorChecksum(body);
    }

    /// <summary>The BIP380 descriptor checksum.</summary>
    public static string DescriptorChecksum(string descriptor)
    {
        ulong c = 1;
        var cls = 0;
        var clsCount = 0;
        foreach (var ch in descriptor)
        {
            var pos = InputCharset.IndexOf(ch, StringComparison.Ordinal);
            if (pos < 0)
            {
                return string.Empty;
            }

            c = PolyMod(c, pos & 31);
            cls = (cls * 3) + (pos >> 5);
            if (++clsCount == 3)
            {
                c = PolyMod(c, cls);
                cls = 0;
                clsCount = 0;
            }
        }

        if (clsCount > 0)
        {
            c = PolyMod(c, cls);
        }

        for (var j = 0; j < 8; j++)
        {
            c = PolyMod(c, 0);
        }

        c ^= 1;
        var sb = new StringBuilder(8);
        for (var j = 0; j < 8; j++)
        {
            sb.Append(ChecksumCharset[(int)((c >> (5 * (7 - j))) & 31)]);
        }

        return sb.ToString();
    }

    private static ulong PolyMod(ulong c, int val)
    {
        var c0 = (byte)(c >> 35);
        c = ((c & 0x7ffffffffUL) << 5) ^ (ulong)val;
        if ((c0 & 1) != 0)
        {
            c ^= 0xf5dee51989UL;
        }

        if ((c0 & 2) != 0)
        {
            c ^= 0xa9fdca3312UL;
        }

        if ((c0 & 4) != 0)
        {
            c ^= 0x1bab10e32dUL;
        }

        if ((c0 & 8) != 0)
        {
            c ^= 0x3706b1677aUL;
        }

        if ((c0 & 16) != 0)
        {
            c ^= 0x644d626ffdUL;
        }

        return c;
    }

    /// <summary>Core's TxToUniv.</summary>
    public static JsonObject Transaction(Transaction tx, long? fee = null, bool includeHex = true)
    {
        var weight = DevnetConsensus.Weight(tx);
        var obj = new JsonObject
        {
            ["txid"] = tx.GetHash().ToString(),
            ["hash"] = tx.GetWitHash().ToString(),
            ["version"] = (int)tx.Version,
            ["size"] = tx.GetSerializedSize(),
            ["vsize"] = (weight + 3) / 4,
            ["weight"] = weight,
            ["locktime"] = (uint)tx.LockTime,
        };
        var vin = new JsonArray();
        foreach (var input in tx.Inputs)
        {
            var i = new JsonObject();
            if (tx.IsCoinBase)
            {
                i["coinbase"] = Hex(input.ScriptSig.ToBytes(true));
            }
            else
            {
                i["txid"] = input.PrevOut.Hash.ToString();
                i["vout"] = input.PrevOut.N;
                i["scriptSig"] = new JsonObject
                {
                    ["asm"] = input.ScriptSig.ToString(),
                    ["hex"] = Hex(input.ScriptSig.ToBytes(true)),
                };
            }

            if (input.WitScript.PushCount > 0)
            {
                var witness = new JsonArray();
                foreach (var push in input.WitScript.Pushes)
                {
                    witness.Add(Hex(push));
                }

                i["txinwitness"] = witness;
            }

            i["sequence"] = (uint)input.Sequence;
            vin.Add(i);
        }

        obj["vin"] = vin;
        var vout = new JsonArray();
        for (var n = 0; n < tx.Outputs.Count; n++)
        {
            vout.Add(new JsonObject
            {
                ["value"] = Amount(tx.Outputs[n].Value),
                ["n"] = n,
                ["scriptPubKey"] = ScriptPubKey(tx.Outputs[n].ScriptPubKey),
            });
        }

        obj["vout"] = vout;
        if (fee is not null)
        {
            obj["fee"] = Amount(fee.Value);
        }

        if (includeHex)
        {
            obj["hex"] = tx.ToHex();
        }

        return obj;
    }
}
