using System.Globalization;

namespace Satflow.Lightning.Features;

/// <summary>The BOLT 9 contexts a feature may be presented in.</summary>
[Flags]
public enum FeatureContext
{
    /// <summary>No context.</summary>
    None = 0,

    /// <summary><c>I</c>: the <c>init</c> message.</summary>
    Init = 1,

    /// <summary><c>N</c>: <c>node_announcement</c>.</summary>
    NodeAnnouncement = 2,

    /// <summary><c>C</c>: <c>channel_announcement</c>.</summary>
    ChannelAnnouncement = 4,

    /// <summary><c>C-</c>: <c>channel_announcement</c>, always the odd (optional) bit.</summary>
    ChannelAnnouncementOddOnly = 8,

    /// <summary><c>C+</c>: <c>channel_announcement</c>, always the even (required) bit.</summary>
    ChannelAnnouncementEvenOnly = 16,

    /// <summary><c>9</c>: BOLT 11 invoices.</summary>
    Bolt11Invoice = 32,

    /// <summary><c>B</c>: the <c>allowed_features</c> of a blinded path.</summary>
    BlindedPath = 64,

    /// <summary><c>T</c>: the <c>channel_type</c> of channel opening.</summary>
    ChannelType = 128,
}

/// <summary>A feature assigned in BOLT 9.</summary>
/// <param name="Name">The spec name, e.g. <c>option_anchors</c>.</param>
/// <param name="EvenBit">The compulsory (even) bit; the optional bit is <c>EvenBit + 1</c>.</param>
/// <param name="Contexts">Where the feature may be presented.</param>
/// <param name="Dependencies">Features that must also be set (by name).</param>
/// <param name="IsAssumed">
/// True for features BOLT 9 now lists as <c>ASSUMED</c>: every node has them and may ignore the bits, which stay
/// accepted in the contexts where earlier revisions placed them.
/// </param>
public sealed record Feature(string Name, int EvenBit, FeatureContext Contexts, IReadOnlyList<string> Dependencies, bool IsAssumed = false)
{
    /// <summary>The optional (odd) bit.</summary>
    public int OddBit => EvenBit + 1;

    /// <summary>True when either bit of the pair is set in <paramref name="bits"/>.</summary>
    public bool IsSetIn(FeatureBits bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        return bits.IsSet(EvenBit) || bits.IsSet(OddBit);
    }

    /// <summary>True when the compulsory bit is set in <paramref name="bits"/>.</summary>
    public bool IsCompulsoryIn(FeatureBits bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        return bits.IsSet(EvenBit);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({EvenBit}/{OddBit})");
}

/// <summary>What is wrong with a feature vector.</summary>
public abstract record FeatureError
{
    private protected FeatureError()
    {
    }

    /// <summary>A human-readable description.</summary>
    public abstract string Message { get; }

