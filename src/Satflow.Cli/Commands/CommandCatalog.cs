using System.CommandLine;

namespace Satflow.Cli.Commands;

/// <summary>Every top-level command group. Add a group here with one line.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return DevnetCommands.Create();
        yield return WalletCommands.Create();
        yield return Bolt11Commands.Create();
        yield return Bolt12Commands.Create();
        yield return NodeCommands.Create();
        yield return PeerCommands.Create();
        yield return ChannelCommands.Create();
        yield return InvoiceCommands.Create();
        yield return PayCommands.CreatePay();
        yield return PayCommands.CreateKeysend();
        yield return RouteCommands.Create();
        yield return PaymentCommands.Create();
        yield return GraphCommands.Create();
        yield return ForwardCommands.Create();
    }
}
