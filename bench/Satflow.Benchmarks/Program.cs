using BenchmarkDotNet.Running;
using Satflow.Benchmarks.Routing;

if (args is ["routing-latency", .. var rest])
{
    // A quick per-route latency distribution without BenchmarkDotNet's iterations: p50/p90/p99 wall and CPU time.
    RoutingLatency.Run(rest);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
