using System.Buffers.Binary;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Node.Persistence;

/// <summary>
/// The node's envelope around a channel's state-machine bytes: who the peer is, which channel key index derives the
/// keys, and what the node tracks about funding (the transaction to broadcast as funder, its confirmation height).
/// </summary>
/// <param name="Peer">The peer.</param>
/// <param name="KeyIndex">The channel key index.</param>
/// <param name="FundingConfirmedHeight">The height of the block that confirmed the funding transaction, once seen.</param>
/// <param name="ShortChannelId">The funding output's short channel id, once confirmed.</param>
/// <param name="FundingTransaction">The funding transaction (kept by the funder until it confirms, for rebroadcast).</param>
/// <param name="ChannelBytes">The channel state machine's serialization.</param>
public sealed record ChannelRecord(NodeId Peer, uint KeyIndex, int? FundingConfirmedHeight, ShortChannelId? ShortChannelId, Transaction? FundingTransaction, ReadOnlyMemory<byte> ChannelBytes)
{
    /// <summary>The encoding version.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var funding = FundingTransaction?.ToBytes() ?? [];
        var bytes = new byte[1 + 33 + 4 + 4 + 8 + 4 + funding.Length + 4 + ChannelBytes.Length];
        var span = bytes.AsSpan();
        span[0] = CurrentVersion;
        Peer.Span.CopyTo(span[1..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[34..], KeyIndex);
        BinaryPrimitives.WriteInt32BigEndian(span[38..], FundingConfirmedHeight ?? -1);
        BinaryPrimitives.WriteUInt64BigEndian(span[42..], ShortChannelId?.Value ?? 0);
        BinaryPrimitives.WriteInt32BigEndian(span[50..], funding.Length);
        funding.CopyTo(span[54..]);
        var at = 54 + funding.Length;
        BinaryPrimitives.WriteInt32BigEndian(span[at..], ChannelBytes.Length);
        ChannelBytes.Span.CopyTo(span[(at + 4)..]);
        return bytes;
    }

    /// <summary>Decodes a record.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Truncated, unknown version or an invalid field.</exception>
    public static ChannelRecord Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < 58 || data[0] != CurrentVersion)
        {
            throw new NodeStateCorruptException($"A channel record needs version {CurrentVersion} and at least 58 bytes; got {data.Length} bytes.");
        }
        if (!NodeId.TryFromBytes(data.Slice(1, 33), out var peer))
        {
            throw new NodeStateCorruptException("A channel record holds an invalid peer node id.");
        }
        var keyIndex = BinaryPrimitives.ReadUInt32BigEndian(data[34..]);
        var height = BinaryPrimitives.ReadInt32BigEndian(data[38..]);
        var scid = BinaryPrimitives.ReadUInt64BigEndian(data[42..]);
        var fundingLength = BinaryPrimitives.ReadInt32BigEndian(data[50..]);
        if (fundingLength < 0 || fundingLength > data.Length - 58)
        {
            throw new NodeStateCorruptException("A channel record's funding transaction length is out of range.");
        }
        Transaction? funding = null;
        if (fundingLength > 0)
        {
            try
            {
                funding = Transaction.Load(data.Slice(54, fundingLength).ToArray(), Network.RegTest);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or EndOfStreamException or InvalidOperationException)
            {
                throw new NodeStateCorruptException("A channel record's funding transaction is unreadable.", e);
            }
        }
        var at = 54 + fundingLength;
        var channelLength = BinaryPrimitives.ReadInt32BigEndian(data[at..]);
        if (channelLength < 0 || channelLength != data.Length - at - 4)
        {
            throw new NodeStateCorruptException("A channel record's state length does not match its size.");
        }
        return new ChannelRecord(peer, keyIndex, height < 0 ? null : height, scid == 0 ? null : new ShortChannelId(scid), funding, data[(at + 4)..].ToArray());
    }
}
