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
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0] == "bootstrap")
        {
            return await Bootstrap.RunAsync(args[1..]).ConfigureAwait(false);
        }

        var builder = WebApplication.CreateBuilder(args);
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

        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }
}
