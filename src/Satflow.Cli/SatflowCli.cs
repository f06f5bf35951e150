using System.CommandLine;
using Satflow.Cli.Commands;

namespace Satflow.Cli;

/// <summary>The <c>satflow</c> command tree. Tests call <see cref="RunAsync"/> directly with captured writers.</summary>
public static class SatflowCli
{
    /// <summary><c>--json</c>: machine-readable output, available on every command.</summary>
    public static readonly Option<bool> JsonOption = new("--json")
    {
        Description = "Print machine-readable JSON instead of tables.",
        Recursive = true,
    };

    /// <summary>Builds the root command.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("satflow — Bitcoin Layer-2 payments: devnet chain, on-chain wallet, Lightning tools.");
        root.Options.Add(JsonOption);
        foreach (var command in CommandCatalog.All())
        {
            root.Subcommands.Add(command);
        }
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given writers; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var root = Build();
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        try
        {
            return await parse.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("error: cancelled").ConfigureAwait(false);
            return 130;
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync("error: " + OneLine(ex.Message)).ConfigureAwait(false);
            return ex.ExitCode;
        }
#pragma warning disable CA1031 // The CLI's last line of defence: every failure becomes one line on stderr.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await stderr.WriteLineAsync("error: " + OneLine(ex.Message)).ConfigureAwait(false);
            return 1;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}

/// <summary>A failure the user should see as one line on stderr, with a chosen exit code.</summary>
public sealed class CliException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CliException(string message, int exitCode = 1) : base(message) => ExitCode = exitCode;

    /// <summary>Creates the exception.</summary>
    public CliException() : this("failed") { }

    /// <summary>Creates the exception.</summary>
    public CliException(string message) : this(message, 1) { }

    /// <summary>Creates the exception.</summary>
    public CliException(string message, Exception inner) : base(message, inner) => ExitCode = 1;

    /// <summary>The process exit code.</summary>
    public int ExitCode { get; }
}
