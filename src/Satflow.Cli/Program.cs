using System.Runtime.InteropServices;
using Satflow.Cli;

// Ctrl-C (SIGINT) and SIGTERM cancel the running command, which then shuts down cleanly (e.g. `devnet start`).
using var shutdown = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    shutdown.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    shutdown.Cancel();
});

return await SatflowCli.RunAsync(args, Console.Out, Console.Error, shutdown.Token).ConfigureAwait(false);
