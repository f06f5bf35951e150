using System.Collections.Immutable;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels;

/// <summary>Our commitment as last signed by the peer.</summary>
internal sealed record LocalCommit(ulong Index, CommitmentSpec Spec, ECDSASignature RemoteSignature, ImmutableList<ECDSASignature> RemoteHtlcSignatures);

/// <summary>A commitment of the peer that we signed.</summary>
internal sealed record RemoteCommit(ulong Index, CommitmentSpec Spec, PubKey Point);

/// <summary>
/// The mutable part of a channel, kept immutable so that an operation either replaces it as a whole or leaves it
/// untouched. Update lists follow the classic split: our updates are proposed → signed (in a commitment_signed we sent)
/// → acked (the peer revoked); the peer's are proposed → acked (we revoked) → signed (in a commitment_signed we sent).
/// </summary>
internal sealed record ChannelData
{
    public required ChannelState State { get; init; }

    public required bool Offline { get; init; }

    public required ulong NextMonitorUpdateId { get; init; }

    public required LocalCommit Local { get; init; }

    public required RemoteCommit Remote { get; init; }

    /// <summary>The peer commitment we signed and wait a revocation for (null when none is outstanding).</summary>
    public RemoteCommit? RemoteNext { get; init; }

    /// <summary>Our local commitment index when <see cref="RemoteNext"/> was signed (orders retransmissions).</summary>
    public ulong RemoteNextSentAfterLocalIndex { get; init; }

    /// <summary>The peer's point for its next commitment, when no commitment is outstanding.</summary>
    public PubKey? RemoteNextPoint { get; init; }

    public required ImmutableList<LightningMessage> LocalProposed { get; init; }

    public required ImmutableList<LightningMessage> LocalSigned { get; init; }

    public required ImmutableList<LightningMessage> LocalAcked { get; init; }

    public required ImmutableList<LightningMessage> RemoteProposed { get; init; }

    public required ImmutableList<LightningMessage> RemoteAcked { get; init; }

    public required ImmutableList<LightningMessage> RemoteSigned { get; init; }

    public required ulong LocalNextHtlcId { get; init; }

    public required ulong RemoteNextHtlcId { get; init; }

    public ShortChannelId? ShortChannelId { get; init; }

    public bool ReadySent { get; init; }

    public bool ReadyReceived { get; init; }

    public Script? LocalShutdownScript { get; init; }

    public Script? RemoteShutdownScript { get; init; }

    /// <summary>Our answer to the peer's shutdown, given while our own updates were unsigned (sent after the next signature).</summary>
    public Script? DeferredShutdownScript { get; init; }

    public Transaction? ClosingTransaction { get; init; }

    public PubKey? DataLossRemotePoint { get; init; }

    /// <summary>
    /// The block height at which we (as fundee) started waiting for the funding transaction (BOLT 2: forget the
    /// channel after 2016 blocks). Null when unknown (state written before version 2, or no tip known yet).
    /// </summary>
    public uint? FundingWaitStartHeight { get; init; }

    /// <summary>The peer's <c>closing_signed</c> messages of the current negotiation (replayed to rebuild it after loading).</summary>
    public ImmutableList<ClosingSigned> ClosingReceived { get; init; } = [];
}
