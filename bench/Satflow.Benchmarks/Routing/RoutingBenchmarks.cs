using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Routing;

/// <summary>
/// Route computation on the synthetic public-network-sized graph (15,000 nodes, 50,000 channels) between random pairs:
/// a single path for 50,000 sat and a multi-part payment for 2,000,000 sat (max 16 parts). Each benchmark operation is
/// one route between one pair (the method cycles over 64 pairs). The setup also prints a per-route latency
/// distribution (p50/p90/p99 over 300 pairs) measured with a stopwatch.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessShortConfig))]
public class RoutingBenchmarks
{
    /// <summary>
    /// The short job (1 launch, 1 warmup, 3 iterations) run in-process: the shared machine is too loaded for
    /// BenchmarkDotNet's generated project to build within its two-minute limit.
    /// </summary>
    private sealed class InProcessShortConfig : ManualConfig
    {
        public InProcessShortConfig() =>
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3).WithToolchain(InProcessEmitToolchain.Instance));
    }

    private const int Pairs = 64;
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
    private static readonly MilliSatoshi SingleAmount = MilliSatoshi.FromSatoshis(50_000);
    private static readonly MilliSatoshi MppAmount = MilliSatoshi.FromSatoshis(2_000_000);
    private NetworkGraph _graph = null!;
    private NodeId[] _nodes = [];
    private (NodeId Source, NodeId Target)[] _pairs = [];
    private readonly ProbabilisticScorer _scorer = new();

    [GlobalSetup]
    public void Setup()
    {
        var sw = Stopwatch.StartNew();
        (_graph, _nodes) = SyntheticNetwork.Generate();
        Console.WriteLine($"// graph: {_graph.NodeCount} nodes, {_graph.ChannelCount} channels, generated in {sw.ElapsedMilliseconds} ms; max degree {_nodes.Max(n => _graph.ChannelsOf(n).Count)}");
        var rng = new Random(7);
        _pairs = [.. Enumerable.Range(0, 300).Select(_ => (_nodes[rng.Next(_nodes.Length)], _nodes[rng.Next(_nodes.Length)])).Where(p => p.Item1 != p.Item2)];
        Report("single", p => Router.FindRoute(_graph, _scorer, p.Source, p.Target, SingleAmount, 40, Now).IsSuccess);
        Report("mpp", p => Router.FindMultiPathRoute(_graph, _scorer, p.Source, p.Target, MppAmount, 40, 16, Now).IsSuccess);
    }

    private void Report(string name, Func<(NodeId Source, NodeId Target), bool> run)
    {
        var times = new List<double>();
        var ok = 0;
        foreach (var pair in _pairs)
        {
            var sw = Stopwatch.StartNew();
            ok += run(pair) ? 1 : 0;
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine($"// {name}: {ok}/{times.Count} found; p50 {times[times.Count / 2]:F2} ms, p90 {times[times.Count * 9 / 10]:F2} ms, p99 {times[times.Count * 99 / 100]:F2} ms");
    }

    [Benchmark(OperationsPerInvoke = Pairs)]
    public int SinglePath()
    {
        var found = 0;
        for (var i = 0; i < Pairs; i++)
        {
            var (s, t) = _pairs[i];
            found += Router.FindRoute(_graph, _scorer, s, t, SingleAmount, 40, Now).IsSuccess ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Pairs)]
    public int MultiPath()
    {
        var found = 0;
        for (var i = 0; i < Pairs; i++)
        {
            var (s, t) = _pairs[i];
            found += Router.FindMultiPathRoute(_graph, _scorer, s, t, MppAmount, 40, 16, Now).IsSuccess ? 1 : 0;
        }

        return found;
    }
}
