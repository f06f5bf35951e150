using System.CommandLine;
using System.Globalization;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Types;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow bolt12 decode</c>: BOLT 12 offers, invoice requests and invoices.</summary>
internal static class Bolt12Commands
{
    public static Command Create()
    {
        var command = new Command("bolt12", "BOLT 12 offers (lno), invoice requests (lnr) and invoices (lni).");
        command.Subcommands.Add(CreateDecode());
        return command;
    }

    private static readonly System.Text.Json.JsonSerializerOptions CompactJson = new(CliJson.Options) { WriteIndented = false };

    private static Command CreateDecode()
    {
        var stringArgument = new Argument<string>("string") { Description = "The bolt12 string (lno1..., lnr1... or lni1...; '+' joins are allowed)." };
        var command = new Command("decode", "Decode and validate a bolt12 string (signatures are checked for requests and invoices).");
        command.Arguments.Add(stringArgument);
        command.SetAction((parseResult, _) =>
        {
            Bolt12Message message;
            try
            {
                message = Bolt12Message.Decode(parseResult.GetValue(stringArgument)?.Trim() ?? "");
            }
            catch (InvoiceFormatException ex)
            {
                throw new CliException("invalid bolt12 string: " + ex.Message);
            }
            var fields = ToJson(message);
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.GetValue(SatflowCli.JsonOption))
            {
                CliJson.Write(output, fields);
            }
            else
            {
                foreach (var (name, value) in fields)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-28}{Render(value)}"));
                }
            }
            return Task.FromResult(0);
        });
        return command;
    }

    private static string Render(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "yes" : "no",
        System.Collections.IEnumerable list => System.Text.Json.JsonSerializer.Serialize(list, CompactJson),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    internal static Dictionary<string, object?> ToJson(Bolt12Message message)
    {
        var json = new Dictionary<string, object?>
        {
            ["type"] = message.MessageName,
        };
        var offer = message.Offer;
        Add(json, "offer_chains", offer.Chains?.Select(c => c.ToDisplayHex()).ToArray());
        Add(json, "offer_metadata", Hex(offer.Metadata));
        Add(json, "offer_currency", offer.Currency);
        Add(json, "offer_amount", offer.Amount);
        Add(json, "offer_description", offer.Description);
        Add(json, "offer_features", offer.Features?.Bits);
        Add(json, "offer_absolute_expiry", offer.AbsoluteExpiry);
        Add(json, "offer_paths", Paths(offer.Paths));
        Add(json, "offer_issuer", offer.Issuer);
        Add(json, "offer_quantity_max", offer.QuantityMax);
        Add(json, "offer_issuer_id", offer.IssuerId?.ToString());

        InvoiceRequestContent? request = message switch
        {
            InvoiceRequest r => r.Request,
            Bolt12Invoice i => i.Request,
            _ => null,
        };
        if (request is not null)
        {
            Add(json, "invreq_metadata", Hex(request.Metadata));
            Add(json, "invreq_chain", request.Chain?.ToDisplayHex());
            Add(json, "invreq_amount", request.Amount?.Value);
            Add(json, "invreq_features", request.Features?.Bits);
            Add(json, "invreq_quantity", request.Quantity);
            Add(json, "invreq_payer_id", request.PayerId?.ToString());
            Add(json, "invreq_payer_note", request.PayerNote);
            Add(json, "invreq_paths", Paths(request.Paths));
            Add(json, "invreq_bip_353_name", request.Bip353Name is { } n ? new Dictionary<string, string> { ["name"] = n.Name, ["domain"] = n.Domain } : null);
        }

        if (message is Bolt12Invoice invoice)
        {
            var content = invoice.Invoice;
            Add(json, "invoice_paths", Paths(content.Paths));
            Add(json, "invoice_blindedpay", content.BlindedPay?.Select(p => new Dictionary<string, object>
            {
                ["fee_base_msat"] = p.FeeBaseMsat,
                ["fee_proportional_millionths"] = p.FeeProportionalMillionths,
                ["cltv_expiry_delta"] = p.CltvExpiryDelta,
                ["htlc_minimum_msat"] = p.HtlcMinimumMsat.Value,
                ["htlc_maximum_msat"] = p.HtlcMaximumMsat.Value,
                ["features"] = p.Features.Bits,
            }).ToArray());
            Add(json, "invoice_created_at", content.CreatedAt);
            Add(json, "invoice_relative_expiry", content.RelativeExpiry);
            Add(json, "invoice_payment_hash", content.PaymentHash?.ToString());
            Add(json, "invoice_amount", content.Amount?.Value);
            Add(json, "invoice_fallbacks", content.Fallbacks?.Select(f => new Dictionary<string, object>
            {
                ["version"] = f.Version,
                ["address"] = Convert.ToHexStringLower(f.Address.Span),
            }).ToArray());
            Add(json, "invoice_features", content.Features?.Bits);
            Add(json, "invoice_node_id", content.NodeId?.ToString());
        }

        var unknown = message.UnknownRecords;
        if (unknown.Count > 0)
        {
            json["unknown_fields"] = unknown.Select(r => new Dictionary<string, object>
            {
                ["type"] = r.Type,
                ["hex"] = Convert.ToHexStringLower(r.Value.Span),
            }).ToArray();
        }

        switch (message)
        {
            case Offer o:
                json["offer_id"] = o.OfferId.ToHex();
                break;
            case InvoiceRequest r:
                json["signature"] = Convert.ToHexStringLower(r.Signature.Span);
                json["signature_valid"] = true; // decoding verifies it against invreq_payer_id
                break;
            case Bolt12Invoice i:
                json["signature"] = Convert.ToHexStringLower(i.Signature.Span);
                json["signature_valid"] = true; // decoding verifies it against invoice_node_id
                break;
            default:
                break;
        }
        return json;
    }

    private static void Add(Dictionary<string, object?> json, string name, object? value)
    {
        if (value is not null)
        {
            json[name] = value;
        }
    }

    private static string? Hex(ReadOnlyMemory<byte>? bytes) => bytes is { } b ? Convert.ToHexStringLower(b.Span) : null;

    private static object[]? Paths(IReadOnlyList<BlindedPath>? paths) => paths?.Select(p => (object)new Dictionary<string, object>
    {
        ["first_node_id"] = p.FirstNodeId.ToString(),
        ["first_path_key"] = p.FirstPathKey.ToString(),
        ["hops"] = p.Hops.Select(h => new Dictionary<string, string>
        {
            ["blinded_node_id"] = h.BlindedNodeId.ToString(),
            ["encrypted_recipient_data"] = Convert.ToHexStringLower(h.EncryptedRecipientData),
        }).ToArray(),
    }).ToArray();
}
