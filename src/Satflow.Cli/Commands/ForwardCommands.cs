using System.CommandLine;
using Satflow.Node.Api;

namespace Satflow.Cli.Commands;

/// <summary><c>satflow forwards list</c>: the HTLCs the running node forwarded, through its admin API.</summary>
internal static class ForwardCommands
{
    public static Command Create()
    {
        var command = new Command("forwards", "HTLCs the running node forwarded (needs `satflow node start`).");
        command.Subcommands.Add(CreateList());
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List forwards, oldest first: channels in and out, amounts, fee earned, state.");
        NodeOutput.SetApiAction(command, new NodeApiOptions(), async (parse, client, ct) =>
        {
            var result = await client.GetAsync<List<ForwardInfo>>("v1/forwards", ct).ConfigureAwait(false);
            NodeOutput.Write(parse, result, (output, forwards) =>
            {
                CliTable.Rows(output,
                    ["received", "in", "out", "amount in", "amount out", "fee", "state", "reason"],
                    forwards.Select(f => (IReadOnlyList<string>)
                    [
                        NodeOutput.Time(f.ReceivedAt),
                        f.IncomingShortChannelId?.ToString() ?? f.IncomingChannelId.ToString(),
                        f.OutgoingShortChannelId?.ToString() ?? "-",
                        NodeOutput.Msat(f.AmountIn),
                        NodeOutput.Msat(f.AmountOut),
                        NodeOutput.Msat(f.Fee),
                        NodeOutput.State(f.State),
                        f.FailureReason ?? "-",
                    ]));
                var earned = forwards.Where(f => f.State == ForwardState.Settled).Aggregate(0UL, (sum, f) => sum + f.Fee.Value);
                output.WriteLine($"{forwards.Count(f => f.State == ForwardState.Settled)} settled, {forwards.Count(f => f.State == ForwardState.Failed)} failed, {forwards.Count(f => f.State == ForwardState.Pending)} pending; earned {NodeOutput.Msat(new Lightning.Types.MilliSatoshi(earned))}");
            });
            return 0;
        });
        return command;
    }
}
