using System.CommandLine;
using System.Globalization;
using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow bolt11 decode|encode</c>: BOLT 11 invoices.</summary>
internal static class Bolt11Commands
{
    public static Command Create()
    {
        var command = new Command("bolt11", "BOLT 11 invoices: decode and verify, or encode and sign.");
        command.Subcommands.Add(CreateDecode());
        command.Subcommands.Add(CreateEncode());
        return command;
    }

    /// <summary>The <c>--json</c> shape of a decoded invoice.</summary>
    internal sealed record DecodedInvoice(
        string Network,
        ulong? AmountMsat,
        ulong Timestamp,
        ulong Expiry,
        string PaymentHash,
        string PaymentSecret,
        string? Description,
        string? DescriptionHash,
        string Payee,
        ulong MinFinalCltvExpiry,
        IReadOnlyList<int> Features,
        IReadOnlyList<string> Fallbacks,
        IReadOnlyList<IReadOnlyList<RouteHintJson>> RouteHints,
        string? Metadata,
        bool SignatureValid);

    /// <summary>One route hint hop in JSON.</summary>
    internal sealed record RouteHintJson(string Pubkey, string ShortChannelId, uint FeeBaseMsat, uint FeeProportionalMillionths, ushort CltvExpiryDelta);

    private static Command CreateDecode()
    {
        var invoiceArgument = new Argument<string>("invoice") { Description = "The BOLT 11 invoice (lnbc..., lntb..., lntbs..., lnbcrt...)." };
        var command = new Command("decode", "Decode a BOLT 11 invoice and verify its signature.");
        command.Arguments.Add(invoiceArgument);
        command.SetAction((parseResult, _) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var text = parseResult.GetValue(invoiceArgument)?.Trim() ?? "";
            Bolt11Invoice invoice;
            try
            {
                invoice = Bolt11Invoice.Decode(text);
            }
            catch (InvoiceFormatException ex)
            {
                throw new CliException("invalid invoice: " + ex.Message);
            }
            var decoded = ToJson(invoice);
            if (parseResult.GetValue(SatflowCli.JsonOption))
            {
                CliJson.Write(output, decoded);
            }
            else
            {
                WriteListing(output, decoded);
            }
            return Task.FromResult(0);
        });
        return command;
    }

    internal static DecodedInvoice ToJson(Bolt11Invoice invoice) => new(
        invoice.Network.CurrencyPrefix(),
        invoice.Amount?.Value,
        invoice.Timestamp,
        invoice.ExpirySeconds,
        invoice.PaymentHash.ToString(),
        invoice.PaymentSecret.ToString(),
        invoice.Description,
        invoice.DescriptionHash?.ToHex(),
        invoice.PayeeNodeId.ToString(),
        invoice.MinFinalCltvExpiryDelta,
        invoice.Features.Bits,
        [.. invoice.Fallbacks.Select(f => f.ToAddress(invoice.Network))],
        [.. invoice.RouteHints.Select(h => (IReadOnlyList<RouteHintJson>)[.. h.Select(x => new RouteHintJson(x.NodeId.ToString(), x.ShortChannelId.ToString(), x.FeeBaseMsat, x.FeeProportionalMillionths, x.CltvExpiryDelta))])],
        invoice.Metadata is { } m ? Convert.ToHexStringLower(m.Span) : null,
        true);

    private static void WriteListing(TextWriter output, DecodedInvoice d)
    {
        void Line(string name, object? value) => output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-24}{value}"));
        Line("network", d.Network);
        Line("amount_msat", d.AmountMsat?.ToString(CultureInfo.InvariantCulture) ?? "(any)");
        Line("timestamp", $"{d.Timestamp} ({DateTimeOffset.FromUnixTimeSeconds((long)d.Timestamp):u})");
        Line("expiry", d.Expiry);
        Line("payment_hash", d.PaymentHash);
        Line("payment_secret", d.PaymentSecret);
        if (d.Description is not null)
        {
            Line("description", d.Description);
        }
        if (d.DescriptionHash is not null)
        {
            Line("description_hash", d.DescriptionHash);
        }
        Line("payee", d.Payee);
        Line("min_final_cltv_expiry", d.MinFinalCltvExpiry);
        Line("features", string.Join(",", d.Features));
        foreach (var fallback in d.Fallbacks)
        {
            Line("fallback", fallback);
        }
        for (var i = 0; i < d.RouteHints.Count; i++)
        {
            foreach (var hop in d.RouteHints[i])
            {
                Line($"route_hint[{i}]", $"{hop.Pubkey} {hop.ShortChannelId} base={hop.FeeBaseMsat} ppm={hop.FeeProportionalMillionths} cltv={hop.CltvExpiryDelta}");
            }
        }
        if (d.Metadata is not null)
        {
            Line("metadata", d.Metadata);
        }
        Line("signature_valid", d.SignatureValid ? "yes" : "no");
    }

    private static Command CreateEncode()
    {
        var key = new Option<string>("--key") { Description = "Hex private key (32 bytes) that signs the invoice; its node id is the payee.", Required = true };
        var network = new Option<string>("--network") { Description = "Chain prefix: bc, tb, tbs or bcrt.", Required = true };
        var amount = new Option<ulong?>("--amount-msat") { Description = "Requested amount in millisatoshis (omit for any amount)." };
        var paymentHash = new Option<string>("--payment-hash") { Description = "Hex SHA256 payment hash (32 bytes).", Required = true };
        var paymentSecret = new Option<string>("--payment-secret") { Description = "Hex payment secret (32 bytes).", Required = true };
        var description = new Option<string?>("--description") { Description = "Description (d field, at most 639 UTF-8 bytes)." };
        var descriptionHash = new Option<string?>("--description-hash") { Description = "Hex SHA256 of a long description (h field)." };
        var expiry = new Option<ulong?>("--expiry") { Description = "Expiry in seconds (x field; default 3600 when omitted)." };
        var minFinalCltv = new Option<ulong?>("--min-final-cltv") { Description = "min_final_cltv_expiry_delta (c field; default 18 when omitted)." };
        var routeHints = new Option<string[]>("--route-hint")
        {
            Description = "A route hint (r field), repeatable. Hops as pubkey:scid:fee_base_msat:fee_proportional_millionths:cltv_expiry_delta "
                + "with scid as BLOCKxTXxOUTPUT; several hops of one hint are joined by commas, e.g. "
                + "02ab...:66051x263430x1800:1:20:3,03cd...:197637x395016x2314:2:30:4",
        };
        var fallbacks = new Option<string[]>("--fallback") { Description = "An on-chain fallback address (f field) for the network, repeatable: P2PKH, P2SH or segwit v0..v16." };
        var features = new Option<string>("--features") { Description = "Comma-separated feature bits for the 9 field.", DefaultValueFactory = _ => "8,14" };
        var timestamp = new Option<ulong?>("--timestamp") { Description = "Creation time in UNIX seconds (default: now)." };

        var command = new Command("encode", "Create and sign a BOLT 11 invoice.");
        foreach (var option in new Option[] { key, network, amount, paymentHash, paymentSecret, description, descriptionHash, expiry, minFinalCltv, fallbacks, routeHints, features, timestamp })
        {
            command.Options.Add(option);
        }
        command.SetAction((parseResult, _) =>
        {
            var net = Bolt11NetworkExtensions.FromCurrencyPrefix(parseResult.GetValue(network) ?? "")
                ?? throw new CliException("--network must be bc, tb, tbs or bcrt");
            var signingKey = ParseKey(parseResult.GetValue(key));
            var time = parseResult.GetValue(timestamp) ?? (ulong)TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
            if (time >= 1UL << 35)
            {
                throw new CliException("--timestamp does not fit in 35 bits");
            }
            var builder = new Bolt11InvoiceBuilder(net, time);
            if (parseResult.GetValue(amount) is { } msat)
            {
                if (msat == 0 || msat > MilliSatoshi.MaxMoney.Value)
                {
                    throw new CliException("--amount-msat must be positive and at most 21M BTC");
                }
                builder.Amount(new MilliSatoshi(msat));
            }
            // Field order s, p, d|h, x, c, r, 9: the order of the spec's examples, so they can be reproduced exactly.
            builder.PaymentSecret(new PaymentSecret(ParseBytes32(parseResult.GetValue(paymentSecret), "--payment-secret")));
            builder.PaymentHash(new PaymentHash(ParseBytes32(parseResult.GetValue(paymentHash), "--payment-hash")));
            var d = parseResult.GetValue(description);
            var h = parseResult.GetValue(descriptionHash);
            if ((d is null) == (h is null))
            {
                throw new CliException("give exactly one of --description and --description-hash");
            }
            if (d is not null)
            {
                if (System.Text.Encoding.UTF8.GetByteCount(d) > 639)
                {
                    throw new CliException("--description is longer than 639 bytes; use --description-hash");
                }
                builder.Description(d);
            }
            else
            {
                builder.DescriptionHash(ParseBytes32(h, "--description-hash"));
            }
            if (parseResult.GetValue(expiry) is { } x)
            {
                builder.Expiry(x);
            }
            if (parseResult.GetValue(minFinalCltv) is { } c)
            {
                builder.MinFinalCltvExpiryDelta(c);
            }
            foreach (var address in parseResult.GetValue(fallbacks) ?? [])
            {
                builder.Fallback(ParseFallback(address, net));
            }
            foreach (var hint in parseResult.GetValue(routeHints) ?? [])
            {
                builder.RouteHint(ParseRouteHint(hint));
            }
            builder.Features(ParseFeatures(parseResult.GetValue(features) ?? ""));

            Bolt11Invoice invoice;
            try
            {
                invoice = builder.Sign(signingKey);
            }
            catch (InvoiceFormatException ex)
            {
                throw new CliException("cannot build invoice: " + ex.Message);
            }
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.GetValue(SatflowCli.JsonOption))
            {
                CliJson.Write(output, new { Invoice = invoice.Encoded, Payee = invoice.PayeeNodeId.ToString() });
            }
            else
            {
                output.WriteLine(invoice.Encoded);
            }
            return Task.FromResult(0);
        });
        return command;
    }

    private static Key ParseKey(string? hex)
    {
        try
        {
            var bytes = Convert.FromHexString(hex ?? "");
            if (bytes.Length != 32)
            {
                throw new CliException("--key must be 64 hex characters");
            }
            return new Key(bytes);
        }
        catch (FormatException)
        {
            throw new CliException("--key must be 64 hex characters");
        }
        catch (ArgumentException)
        {
            throw new CliException("--key is not a valid secp256k1 private key");
        }
    }

    private static Bytes32 ParseBytes32(string? hex, string option) =>
        Bytes32.TryParse(hex, out var value) ? value : throw new CliException($"{option} must be 64 hex characters");

    internal static List<RouteHintHop> ParseRouteHint(string text)
    {
        var hops = new List<RouteHintHop>();
        foreach (var hopText in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var parts = hopText.Split(':');
            if (parts.Length != 5
                || !NodeId.TryParse(parts[0], out var node)
                || !ShortChannelId.TryParse(parts[1], out var scid)
                || !uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var feeBase)
                || !uint.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var feePpm)
                || !ushort.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var cltv))
            {
                throw new CliException($"--route-hint hop '{hopText}' is not pubkey:BLOCKxTXxOUT:fee_base_msat:fee_proportional_millionths:cltv_expiry_delta");
            }
            hops.Add(new RouteHintHop(node, scid, feeBase, feePpm, cltv));
        }
        if (hops.Count > 12)
        {
            throw new CliException("a --route-hint holds at most 12 hops");
        }
        return hops;
    }

    /// <summary>Turns an address into a BOLT 11 fallback through its output script (version 17/18 or the witness version).</summary>
    internal static FallbackAddress ParseFallback(string text, Bolt11Network network)
    {
        var nbitcoinNetwork = network switch
        {
            Bolt11Network.Bitcoin => Network.Main,
            Bolt11Network.Testnet => Network.TestNet,
            Bolt11Network.Signet => NBitcoin.Bitcoin.Instance.Signet,
            _ => Network.RegTest,
        };
        byte[] script;
        try
        {
            script = BitcoinAddress.Create(text, nbitcoinNetwork).ScriptPubKey.ToBytes();
        }
        catch (FormatException)
        {
            throw new CliException($"--fallback '{text}' is not an address for {network.CurrencyPrefix()}");
        }
        if (script is [0x76, 0xa9, 0x14, .., 0x88, 0xac] && script.Length == 25)
        {
            return new FallbackAddress(FallbackAddress.PubKeyHashVersion, script.AsSpan(3, 20));
        }
        if (script is [0xa9, 0x14, .., 0x87] && script.Length == 23)
        {
            return new FallbackAddress(FallbackAddress.ScriptHashVersion, script.AsSpan(2, 20));
        }
        if (script.Length >= 4 && (script[0] == 0 || script[0] is >= 0x51 and <= 0x60) && script[1] == script.Length - 2)
        {
            var version = script[0] == 0 ? (byte)0 : (byte)(script[0] - 0x50);
            if (FallbackAddress.IsValid(version, script.Length - 2))
            {
                return new FallbackAddress(version, script.AsSpan(2));
            }
        }
        throw new CliException($"--fallback '{text}' is not a P2PKH, P2SH or segwit address");
    }

    private static FeatureBits ParseFeatures(string text)
    {
        var bits = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var bit) || bit >= 1000)
            {
                throw new CliException($"--features: '{part}' is not a feature bit number");
            }
            bits.Add(bit);
        }
        return FeatureBits.Of(bits);
    }
}