    /// <inheritdoc />
    public sealed override string ToString() => Message;
}

/// <summary>A feature is set without a feature it depends on (BOLT 9: "MUST set all transitive feature dependencies").</summary>
/// <param name="Feature">The feature that is set.</param>
/// <param name="Dependency">The missing dependency.</param>
public sealed record MissingFeatureDependency(Feature Feature, Feature Dependency) : FeatureError
{
    /// <inheritdoc />
    public override string Message => $"{Feature.Name} requires {Dependency.Name}";
}

/// <summary>A known feature is set in a context where BOLT 9 does not allow it.</summary>
/// <param name="Feature">The feature.</param>
/// <param name="Context">The context being validated.</param>
public sealed record FeatureNotAllowedInContext(Feature Feature, FeatureContext Context) : FeatureError
{
    /// <inheritdoc />
    public override string Message => $"{Feature.Name} must not be set in {Context}";
}

/// <summary>A feature uses the wrong bit of its pair for the context (<c>C-</c> is always odd, <c>C+</c> always even).</summary>
/// <param name="Feature">The feature.</param>
/// <param name="Bit">The bit that is set.</param>
public sealed record FeatureWrongBitForContext(Feature Feature, int Bit) : FeatureError
{
    /// <inheritdoc />
    public override string Message => string.Create(CultureInfo.InvariantCulture, $"{Feature.Name} must not use bit {Bit} in a channel_announcement");
}

/// <summary>Both the compulsory and the optional bit of a feature are set (an origin MUST NOT do this).</summary>
/// <param name="Feature">The feature.</param>
public sealed record FeatureBothBitsSet(Feature Feature) : FeatureError
{
    /// <inheritdoc />
    public override string Message => $"{Feature.Name} has both its compulsory and optional bit set";
}

/// <summary>An even bit this node does not know: BOLT 1 requires closing the connection.</summary>
/// <param name="Bit">The unknown compulsory bit.</param>
public sealed record UnknownCompulsoryFeature(int Bit) : FeatureError
{
    /// <inheritdoc />
    public override string Message => string.Create(CultureInfo.InvariantCulture, $"unknown compulsory feature bit {Bit}");
}

/// <summary>The result of a validation: valid when <see cref="Errors"/> is empty.</summary>
/// <param name="Errors">Every problem found.</param>
public sealed record FeatureValidationResult(IReadOnlyList<FeatureError> Errors)
{
    /// <summary>True when no problem was found.</summary>
    public bool IsValid => Errors.Count == 0;
}

/// <summary>The result of negotiating features with a peer's <c>init</c>.</summary>
/// <param name="Errors">Why the connection must be closed; empty when negotiation succeeded.</param>
/// <param name="Negotiated">The known features negotiated (offered by both, or offered as compulsory by us).</param>
public sealed record FeatureNegotiationResult(IReadOnlyList<FeatureError> Errors, IReadOnlyList<Feature> Negotiated)
{
    /// <summary>True when the connection may proceed.</summary>
    public bool IsSuccess => Errors.Count == 0;

    /// <summary>True when <paramref name="feature"/> was negotiated.</summary>
    public bool IsNegotiated(Feature feature) => Negotiated.Contains(feature);
}

/// <summary>The BOLT 9 feature table, with dependency, context and compulsory-bit checks.</summary>
public static class FeatureRegistry
{
    private const FeatureContext IN = FeatureContext.Init | FeatureContext.NodeAnnouncement;
    private const FeatureContext IN9 = IN | FeatureContext.Bolt11Invoice;
    private const FeatureContext INT = IN | FeatureContext.ChannelType;

    /// <summary><c>option_data_loss_protect</c> (0/1), ASSUMED.</summary>
    public static Feature DataLossProtect { get; } = new("option_data_loss_protect", 0, IN, [], IsAssumed: true);

    /// <summary><c>option_upfront_shutdown_script</c> (4/5).</summary>
    public static Feature UpfrontShutdownScript { get; } = new("option_upfront_shutdown_script", 4, IN, []);

    /// <summary><c>gossip_queries</c> (6/7): the peer has useful gossip to share.</summary>
    public static Feature GossipQueries { get; } = new("gossip_queries", 6, IN, []);

    /// <summary><c>var_onion_optin</c> (8/9), ASSUMED.</summary>
    public static Feature VarOnionOptin { get; } = new("var_onion_optin", 8, IN9, [], IsAssumed: true);

    /// <summary><c>gossip_queries_ex</c> (10/11).</summary>
    public static Feature GossipQueriesEx { get; } = new("gossip_queries_ex", 10, IN, []);

    /// <summary><c>option_static_remotekey</c> (12/13), ASSUMED.</summary>
    public static Feature StaticRemoteKey { get; } = new("option_static_remotekey", 12, INT, [], IsAssumed: true);

    /// <summary><c>payment_secret</c> (14/15), ASSUMED.</summary>
    public static Feature PaymentSecret { get; } = new("payment_secret", 14, IN9, [], IsAssumed: true);

