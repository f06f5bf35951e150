using System.CommandLine;
using System.Globalization;
using NBitcoin;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>wallet address|balance</c> with <c>--datadir</c> or <c>--api</c>: the running node's on-chain wallet instead of the standalone one.</summary>
internal static class NodeWalletCommands
{
    public static async Task<int> AddressAsync(ParseResult parse, NodeApiOptions api, string requestedType, CancellationToken ct)
    {
        if (requestedType.ToLowerInvariant() is not ("p2wpkh" or "bech32"))
        {
            throw new CliException($"the node's wallet hands out p2wpkh addresses only; drop --type {requestedType} or use the standalone wallet (--wallet-dir)");
        }
        using var client = api.CreateClient(parse);
        var result = await client.PostAsync<NodeWalletAddress>("v1/wallet/address", null, ct).ConfigureAwait(false);
        NodeOutput.Write(parse, result, (output, a) => output.WriteLine(a.Address));
        return 0;
    }

    public static async Task<int> BalanceAsync(ParseResult parse, NodeApiOptions api, CancellationToken ct)
    {
        using var client = api.CreateClient(parse);
        var result = await client.GetAsync<NodeWalletBalance>("v1/wallet/balance", ct).ConfigureAwait(false);
        NodeOutput.Write(parse, result, (output, b) => CliTable.KeyValues(output,
        [
            ("confirmed", Btc(b.Confirmed)),
            ("unconfirmed", Btc(b.Unconfirmed)),
            ("immature", Btc(b.Immature)),
            ("total", Btc(b.Total)),
            ("synced to", b.TipHeight?.ToString(CultureInfo.InvariantCulture)),
        ]));
        return 0;
    }

    private static string Btc(Money amount) => amount.ToDecimal(MoneyUnit.BTC).ToString("0.00000000", CultureInfo.InvariantCulture) + " BTC";
}
