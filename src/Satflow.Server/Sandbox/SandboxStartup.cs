using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Satflow.Merchant;
using Satflow.Server.Hosting;

namespace Satflow.Server.Sandbox;

/// <summary>The sandbox's demo account once it is ready (set by <see cref="SandboxStartupService"/>).</summary>
public sealed class SandboxState
{
    private readonly TaskCompletionSource<SandboxInfo> _info = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the demo account when the sandbox is ready.</summary>
    public Task<SandboxInfo> Info => _info.Task;

    /// <summary>Whether the sandbox is ready.</summary>
    public bool IsReady => _info.Task.IsCompletedSuccessfully;

    internal void SetReady(SandboxInfo info) => _info.TrySetResult(info);

    internal void SetFailed(Exception e) => _info.TrySetException(e);
}

/// <summary>
/// Sandbox mode: once the web server listens and the node with its counterparties runs, creates (or reuses) the demo
/// account, writes <c>sandbox.json</c> and prints the URLs, the login and the API key on standard output (never to the log).
/// </summary>
public sealed class SandboxStartupService : BackgroundService
{
    private readonly IHostApplicationLifetime _lifetime;
    private readonly IServer _server;
    private readonly ServerNode _node;
    private readonly MerchantService _merchant;
    private readonly ServerOptions _options;
    private readonly SandboxState _state;
    private readonly ILogger<SandboxStartupService> _log;

    /// <summary>Creates the service.</summary>
    /// <param name="lifetime">Application lifetime (started signal).</param>
    /// <param name="server">The web server (its bound addresses).</param>
    /// <param name="node">The node holder.</param>
    /// <param name="merchant">The merchant service.</param>
    /// <param name="options">Options.</param>
    /// <param name="state">Where the demo account is published.</param>
    /// <param name="log">Logger.</param>
    public SandboxStartupService(IHostApplicationLifetime lifetime, IServer server, ServerNode node, MerchantService merchant, ServerOptions options, SandboxState state, ILogger<SandboxStartupService> log)
    {
        _lifetime = lifetime;
        _server = server;
        _node = node;
        _merchant = merchant;
        _options = options;
        _state = state;
        _log = log;
    }

    /// <summary>The URL a browser on this machine uses for a bound address (wildcard hosts become 127.0.0.1).</summary>
    /// <param name="address">A bound address such as <c>http://[::]:5080</c>.</param>
    /// <returns>The URL without a trailing slash.</returns>
    public static string BrowsableUrl(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var text = address.Replace("://+:", "://127.0.0.1:", StringComparison.Ordinal).Replace("://*:", "://127.0.0.1:", StringComparison.Ordinal);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return text.TrimEnd('/');
        }

        var host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : uri.Host;
        return new UriBuilder(uri) { Host = host }.Uri.ToString().TrimEnd('/');
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (_lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
            }

            var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault() ?? "http://127.0.0.1:5080";
            var baseUrl = BrowsableUrl(address);
            await _node.WhenReadyAsync(stoppingToken).ConfigureAwait(false);
            var info = await SandboxAccount.EnsureAsync(_merchant, _options.DataDirectory, baseUrl, stoppingToken).ConfigureAwait(false);
            _state.SetReady(info);
            _log.LogInformation("Sandbox ready: open {Url} (login and API key in {File})", info.SandboxUrl, Path.Combine(_options.DataDirectory, SandboxAccount.FileName));
            var banner = $"""

                ==================== Satflow sandbox ====================
                 Open:       {info.SandboxUrl}
                 Dashboard:  {info.DashboardUrl}
                 Login:      {info.Login.Email} / {info.Login.Password}
                 API key:    {info.ApiKey}
                 Store id:   {info.StoreId}
                 API:        {info.ApiUrl}
                 Wallet:     {info.WalletUrl}
                 (also in {Path.Combine(_options.DataDirectory, SandboxAccount.FileName)})
                =========================================================

                """;
            await Console.Out.WriteAsync(banner).ConfigureAwait(false);
            await Console.Out.FlushAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _state.SetFailed(new OperationCanceledException("The server stopped before the sandbox was ready."));
        }
        catch (MerchantException e)
        {
            _state.SetFailed(e);
            _log.LogCritical(e, "The sandbox failed to start: {Reason}: {Message}", e.Reason, e.Message);
        }
    }
}
