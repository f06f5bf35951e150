using Satflow.Lightning.Onion;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>
/// The BOLT 4 <c>onion_message</c> (type 513) as a peer message, so the codec hands it to the node instead of
/// dropping it as an unknown odd message. The onion itself is <see cref="Onion.OnionMessage"/>.
/// </summary>
/// <param name="Message">The path key and onion packet.</param>
public sealed record OnionMessageWire(OnionMessage Message) : LightningMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.OnionMessage;

    /// <inheritdoc />
    private protected override int SizeHint => Message.Packet.ToBytes().Length + 40;

    internal override void WritePayload(WireWriter writer)
    {
        var packet = Message.Packet.ToBytes();
        writer.WriteBytes(SphinxCrypto.Compress(Message.PathKey)).WriteUInt16((ushort)packet.Length).WriteBytes(packet);
    }

    internal static OnionMessageWire Read(ref WireReader reader)
    {
        var pathKey = SphinxCrypto.ParsePoint(reader.ReadSpan(33), "path_key");
        var length = reader.ReadUInt16();
        var packet = OnionPacket.Parse(reader.ReadSpan(length));
        // Trailing bytes are an extension TLV stream with no defined records: ignored.
        reader.ReadToEnd();
        return new OnionMessageWire(new OnionMessage(pathKey, packet));
    }
}
