using System.Diagnostics;
using System.Globalization;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Benchmarks.Routing;

/// <summary>
/// <c>dotnet run -c Release --project bench/Satflow.Benchmarks -- routing-latency [--pairs N] [--seed N]</c>: routes
/// between random pairs of the synthetic public-network-sized graph and prints the latency distribution, both wall-clock
/// and thread CPU time (the latter is what a loaded machine does not inflate).
/// </summary>
internal static class RoutingLatency
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public static void Run(string[] args)
    {
        var pairs = 500;
        var seed = 7;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--pairs":
                    pairs = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--seed":
                    seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                default:
                    throw new ArgumentException($"Unknown option {args[i]} (use --pairs N, --seed N).");
            }
        }

        var sw = Stopwatch.StartNew();
        var (graph, nodes) = SyntheticNetwork.Generate();
        Console.WriteLine($"graph: {graph.NodeCount} nodes, {graph.ChannelCount} channels, generated in {sw.ElapsedMilliseconds} ms");
        var rng = new Random(seed);
        var list = Enumerable.Range(0, pairs).Select(_ => (S: nodes[rng.Next(nodes.Length)], T: nodes[rng.Next(nodes.Length)])).Where(p => p.S != p.T).ToList();
        var scorer = new ProbabilisticScorer();
        var single = MilliSatoshi.FromSatoshis(50_000);
        var mpp = MilliSatoshi.FromSatoshis(2_000_000);
        for (var warm = 0; warm < 20; warm++)
        {
            Router.FindRoute(graph, scorer, list[warm].S, list[warm].T, single, 40, Now);
        }

        Measure("single path 50,000 sat", list, p => Router.FindRoute(graph, scorer, p.S, p.T, single, 40, Now).IsSuccess);
        Measure("multi-part 2,000,000 sat (16 parts max)", list, p => Router.FindMultiPathRoute(graph, scorer, p.S, p.T, mpp, 40, 16, Now).IsSuccess);
    }

    private static void Measure(string name, List<(NodeId S, NodeId T)> pairs, Func<(NodeId S, NodeId T), bool> run)
    {
        var wall = new List<double>(pairs.Count);
        var cpu = new List<double>(pairs.Count);
        var ok = 0;
        foreach (var pair in pairs)
        {
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var t0 = Stopwatch.GetTimestamp();
            ok += run(pair) ? 1 : 0;
            wall.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds);
        }

        wall.Sort();
        cpu.Sort();
        static string P(List<double> v, int pct) => v[Math.Min(v.Count - 1, v.Count * pct / 100)].ToString("F2", CultureInfo.InvariantCulture);
        Console.WriteLine($"{name}: {ok}/{pairs.Count} found; wall p50 {P(wall, 50)} ms p90 {P(wall, 90)} ms p99 {P(wall, 99)} ms; cpu p50 {P(cpu, 50)} ms p99 {P(cpu, 99)} ms");
    }
}
