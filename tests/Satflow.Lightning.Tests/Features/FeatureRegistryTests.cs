using Satflow.Lightning.Features;

namespace Satflow.Lightning.Tests.Features;

public sealed class FeatureRegistryTests
{
    [Fact]
    public void Registry_matches_the_bolt9_table()
    {
        var expected = new Dictionary<string, int>
        {
            ["option_data_loss_protect"] = 0, ["option_upfront_shutdown_script"] = 4, ["gossip_queries"] = 6, ["var_onion_optin"] = 8,
            ["gossip_queries_ex"] = 10, ["option_static_remotekey"] = 12, ["payment_secret"] = 14, ["basic_mpp"] = 16,
            ["option_support_large_channel"] = 18, ["option_anchors"] = 22, ["option_route_blinding"] = 24, ["option_shutdown_anysegwit"] = 26,
            ["option_dual_fund"] = 28, ["option_quiesce"] = 34, ["option_attribution_data"] = 36, ["option_onion_messages"] = 38,
            ["option_provide_storage"] = 42, ["option_channel_type"] = 44, ["option_scid_alias"] = 46, ["option_payment_metadata"] = 48,
            ["option_zeroconf"] = 50, ["option_simple_close"] = 60, ["option_splice"] = 62,
        };
        Assert.Equal(expected.Count, FeatureRegistry.All.Count);
        foreach (var (name, bit) in expected)
        {
            var feature = FeatureRegistry.ByName(name);
            Assert.NotNull(feature);
            Assert.Equal(bit, feature.EvenBit);
            Assert.Same(feature, FeatureRegistry.ByBit(bit));
            Assert.Same(feature, FeatureRegistry.ByBit(bit + 1));
        }
        Assert.Equal(["payment_secret"], FeatureRegistry.BasicMpp.Dependencies);
        Assert.Equal(["option_scid_alias"], FeatureRegistry.ZeroConf.Dependencies);
        Assert.Equal(["option_shutdown_anysegwit"], FeatureRegistry.SimpleClose.Dependencies);
        Assert.Equal(FeatureContext.Bolt11Invoice, FeatureRegistry.PaymentMetadata.Contexts);
        Assert.True(FeatureRegistry.Anchors.Contexts.HasFlag(FeatureContext.ChannelType));
        Assert.False(FeatureRegistry.Splice.Contexts.HasFlag(FeatureContext.Bolt11Invoice));
    }

    [Fact]
    public void Missing_dependency_is_reported_as_X_requires_Y()
    {
        var result = FeatureRegistry.Validate(FeatureBits.Of(17), FeatureContext.Init);
        var error = Assert.IsType<MissingFeatureDependency>(Assert.Single(result.Errors));
        Assert.Equal("basic_mpp requires payment_secret", error.Message);
        Assert.True(FeatureRegistry.Validate(FeatureBits.Of(15, 17), FeatureContext.Init).IsValid);
        Assert.Equal("option_zeroconf requires option_scid_alias", Assert.Single(FeatureRegistry.CheckDependencies(FeatureBits.Of(50))).Message);
        Assert.Equal("option_simple_close requires option_shutdown_anysegwit", Assert.Single(FeatureRegistry.CheckDependencies(FeatureBits.Of(61))).Message);
        Assert.Empty(FeatureRegistry.CheckDependencies(FeatureBits.Of(47, 50, 27, 61)));
    }

    [Fact]
    public void Feature_set_outside_its_contexts_is_reported()
    {
        // option_payment_metadata is invoice-only; option_splice never appears in invoices.
        var init = FeatureRegistry.Validate(FeatureBits.Of(49), FeatureContext.Init);
        Assert.Equal(FeatureRegistry.PaymentMetadata, Assert.IsType<FeatureNotAllowedInContext>(Assert.Single(init.Errors)).Feature);
        var invoice = FeatureRegistry.Validate(FeatureBits.Of(63), FeatureContext.Bolt11Invoice);
        Assert.IsType<FeatureNotAllowedInContext>(Assert.Single(invoice.Errors));
        Assert.True(FeatureRegistry.Validate(FeatureBits.Of(49, 9, 15), FeatureContext.Bolt11Invoice).IsValid);
        // channel_type only carries T features.
        Assert.True(FeatureRegistry.Validate(FeatureBits.Of(22, 46), FeatureContext.ChannelType).IsValid);
        Assert.IsType<FeatureNotAllowedInContext>(Assert.Single(FeatureRegistry.Validate(FeatureBits.Of(28), FeatureContext.ChannelType).Errors));
        // No current feature is presented in channel_announcement.
        Assert.IsType<FeatureNotAllowedInContext>(Assert.Single(FeatureRegistry.Validate(FeatureBits.Of(23), FeatureContext.ChannelAnnouncement).Errors));
    }

