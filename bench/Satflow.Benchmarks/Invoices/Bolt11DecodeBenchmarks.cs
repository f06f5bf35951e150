using BenchmarkDotNet.Attributes;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;

namespace Satflow.Benchmarks.Invoices;

/// <summary>
/// BOLT 11 decode + signature check (public-key recovery, or verification against the n field) and BOLT 12 offer
/// decoding. The invoices are spec examples, inlined so the benchmark needs no vector files.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
[MemoryDiagnoser]
public class Bolt11DecodeBenchmarks
{
    // BOLT 11 example "Please send $3 for a cup of coffee to the same peer, within one minute".
    private const string Coffee = "lnbc2500u1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu9qrsgquk0rl77nj30yxdy8j9vdx85fkpmdla2087ne0xh8nhedh8w27kyke0lp53ut353s06fv3qfegext0eh0ymjpf39tuven09sam30g4vgpfna3rh";

    // BOLT 11 example with a fallback address and two route hint hops.
    private const string RouteHints = "lnbc20m1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqsfpp3qjmp7lwpagxun9pygexvgpjdc4jdj85fr9yq20q82gphp2nflc7jtzrcazrra7wwgzxqc8u7754cdlpfrmccae92qgzqvzq2ps8pqqqqqqpqqqqq9qqqvpeuqafqxu92d8lr6fvg0r5gv0heeeqgcrqlnm6jhphu9y00rrhy4grqszsvpcgpy9qqqqqqgqqqqq7qqzq9qrsgqdfjcdk6w3ak5pca9hwfwfh63zrrz06wwfya0ydlzpgzxkn5xagsqz7x9j4jwe7yj7vaf2k9lqsdk45kts2fd0fkr28am0u4w95tt2nsq76cqw0";

    // BOLT 12 offer with description and issuer id (offers-test.json).
    private const string OfferText = "lno1pgx9getnwss8vetrw3hhyuckyypwa3eyt44h6txtxquqh7lz5djge4afgfjn7k4rgrkuag0jsd5xvxg";

    /// <summary>Decode + public-key recovery of a small invoice.</summary>
    [Benchmark(Baseline = true)]
    public string DecodeAndRecover() => Bolt11Invoice.Decode(Coffee).PayeeNodeId.ToString();

    /// <summary>Decode + recovery of an invoice with fallback and route hints.</summary>
    [Benchmark]
    public int DecodeWithRouteHints() => Bolt11Invoice.Decode(RouteHints).RouteHints[0].Count;

    /// <summary>Decode a BOLT 12 offer (no signature).</summary>
    [Benchmark]
    public string DecodeOffer() => Offer.Decode(OfferText).Offer.Description!;
}
