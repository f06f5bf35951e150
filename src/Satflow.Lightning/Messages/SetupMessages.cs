using Satflow.Lightning.Features;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>
/// BOLT 1 <c>init</c> (16). <see cref="GlobalFeatures"/> and <see cref="Features"/> are encoded minimally; receivers
/// must use <see cref="CombinedFeatures"/> (their bitwise OR).
/// </summary>
/// <param name="GlobalFeatures">The legacy <c>globalfeatures</c> field.</param>
/// <param name="Features">The <c>features</c> field.</param>
public sealed record Init(FeatureBits GlobalFeatures, FeatureBits Features) : ExtensibleMessage
{
    private const ulong NetworksType = 1;
    private const ulong RemoteAddrType = 3;

    /// <summary>TLV 1 <c>networks</c>: the chains the node is interested in, or null when absent.</summary>
    public IReadOnlyList<ChainHash>? Networks { get; init; }

    /// <summary>TLV 3 <c>remote_addr</c>: the peer's address as seen by the sender, or null when absent.</summary>
    public NetworkAddress? RemoteAddress { get; init; }

    /// <summary>The union of both feature fields, which is what BOLT 1 says to act on.</summary>
    public FeatureBits CombinedFeatures => GlobalFeatures.Union(Features);

    /// <inheritdoc />
    public override ushort Type => MessageTypes.Init;

    internal static Init Read(ref WireReader reader)
    {
        var global = reader.ReadU16Features();
        var local = reader.ReadU16Features();
        var tlvs = ParsedTlvs.Parse(ref reader, NetworksType, RemoteAddrType);
        List<ChainHash>? networks = null;
        if (tlvs.Get(NetworksType) is { } n)
        {
            if (n.Length % 32 != 0)
            {
                throw WireCodec.BadTlvLength(NetworksType, n.Length, "a multiple of 32");
            }
            networks = [];
            for (var i = 0; i < n.Length; i += 32)
            {
                networks.Add(new ChainHash(new Bytes32(n.Span.Slice(i, 32))));
            }
        }
        var remote = tlvs.Get(RemoteAddrType) is { } r ? NetworkAddress.ParseSingle(r.Span) : null;
        return new Init(global, local) { Networks = networks, RemoteAddress = remote, UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteU16Features(GlobalFeatures).WriteU16Features(Features);
        byte[]? networks = null;
        if (Networks is not null)
        {
            networks = new byte[Networks.Count * 32];
            for (var i = 0; i < Networks.Count; i++)
            {
                Networks[i].Value.CopyTo(networks.AsSpan(i * 32));
            }
        }
        new TlvBuilder(UnknownTlvs).Add(NetworksType, networks).Add(RemoteAddrType, RemoteAddress?.ToBytes()).WriteTo(writer);
    }
}

/// <summary>BOLT 1 <c>error</c> (17): fails the channel (or all channels when the id is all zero).</summary>
/// <param name="ChannelId">The channel, or all zero for every channel.</param>
/// <param name="Data">Diagnostic data (often ASCII text).</param>
public sealed record Error(ChannelId ChannelId, ReadOnlyMemory<byte> Data) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.Error;

    /// <summary>The data as text when it is printable ASCII, else null (BOLT 1: do not print other data verbatim).</summary>
    public string? PrintableText => TextData.Printable(Data.Span);

    internal static Error Read(ref WireReader reader)
    {
        var id = reader.ReadChannelId();
        var data = reader.ReadU16Prefixed();
        return new Error(id, data) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteU16Prefixed(Data.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 1 <c>warning</c> (1): a recoverable problem report.</summary>
/// <param name="ChannelId">The channel, or all zero when not channel specific.</param>
/// <param name="Data">Diagnostic data (often ASCII text).</param>
public sealed record Warning(ChannelId ChannelId, ReadOnlyMemory<byte> Data) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.Warning;

    /// <summary>The data as text when it is printable ASCII, else null.</summary>
    public string? PrintableText => TextData.Printable(Data.Span);

    internal static Warning Read(ref WireReader reader)
    {
        var id = reader.ReadChannelId();
        var data = reader.ReadU16Prefixed();
        return new Warning(id, data) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteU16Prefixed(Data.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 1 <c>ping</c> (18).</summary>
/// <param name="NumPongBytes">How many bytes the <c>pong</c> must carry; 65532 or more means "do not reply".</param>
/// <param name="Ignored">Padding (should be zeros).</param>
public sealed record Ping(ushort NumPongBytes, ReadOnlyMemory<byte> Ignored) : ExtensibleMessage
{
    /// <summary>From this <see cref="NumPongBytes"/> on, no <c>pong</c> is sent.</summary>
    public const ushort NoReplyThreshold = 65532;

    /// <inheritdoc />
    public override ushort Type => MessageTypes.Ping;

    /// <summary>Creates a ping with <paramref name="paddingLength"/> zero bytes of padding.</summary>
    public static Ping Create(ushort numPongBytes, ushort paddingLength = 0) => new(numPongBytes, new byte[paddingLength]);

    /// <summary>The <c>pong</c> to answer with (zero-filled, <see cref="NumPongBytes"/> long), or null when BOLT 1 says to ignore the ping.</summary>
    public Pong? CreateReply() => NumPongBytes < NoReplyThreshold ? new Pong(new byte[NumPongBytes]) : null;

    internal static Ping Read(ref WireReader reader)
    {
        var num = reader.ReadUInt16();
        var ignored = reader.ReadU16Prefixed();
        return new Ping(num, ignored) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteUInt16(NumPongBytes).WriteU16Prefixed(Ignored.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 1 <c>pong</c> (19).</summary>
/// <param name="Ignored">Padding, as long as the ping's <c>num_pong_bytes</c>.</param>
public sealed record Pong(ReadOnlyMemory<byte> Ignored) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.Pong;

    internal static Pong Read(ref WireReader reader)
    {
        var ignored = reader.ReadU16Prefixed();
        return new Pong(ignored) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteU16Prefixed(Ignored.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 1 <c>peer_storage</c> (7): an encrypted blob the peer is asked to keep.</summary>
/// <param name="Blob">The blob (at most 65531 bytes).</param>
public sealed record PeerStorage(ReadOnlyMemory<byte> Blob) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.PeerStorage;

    internal static PeerStorage Read(ref WireReader reader)
    {
        var blob = reader.ReadU16Prefixed();
        return new PeerStorage(blob) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteU16Prefixed(Blob.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 1 <c>peer_storage_retrieval</c> (9): the last blob stored for the peer.</summary>
/// <param name="Blob">The blob.</param>
public sealed record PeerStorageRetrieval(ReadOnlyMemory<byte> Blob) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.PeerStorageRetrieval;

    internal static PeerStorageRetrieval Read(ref WireReader reader)
    {
        var blob = reader.ReadU16Prefixed();
        return new PeerStorageRetrieval(blob) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteU16Prefixed(Blob.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

internal static class TextData
{
    public static string? Printable(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            if (b is < 32 or > 126)
            {
                return null;
            }
        }
        return System.Text.Encoding.ASCII.GetString(data);
    }
}