    [Fact]
    public void Unknown_compulsory_bits_are_detected_and_unknown_optional_bits_ignored()
    {
        Assert.Equal([100], FeatureRegistry.UnknownCompulsoryBits(FeatureBits.Of(100, 101, 103, 9)));
        Assert.Empty(FeatureRegistry.UnknownCompulsoryBits(FeatureBits.Of(101, 103, 8)));
        var result = FeatureRegistry.Validate(FeatureBits.Of(2), FeatureContext.Init);
        Assert.Equal(2, Assert.IsType<UnknownCompulsoryFeature>(Assert.Single(result.Errors)).Bit);
    }

    [Fact]
    public void Both_bits_of_a_pair_is_reported()
    {
        var result = FeatureRegistry.Validate(FeatureBits.Of(22, 23), FeatureContext.NodeAnnouncement);
        Assert.Equal(FeatureRegistry.Anchors, Assert.IsType<FeatureBothBitsSet>(Assert.Single(result.Errors)).Feature);
    }

    [Fact]
    public void Negotiation_follows_bolt1()
    {
        var local = FeatureBits.Of(8, 15, 17, 23, 63);
        var remote = FeatureBits.Of(9, 15, 23, 101);
        var result = FeatureRegistry.Negotiate(local, remote);
        Assert.True(result.IsSuccess);
        Assert.True(result.IsNegotiated(FeatureRegistry.VarOnionOptin)); // both
        Assert.True(result.IsNegotiated(FeatureRegistry.Anchors));
        Assert.False(result.IsNegotiated(FeatureRegistry.BasicMpp)); // only local, optional
        Assert.False(result.IsNegotiated(FeatureRegistry.Splice));

        var compulsoryLocal = FeatureRegistry.Negotiate(FeatureBits.Of(62), FeatureBits.Empty);
        Assert.True(compulsoryLocal.IsNegotiated(FeatureRegistry.Splice)); // offered as even by us

        var unknownEven = FeatureRegistry.Negotiate(local, FeatureBits.Of(102));
        Assert.Equal(102, Assert.IsType<UnknownCompulsoryFeature>(Assert.Single(unknownEven.Errors)).Bit);

        var unsupported = FeatureRegistry.Negotiate(FeatureBits.Of(9), FeatureBits.Of(9, 28));
        Assert.Equal(FeatureRegistry.DualFund, Assert.IsType<UnsupportedCompulsoryFeature>(Assert.Single(unsupported.Errors)).Feature);

        var missingDependency = FeatureRegistry.Negotiate(local, FeatureBits.Of(17));
        Assert.IsType<MissingFeatureDependency>(Assert.Single(missingDependency.Errors));
    }

    [Fact]
    public void Validate_requires_a_single_context()
    {
        Assert.Throws<ArgumentException>(() => FeatureRegistry.Validate(FeatureBits.Empty, FeatureContext.Init | FeatureContext.NodeAnnouncement));
        Assert.Throws<ArgumentException>(() => FeatureRegistry.Validate(FeatureBits.Empty, FeatureContext.None));
    }

    [Fact]
    public void Custom_tables_support_experimental_features_and_channel_announcement_parity_rules()
    {
        var oddOnly = new Feature("test_c_minus", 100, FeatureContext.ChannelAnnouncementOddOnly, []);
        var evenOnly = new Feature("test_c_plus", 102, FeatureContext.ChannelAnnouncementEvenOnly, ["test_c_minus"]);
        var trampoline = new Feature("option_trampoline", 56, FeatureContext.Init | FeatureContext.NodeAnnouncement | FeatureContext.Bolt11Invoice, ["payment_secret"]);
        Feature[] table = [.. FeatureRegistry.All, oddOnly, evenOnly, trampoline];

        Assert.True(FeatureRegistry.Validate(FeatureBits.Of(101, 102), FeatureContext.ChannelAnnouncement, table).IsValid);
        var wrongParity = FeatureRegistry.Validate(FeatureBits.Of(100, 103), FeatureContext.ChannelAnnouncement, table);
        Assert.Equal([100, 103], wrongParity.Errors.OfType<FeatureWrongBitForContext>().Select(e => e.Bit));
        Assert.IsType<FeatureNotAllowedInContext>(Assert.Single(FeatureRegistry.Validate(FeatureBits.Of(101), FeatureContext.Init, table).Errors));
        Assert.Equal("test_c_plus requires test_c_minus", Assert.Single(FeatureRegistry.Validate(FeatureBits.Of(102), FeatureContext.ChannelAnnouncement, table).Errors).Message);

        Assert.True(FeatureRegistry.Validate(FeatureBits.Of(15, 57), FeatureContext.Init, table).IsValid);
        Assert.IsType<UnknownCompulsoryFeature>(Assert.Single(FeatureRegistry.Validate(FeatureBits.Of(15, 56), FeatureContext.Init).Errors));
        Assert.Throws<ArgumentException>(() => FeatureRegistry.Validate(FeatureBits.Empty, FeatureContext.Init, [trampoline]));
    }
}
