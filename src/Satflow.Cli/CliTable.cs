using Spectre.Console;

namespace Satflow.Cli;

/// <summary>Human-readable output: key/value listings and tables rendered with Spectre.Console to any writer.</summary>
internal static class CliTable
{
    public static IAnsiConsole Console(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        // Output is often piped; never wrap txids and addresses at 80 columns.
        console.Profile.Width = 400;
        return console;
    }

    public static void KeyValues(TextWriter writer, IEnumerable<(string Key, string? Value)> rows)
    {
        var table = new Table().NoBorder().HideHeaders();
        table.AddColumn("key");
        table.AddColumn("value");
        foreach (var (key, value) in rows)
        {
            table.AddRow(Markup.Escape(key), Markup.Escape(value ?? "-"));
        }
        Console(writer).Write(table);
    }

    public static void Rows(TextWriter writer, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var header in headers)
        {
            table.AddColumn(Markup.Escape(header));
        }
        foreach (var row in rows)
        {
            table.AddRow([.. row.Select(Markup.Escape)]);
        }
        Console(writer).Write(table);
    }
}