    /// <summary><c>basic_mpp</c> (16/17), requires <c>payment_secret</c>.</summary>
    public static Feature BasicMpp { get; } = new("basic_mpp", 16, IN9, ["payment_secret"]);

    /// <summary><c>option_support_large_channel</c> (18/19).</summary>
    public static Feature SupportLargeChannel { get; } = new("option_support_large_channel", 18, IN, []);

    /// <summary><c>option_anchors</c> (22/23).</summary>
    public static Feature Anchors { get; } = new("option_anchors", 22, INT, []);

    /// <summary><c>option_route_blinding</c> (24/25).</summary>
    public static Feature RouteBlinding { get; } = new("option_route_blinding", 24, IN9, []);

    /// <summary><c>option_shutdown_anysegwit</c> (26/27).</summary>
    public static Feature ShutdownAnySegwit { get; } = new("option_shutdown_anysegwit", 26, IN, []);

    /// <summary><c>option_dual_fund</c> (28/29).</summary>
    public static Feature DualFund { get; } = new("option_dual_fund", 28, IN, []);

    /// <summary><c>option_quiesce</c> (34/35).</summary>
    public static Feature Quiesce { get; } = new("option_quiesce", 34, IN, []);

    /// <summary><c>option_attribution_data</c> (36/37).</summary>
    public static Feature AttributionData { get; } = new("option_attribution_data", 36, IN9, []);

    /// <summary><c>option_onion_messages</c> (38/39).</summary>
    public static Feature OnionMessages { get; } = new("option_onion_messages", 38, IN, []);

    /// <summary><c>option_provide_storage</c> (42/43).</summary>
    public static Feature ProvideStorage { get; } = new("option_provide_storage", 42, IN, []);

    /// <summary><c>option_channel_type</c> (44/45), ASSUMED.</summary>
    public static Feature ChannelType { get; } = new("option_channel_type", 44, IN, [], IsAssumed: true);

    /// <summary><c>option_scid_alias</c> (46/47).</summary>
    public static Feature ScidAlias { get; } = new("option_scid_alias", 46, INT, []);

    /// <summary><c>option_payment_metadata</c> (48/49).</summary>
    public static Feature PaymentMetadata { get; } = new("option_payment_metadata", 48, FeatureContext.Bolt11Invoice, []);

    /// <summary><c>option_zeroconf</c> (50/51), requires <c>option_scid_alias</c>.</summary>
    public static Feature ZeroConf { get; } = new("option_zeroconf", 50, INT, ["option_scid_alias"]);

    /// <summary><c>option_simple_close</c> (60/61), requires <c>option_shutdown_anysegwit</c>.</summary>
    public static Feature SimpleClose { get; } = new("option_simple_close", 60, IN, ["option_shutdown_anysegwit"]);

    /// <summary><c>option_splice</c> (62/63).</summary>
    public static Feature Splice { get; } = new("option_splice", 62, IN, []);

    /// <summary>Every known feature, by ascending bit.</summary>
    public static IReadOnlyList<Feature> All { get; } =
    [
        DataLossProtect, UpfrontShutdownScript, GossipQueries, VarOnionOptin, GossipQueriesEx, StaticRemoteKey, PaymentSecret, BasicMpp,
        SupportLargeChannel, Anchors, RouteBlinding, ShutdownAnySegwit, DualFund, Quiesce, AttributionData, OnionMessages, ProvideStorage,
        ChannelType, ScidAlias, PaymentMetadata, ZeroConf, SimpleClose, Splice,
    ];

    private static readonly Dictionary<string, Feature> ByNameMap = All.ToDictionary(f => f.Name, StringComparer.Ordinal);
    private static readonly Dictionary<int, Feature> ByEvenBit = All.ToDictionary(f => f.EvenBit);

    /// <summary>The feature named <paramref name="name"/>, or null.</summary>
    public static Feature? ByName(string name) => ByNameMap.GetValueOrDefault(name);

