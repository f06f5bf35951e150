using System.Net;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net;

/// <summary>Settings of a <see cref="PeerManager"/>. Every duration is measured with the manager's <see cref="TimeProvider"/>.</summary>
public sealed record PeerManagerOptions
{
    /// <summary>
    /// Our default <c>init</c> features: compulsory <c>option_static_remotekey</c>, <c>var_onion_optin</c>,
    /// <c>payment_secret</c> and <c>option_channel_type</c>; optional <c>option_data_loss_protect</c>,
    /// <c>gossip_queries</c> and <c>option_anchors</c> (zero-fee HTLC anchors).
    /// </summary>
    public static FeatureBits DefaultFeatures { get; } = FeatureBits.Of(
        FeatureRegistry.StaticRemoteKey.EvenBit,
        FeatureRegistry.VarOnionOptin.EvenBit,
        FeatureRegistry.PaymentSecret.EvenBit,
        FeatureRegistry.ChannelType.EvenBit,
        FeatureRegistry.DataLossProtect.OddBit,
        FeatureRegistry.GossipQueries.OddBit,
        FeatureRegistry.Anchors.OddBit,
        FeatureRegistry.OnionMessages.OddBit);

    /// <summary>Where to accept inbound connections; null to only dial out. Use port 0 for an ephemeral port.</summary>
    public IPEndPoint? ListenEndPoint { get; init; }

    /// <summary>The chain we operate on, sent in <c>networks</c> and required in the peer's <c>networks</c> when present.</summary>
    public ChainHash Chain { get; init; } = ChainHash.Regtest;

    /// <summary>Our <c>init</c> features (bits below 14 are also copied into <c>globalfeatures</c> for old peers).</summary>
    public FeatureBits LocalFeatures { get; init; } = DefaultFeatures;

    /// <summary>The BOLT 8 handshake must finish within this time.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The peer's <c>init</c> must arrive within this time after the handshake.</summary>
    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often we ping a connected peer.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long we wait for the <c>pong</c> before disconnecting.</summary>
    public TimeSpan PongTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How many messages may wait in a peer's send queue; <see cref="PeerManager.SendAsync"/> waits when it is full.</summary>
    public int SendQueueCapacity { get; init; } = 64;

    /// <summary>A single socket write that does not complete within this time (the peer stopped reading) disconnects the peer.</summary>
    public TimeSpan SendStallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The socket send buffer size (SO_SNDBUF), or null for the OS default. Smaller values bound memory per peer.</summary>
    public int? SocketSendBufferSize { get; init; }

    /// <summary>How many inbound connections may be in the handshake or init phase at once; more are reset on accept.</summary>
    public int MaxPendingInboundHandshakes { get; init; } = 64;

    /// <summary>The first reconnection delay for persistent peers; it doubles on each failed attempt.</summary>
    public TimeSpan ReconnectInitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest reconnection delay.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The number of bytes we ask for in our pings' <c>num_pong_bytes</c> (must be below 65532).</summary>
    public ushort PingPongBytes { get; init; } = 16;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">When a value is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(LocalFeatures);
        Positive(HandshakeTimeout, nameof(HandshakeTimeout));
        Positive(InitTimeout, nameof(InitTimeout));
        Positive(PingInterval, nameof(PingInterval));
        Positive(PongTimeout, nameof(PongTimeout));
        Positive(SendStallTimeout, nameof(SendStallTimeout));
        Positive(ReconnectInitialDelay, nameof(ReconnectInitialDelay));
        if (ReconnectMaxDelay < ReconnectInitialDelay)
        {
            throw new ArgumentException($"{nameof(ReconnectMaxDelay)} must not be below {nameof(ReconnectInitialDelay)}.");
        }
        if (MaxPendingInboundHandshakes < 1)
        {
            throw new ArgumentException($"{nameof(MaxPendingInboundHandshakes)} must be at least 1.");
        }
        if (SendQueueCapacity < 1)
        {
            throw new ArgumentException($"{nameof(SendQueueCapacity)} must be at least 1.");
        }
        if (PingPongBytes >= Messages.Ping.NoReplyThreshold)
        {
            throw new ArgumentException($"{nameof(PingPongBytes)} must be below {Messages.Ping.NoReplyThreshold}.");
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{name} must be positive.");
        }
    }
}
