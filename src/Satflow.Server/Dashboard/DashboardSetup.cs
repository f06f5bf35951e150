using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Options;
using Satflow.Server.Hosting;

namespace Satflow.Server.Dashboard;

/// <summary>Dashboard settings (configuration keys <c>dashboard-login-limit</c> and <c>dashboard-session-hours</c>).</summary>
/// <param name="LoginAttemptsPerMinute">Login attempts allowed per client address and minute (further attempts get 429).</param>
/// <param name="SessionLifetime">How long a login lasts without activity (sliding).</param>
public sealed record DashboardOptions(int LoginAttemptsPerMinute, TimeSpan SessionLifetime)
{
    /// <summary>Reads the options; a bad value is an <see cref="InvalidOperationException"/> at start.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <returns>The options.</returns>
    public static DashboardOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var limit = 10;
        if (configuration["dashboard-login-limit"] is { } l && (!int.TryParse(l, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit < 1))
        {
            throw new InvalidOperationException("dashboard-login-limit must be a positive integer.");
        }

        var hours = 8.0;
        if (configuration["dashboard-session-hours"] is { } h && (!double.TryParse(h, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out hours) || hours <= 0 || hours > 24 * 30))
        {
            throw new InvalidOperationException("dashboard-session-hours must be between 0 and 720.");
        }

        return new DashboardOptions(limit, TimeSpan.FromHours(hours));
    }
}

/// <summary>
/// Registers and wires the web dashboard under <c>/dashboard</c>: cookie authentication against the merchant users,
/// antiforgery tokens on every form, the login rate limiter, and data-protection keys kept in the data directory.
/// </summary>
public static class DashboardSetup
{
    /// <summary>The dashboard's path prefix.</summary>
    public const string Prefix = "/dashboard";

    /// <summary>The cookie authentication scheme.</summary>
    public const string Scheme = "SatflowDashboard";

    /// <summary>The session cookie's name.</summary>
    public const string SessionCookie = "satflow.dashboard";

    /// <summary>The antiforgery cookie's name.</summary>
    public const string AntiforgeryCookie = "satflow.csrf";

    /// <summary>The antiforgery form field (ASP.NET Core's default name; the options are shared with the sandbox pages).</summary>
    public const string AntiforgeryField = "__RequestVerificationToken";

    /// <summary>The rate-limiter policy on <c>POST /dashboard/login</c>.</summary>
    public const string LoginPolicy = "dashboard-login";

    /// <summary>Registers the dashboard services.</summary>
    /// <param name="services">The services.</param>
    public static void AddSatflowDashboard(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(sp => DashboardOptions.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddDataProtection().SetApplicationName("satflowd");
        services.AddOptions<KeyManagementOptions>().Configure<ServerOptions, ILoggerFactory>((o, server, logs) =>
            o.XmlRepository = new FileSystemXmlRepository(new DirectoryInfo(Path.Combine(server.DataDirectory, "dataprotection-keys")), logs));
        services.AddAuthentication(Scheme).AddCookie(Scheme, o =>
        {
            o.Cookie.Name = SessionCookie;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = Prefix;
            o.LoginPath = Prefix + "/login";
            o.LogoutPath = Prefix + "/logout";
            o.SlidingExpiration = true;
        });
        services.AddOptions<CookieAuthenticationOptions>(Scheme).Configure<DashboardOptions>((o, d) => o.ExpireTimeSpan = d.SessionLifetime);
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = AntiforgeryCookie;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/";
            o.FormFieldName = AntiforgeryField;
            o.HeaderName = null;
        });
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(LoginPolicy, http =>
            {
                var limit = http.RequestServices.GetRequiredService<DashboardOptions>().LoginAttemptsPerMinute;
                return RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "local",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });
            });
        });
    }

    /// <summary>Adds the dashboard's middleware (authentication, rate limiting; only for <c>/dashboard</c> paths) and its endpoints.</summary>
    /// <param name="app">The application.</param>
    public static void UseSatflowDashboard(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        _ = app.Services.GetRequiredService<DashboardOptions>();
        _ = app.Services.GetRequiredService<IOptions<AntiforgeryOptions>>().Value;
        app.UseWhen(c => c.Request.Path.StartsWithSegments(Prefix, StringComparison.Ordinal), d =>
        {
            d.UseAuthentication();
            d.UseRateLimiter();
        });
        DashboardEndpoints.Map(app);
    }
}