    /// <summary>The feature owning <paramref name="bit"/> (either bit of its pair), or null when unknown.</summary>
    public static Feature? ByBit(int bit) => ByEvenBit.GetValueOrDefault(bit & ~1);

    /// <summary>The known features set (either bit) in <paramref name="bits"/>.</summary>
    public static IReadOnlyList<Feature> KnownFeaturesIn(FeatureBits bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        return [.. All.Where(f => f.IsSetIn(bits))];
    }

    /// <summary>The even bits set in <paramref name="bits"/> that no known feature owns (BOLT 1: close the connection).</summary>
    public static IReadOnlyList<int> UnknownCompulsoryBits(FeatureBits bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        return [.. bits.Where(b => b % 2 == 0 && ByBit(b) is null)];
    }

    /// <summary>Missing transitive dependencies of the features set in <paramref name="bits"/>.</summary>
    public static IReadOnlyList<FeatureError> CheckDependencies(FeatureBits bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        var errors = new List<FeatureError>();
        foreach (var feature in KnownFeaturesIn(bits))
        {
            foreach (var dependencyName in feature.Dependencies)
            {
                var dependency = ByNameMap[dependencyName];
                if (!dependency.IsSetIn(bits))
                {
                    errors.Add(new MissingFeatureDependency(feature, dependency));
                }
            }
        }
        return errors;
    }

    /// <summary>
    /// Validates a feature vector presented in <paramref name="context"/>: known features allowed there, the right bit for
    /// <c>C-</c>/<c>C+</c>, not both bits of a pair, every dependency set and no unknown compulsory bit.
    /// </summary>
    /// <param name="bits">The vector.</param>
    /// <param name="context">Exactly one context flag.</param>
    /// <exception cref="ArgumentException">When <paramref name="context"/> is not a single flag.</exception>
    public static FeatureValidationResult Validate(FeatureBits bits, FeatureContext context) => Validate(bits, context, All);

    /// <summary>
    /// Validates against a custom feature table, e.g. <see cref="All"/> plus experimental features such as
    /// <c>option_trampoline</c> that BOLT 9 does not assign yet.
    /// </summary>
    /// <param name="bits">The vector.</param>
    /// <param name="context">Exactly one context flag.</param>
    /// <param name="features">The known features; dependencies are resolved by name within this table.</param>
    /// <exception cref="ArgumentException">When <paramref name="context"/> is not a single flag or a dependency is not in the table.</exception>
    public static FeatureValidationResult Validate(FeatureBits bits, FeatureContext context, IReadOnlyList<Feature> features)
    {
        ArgumentNullException.ThrowIfNull(bits);
        ArgumentNullException.ThrowIfNull(features);
        if (context == FeatureContext.None || (context & (context - 1)) != 0)
        {
            throw new ArgumentException("Validate one context at a time.", nameof(context));
        }
        var errors = new List<FeatureError>();
        var inChannelAnnouncement = context is FeatureContext.ChannelAnnouncement;
        var table = new FeatureTable(features);
        foreach (var feature in table.In(bits))
        {
            var allowed = (feature.Contexts & context) != 0
                || (inChannelAnnouncement && (feature.Contexts & (FeatureContext.ChannelAnnouncementOddOnly | FeatureContext.ChannelAnnouncementEvenOnly)) != 0);
            if (!allowed)
            {
                errors.Add(new FeatureNotAllowedInContext(feature, context));
                continue;
            }
            if (inChannelAnnouncement && (feature.Contexts & FeatureContext.ChannelAnnouncementOddOnly) != 0 && bits.IsSet(feature.EvenBit))
            {
                errors.Add(new FeatureWrongBitForContext(feature, feature.EvenBit));
            }
            if (inChannelAnnouncement && (feature.Contexts & FeatureContext.ChannelAnnouncementEvenOnly) != 0 && bits.IsSet(feature.OddBit))
            {
                errors.Add(new FeatureWrongBitForContext(feature, feature.OddBit));
            }
            if (bits.IsSet(feature.EvenBit) && bits.IsSet(feature.OddBit))
            {
                errors.Add(new FeatureBothBitsSet(feature));
            }
        }
        errors.AddRange(table.MissingDependencies(bits));
        errors.AddRange(table.UnknownCompulsoryBits(bits).Select(b => new UnknownCompulsoryFeature(b)));
        return new FeatureValidationResult(errors);
    }

