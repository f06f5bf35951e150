using Satflow.Cli;

return await SatflowCli.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
