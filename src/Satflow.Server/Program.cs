using Satflow.Merchant;
using Satflow.Server.Hosting;

namespace Satflow.Server;

/// <summary>The satflowd entry point.</summary>
public sealed class Program
{
    private Program()
    {
    }

    /// <summary>Runs the server, or the <c>bootstrap</c> command.</summary>
    /// <param name="args">Command line (ASP.NET Core's <c>--urls</c> and the satflowd options).</param>
    /// <returns>The exit code.</returns>
    public static Task<int> Main(string[] args) => RunAsync(args, CancellationToken.None);

    /// <summary>The default listening address when neither <c>--urls</c> nor <c>ASPNETCORE_URLS</c> is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Runs the server until the token is cancelled (or Ctrl-C), or the <c>bootstrap</c> command.</summary>
    /// <param name="args">Command line.</param>
    /// <param name="stop">Stops the server.</param>
    /// <returns>The exit code.</returns>
    internal static async Task<int> RunAsync(string[] args, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0] == "bootstrap")
        {
            return await Bootstrap.RunAsync(args[1..]).ConfigureAwait(false);
        }

        var builder = WebApplication.CreateBuilder(NormalizeFlags(args));
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Logging.ClearProviders();
        if (string.Equals(builder.Configuration["log-format"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(o => o.UseUtcTimestamp = true);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; });
        }

        if (builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
        {
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }

        builder.Services.AddSatflowServer();
        await using var app = builder.Build();
        try
        {
            SatflowServer.Configure(app);
        }
        catch (MerchantException e)
        {
            app.Logger.LogCritical("satflowd cannot start: {Reason}: {Message}", e.Reason, e.Message);
            return 1;
        }

        await app.RunAsync(stop).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Turns a bare <c>--sandbox</c> switch into <c>--sandbox=true</c> (configuration keys otherwise take the next argument as their value).</summary>
    /// <param name="args">Command line.</param>
    /// <returns>The normalised command line.</returns>
    internal static string[] NormalizeFlags(string[] args)
    {
        var result = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            var bare = args[i] is "--sandbox" or "/sandbox";
            var nextIsValue = i + 1 < args.Length && !args[i + 1].StartsWith('-') && args[i + 1] is "true" or "false";
            result.Add(bare && !nextIsValue ? "--sandbox=true" : args[i]);
        }

        return [.. result];
    }
}