    /// <summary>
    /// Negotiates with a peer's <c>init</c> features (globalfeatures ORed with features). Fails on unknown compulsory
    /// bits, on missing dependencies and when the peer requires (even bit) a known feature we do not offer. A feature
    /// is negotiated when both sides offered it, or when we offered it as compulsory.
    /// </summary>
    /// <param name="local">Our <c>init</c> features.</param>
    /// <param name="remote">The peer's combined <c>init</c> features.</param>
    public static FeatureNegotiationResult Negotiate(FeatureBits local, FeatureBits remote)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(remote);
        var errors = new List<FeatureError>();
        errors.AddRange(UnknownCompulsoryBits(remote).Select(b => new UnknownCompulsoryFeature(b)));
        errors.AddRange(CheckDependencies(remote));
        var negotiated = new List<Feature>();
        foreach (var feature in All)
        {
            var we = feature.IsSetIn(local);
            var they = feature.IsSetIn(remote);
            if (we && they)
            {
                negotiated.Add(feature);
            }
            else if (feature.IsCompulsoryIn(local))
            {
                // BOLT 1: offered as even by us, the peer would have disconnected had it not supported it.
                negotiated.Add(feature);
            }
            else if (feature.IsCompulsoryIn(remote) && !we)
            {
                errors.Add(new UnsupportedCompulsoryFeature(feature));
            }
        }
        return new FeatureNegotiationResult(errors, negotiated);
    }
}

/// <summary>The peer requires a known feature this node does not support.</summary>
/// <param name="Feature">The feature.</param>
public sealed record UnsupportedCompulsoryFeature(Feature Feature) : FeatureError
{
    /// <inheritdoc />
    public override string Message => $"peer requires {Feature.Name}, which this node does not support";
}

/// <summary>Lookups over one feature table.</summary>
internal sealed class FeatureTable
{
    private readonly IReadOnlyList<Feature> _features;
    private readonly Dictionary<string, Feature> _byName;
    private readonly Dictionary<int, Feature> _byEvenBit;

    public FeatureTable(IReadOnlyList<Feature> features)
    {
        _features = features;
        _byName = new Dictionary<string, Feature>(StringComparer.Ordinal);
        _byEvenBit = [];
        foreach (var feature in features)
        {
            if (feature.EvenBit % 2 != 0 || !_byName.TryAdd(feature.Name, feature) || !_byEvenBit.TryAdd(feature.EvenBit, feature))
            {
                throw new ArgumentException($"Feature {feature} has an odd bit or repeats a name or bit.", nameof(features));
            }
        }
        foreach (var feature in features)
        {
            foreach (var dependency in feature.Dependencies)
            {
                if (!_byName.ContainsKey(dependency))
                {
                    throw new ArgumentException($"{feature.Name} depends on {dependency}, which is not in the table.", nameof(features));
                }
            }
        }
    }

    public IEnumerable<Feature> In(FeatureBits bits) => _features.Where(f => f.IsSetIn(bits));

    public IEnumerable<int> UnknownCompulsoryBits(FeatureBits bits) => bits.Where(b => b % 2 == 0 && !_byEvenBit.ContainsKey(b));

    public IEnumerable<FeatureError> MissingDependencies(FeatureBits bits) =>
        from feature in In(bits)
        from name in feature.Dependencies
        let dependency = _byName[name]
        where !dependency.IsSetIn(bits)
        select (FeatureError)new MissingFeatureDependency(feature, dependency);
}
