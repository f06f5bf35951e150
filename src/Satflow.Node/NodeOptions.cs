using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Node;

/// <summary>The node's policy and identity settings.</summary>
public sealed record NodeOptions
{
    /// <summary>The invoice network (and so the chain).</summary>
    public Bolt11Network Network { get; init; } = Bolt11Network.Regtest;

    /// <summary>The chain hash of <see cref="Network"/>.</summary>
    public ChainHash ChainHash => Network.ChainHash();

    /// <summary>An alias shown by <c>getinfo</c>.</summary>
    public string Alias { get; init; } = "satflow";

    /// <summary>Confirmations we require (as fundee) before a channel is usable.</summary>
    public uint MinimumDepth { get; init; } = 3;

    /// <summary>The CSV delay we impose on the peer's <c>to_local</c>.</summary>
    public ushort ToSelfDelay { get; init; } = 144;

    /// <summary>Our dust limit.</summary>
    public Money DustLimit { get; init; } = Money.Satoshis(546);

    /// <summary>The channel reserve we ask the peer to keep, as a fraction of the capacity (BOLT 2 recommends 1%).</summary>
    public decimal ReserveFraction { get; init; } = 0.01m;

    /// <summary>The most HTLCs we accept at once on a channel (at most 483).</summary>
    public ushort MaxAcceptedHtlcs { get; init; } = 483;

    /// <summary>The smallest channel we accept.</summary>
    public Money MinChannelSize { get; init; } = Money.Satoshis(20_000);

    /// <summary>The largest channel we accept (below 2^24 sat without large channels).</summary>
    public Money MaxChannelSize { get; init; } = Money.Satoshis(16_777_215);

    /// <summary>The CLTV delta we ask payers for in our invoices and add as the payer to a final hop.</summary>
    public uint FinalCltvExpiryDelta { get; init; } = 18;

    /// <summary>The fee target for funding and commitment feerates.</summary>
    public ConfirmationTarget FeeTarget { get; init; } = ConfirmationTarget.Normal;

    /// <summary>Where the static channel backup file is rewritten on every channel open and close (null: no file).</summary>
    public string? StaticChannelBackupPath { get; init; }

    /// <summary>
    /// Sign commitments right after every update (true), or only when <see cref="LightningNode.FlushAsync"/> runs
    /// (false: many updates share one commitment; the host or the test harness flushes).
    /// </summary>
    public bool AutoFlush { get; init; } = true;

    /// <summary>
    /// Whether the channels this node opens are public (<c>announce_channel</c>: announced to the network with
    /// <c>channel_announcement</c> once 6 blocks deep) or private (their <c>channel_update</c> goes to the peer only).
    /// </summary>
    public bool PublicChannels { get; init; } = true;

    /// <summary>
    /// BOLT 2 <c>max_dust_htlc_exposure_msat</c> of the channels this node opens or accepts: the most the HTLCs trimmed
    /// from either commitment may add up to (they go to miners on a force close). A dust HTLC above it is not sent
    /// (a forward gets <c>temporary_channel_failure</c>) and an incoming one is failed back with
    /// <c>temporary_channel_failure</c>. Default 50,000 sat (<see cref="Lightning.Channels.ChannelOptions.DefaultMaxDustHtlcExposure"/>):
    /// a fixed amount, like Core Lightning and Eclair, because with anchor channels (our default) what is trimmed does
    /// not depend on the feerate. Stored with each channel when it is created.
    /// </summary>
    public MilliSatoshi MaxDustHtlcExposure { get; init; } = Lightning.Channels.ChannelOptions.DefaultMaxDustHtlcExposure;

    /// <summary>The forwarding policy of channels that have no policy of their own.</summary>
    public ForwardingPolicy DefaultForwardingPolicy { get; init; } = ForwardingPolicy.Default;

    /// <summary>
    /// Gossip policy (BOLT 7): stale horizon, rate limits, query sizes, the grace period before a channel whose peer is
    /// offline is announced disabled, and the batch size of an <c>initial_routing_sync</c> dump.
    /// </summary>
    public Lightning.Gossip.GossipOptions Gossip { get; init; } = new();
}
