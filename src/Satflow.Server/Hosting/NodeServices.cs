using Satflow.Node.Api;
using Satflow.Server.Sandbox;

namespace Satflow.Server.Hosting;

/// <summary>Registers the in-process node (sandbox and production modes) and the sandbox services.</summary>
public static class NodeServices
{
    /// <summary>
    /// Registers <see cref="ServerNode"/>, the <see cref="NodeHostingService"/> that starts it, <see cref="INodeOperations"/>
    /// (resolving it waits for the node, at most 2 minutes; it resolves to null in standalone mode), the automatic payout processors, the <see cref="NodeLedgerService"/> that books the node's balance movements in the ledger and, in sandbox mode, the sandbox start-up service.
    /// </summary>
    /// <param name="services">The services.</param>
    public static void AddSatflowNode(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton<ServerNode>();
        services.AddSingleton<SandboxState>();
        services.AddAntiforgery();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ServerOptions>().Mode == ServerMode.Standalone
            ? new IdleService()
            : (IHostedService)ActivatorUtilities.CreateInstance<NodeHostingService>(sp));
        services.AddSingleton<PayoutProcessingService>();
        services.AddSingleton<NodeReconciliation>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ServerOptions>().Mode == ServerMode.Standalone
            ? new IdleService()
            : ActivatorUtilities.CreateInstance<NodeLedgerService>(sp));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ServerOptions>().Mode == ServerMode.Standalone
            ? new IdleService()
            : sp.GetRequiredService<PayoutProcessingService>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ServerOptions>().Mode == ServerMode.Sandbox
            ? ActivatorUtilities.CreateInstance<SandboxStartupService>(sp)
            : (IHostedService)new IdleService());
        services.AddSingleton<INodeOperations>(sp => sp.GetRequiredService<ServerOptions>().Mode == ServerMode.Standalone
            ? null!
            : sp.GetRequiredService<ServerNode>().WhenReadyAsync().WaitAsync(TimeSpan.FromMinutes(2)).GetAwaiter().GetResult().Operations);
    }

    private sealed class IdleService : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
