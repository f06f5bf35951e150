using System.Net;
using System.Net.Sockets;
using System.Text;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>A BOLT 7 address descriptor: a type byte followed by type-specific data.</summary>
public abstract record NetworkAddress
{
    private protected NetworkAddress()
    {
    }

    /// <summary>The descriptor type byte.</summary>
    public abstract byte AddressType { get; }

    /// <summary>Writes the descriptor (type byte and data).</summary>
    public abstract void WriteTo(WireWriter writer);

    /// <summary>The encoded descriptor.</summary>
    public byte[] ToBytes()
    {
        var writer = new WireWriter(64);
        WriteTo(writer);
        return writer.ToArray();
    }

    /// <summary>Reads one descriptor of a known type (1 to 5); returns null, consuming nothing, for an unknown type.</summary>
    /// <exception cref="WireFormatException">When a known descriptor is truncated or malformed.</exception>
    internal static NetworkAddress? ReadKnown(ref WireReader reader)
    {
        var type = reader.RemainingSpan.IsEmpty ? (byte)0 : reader.RemainingSpan[0];
        switch (type)
        {
            case IPv4NetworkAddress.TypeId:
                reader.ReadByte();
                return new IPv4NetworkAddress(new IPAddress(reader.ReadSpan(4)), reader.ReadUInt16());
            case IPv6NetworkAddress.TypeId:
                reader.ReadByte();
                return new IPv6NetworkAddress(new IPAddress(reader.ReadSpan(16)), reader.ReadUInt16());
            case 3:
                reader.ReadByte();
                return new OpaqueNetworkAddress(3, reader.ReadBytes(12));
            case TorV3NetworkAddress.TypeId:
                reader.ReadByte();
                return new TorV3NetworkAddress(reader.ReadBytes(TorV3NetworkAddress.KeyLength), reader.ReadUInt16());
            case DnsHostnameNetworkAddress.TypeId:
                {
                    reader.ReadByte();
                    var length = reader.ReadByte();
                    var host = reader.ReadSpan(length);
                    var port = reader.ReadUInt16();
                    foreach (var b in host)
                    {
                        if (b is < 0x21 or > 0x7E)
                        {
                            // Not a usable host name: keep the descriptor verbatim (signed data) for the caller to ignore.
                            return new OpaqueNetworkAddress(DnsHostnameNetworkAddress.TypeId, (byte[])[length, .. host, (byte)(port >> 8), (byte)port]);
                        }
                    }
                    return new DnsHostnameNetworkAddress(Encoding.ASCII.GetString(host), port);
                }
            default:
                return null;
        }
    }

    /// <summary>Parses a single descriptor that fills <paramref name="data"/> (as in <c>init</c>'s <c>remote_addr</c>).</summary>
    /// <exception cref="WireFormatException">When the data is empty, truncated or longer than the descriptor.</exception>
    public static NetworkAddress ParseSingle(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data);
        if (reader.IsEnd)
        {
            throw new WireFormatException("unexpected EOF", "empty address descriptor");
        }
        var address = ReadKnown(ref reader);
        if (address is null)
        {
            var type = reader.ReadByte();
            return new OpaqueNetworkAddress(type, reader.ReadToEnd().ToArray());
        }
        reader.EnsureEnd("address descriptor");
        return address;
    }
}

/// <summary>An IP address (type 1 or 2) and port; the two families share one layout: type, address bytes, port.</summary>
public abstract record IPNetworkAddress : NetworkAddress
{
    /// <summary>Checks the family and stores the endpoint.</summary>
    /// <exception cref="ArgumentException">When <paramref name="address"/> is not of <paramref name="family"/>.</exception>
    private protected IPNetworkAddress(IPAddress address, ushort port, AddressFamily family, string familyName)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != family)
        {
            throw new ArgumentException($"Not an {familyName} address.", nameof(address));
        }
        Address = address;
        Port = port;
    }

    /// <summary>The address.</summary>
    public IPAddress Address { get; }

    /// <summary>The TCP port.</summary>
    public ushort Port { get; }

    /// <inheritdoc />
    public override void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteByte(AddressType).WriteBytes(Address.GetAddressBytes()).WriteUInt16(Port);
    }
}

/// <summary>Type 1: an IPv4 address and port.</summary>
public sealed record IPv4NetworkAddress : IPNetworkAddress
{
    internal const byte TypeId = 1;

    /// <summary>Creates the address.</summary>
    /// <exception cref="ArgumentException">When <paramref name="address"/> is not IPv4.</exception>
    public IPv4NetworkAddress(IPAddress address, ushort port)
        : base(address, port, AddressFamily.InterNetwork, "IPv4")
    {
    }

    /// <inheritdoc />
    public override byte AddressType => TypeId;

    /// <inheritdoc />
    public override string ToString() => $"{Address}:{Port}";
}

/// <summary>Type 2: an IPv6 address and port.</summary>
public sealed record IPv6NetworkAddress : IPNetworkAddress
{
    internal const byte TypeId = 2;

    /// <summary>Creates the address.</summary>
    /// <exception cref="ArgumentException">When <paramref name="address"/> is not IPv6.</exception>
    public IPv6NetworkAddress(IPAddress address, ushort port)
        : base(address, port, AddressFamily.InterNetworkV6, "IPv6")
    {
    }

    /// <inheritdoc />
    public override byte AddressType => TypeId;

    /// <inheritdoc />
    public override string ToString() => $"[{Address}]:{Port}";
}

/// <summary>Type 4: a Tor v3 onion service (35 bytes: ed25519 key, checksum, version) and port.</summary>
public sealed record TorV3NetworkAddress : NetworkAddress
{
    internal const byte TypeId = 4;

    /// <summary>Length of the onion address bytes.</summary>
    public const int KeyLength = 35;

    /// <summary>Creates the address.</summary>
    /// <exception cref="ArgumentException">When <paramref name="onion"/> is not 35 bytes.</exception>
    public TorV3NetworkAddress(ReadOnlyMemory<byte> onion, ushort port)
    {
        if (onion.Length != KeyLength)
        {
            throw new ArgumentException($"A Tor v3 address is {KeyLength} bytes.", nameof(onion));
        }
        Onion = onion;
        Port = port;
    }

    /// <summary>The 35 onion address bytes.</summary>
    public ReadOnlyMemory<byte> Onion { get; }

    /// <summary>The TCP port.</summary>
    public ushort Port { get; }

    /// <inheritdoc />
    public override byte AddressType => TypeId;

    /// <summary>The <c>.onion</c> host name (lower-case base32 of the 35 bytes).</summary>
    public string Hostname
    {
        get
        {
            const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
            var sb = new StringBuilder(56 + 6);
            int buffer = 0, bits = 0;
            foreach (var b in Onion.Span)
            {
                buffer = (buffer << 8) | b;
                bits += 8;
                while (bits >= 5)
                {
                    sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                    bits -= 5;
                }
            }
            if (bits > 0)
            {
                sb.Append(alphabet[(buffer << (5 - bits)) & 31]);
            }
            return sb.Append(".onion").ToString();
        }
    }

    /// <inheritdoc />
    public override void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteByte(TypeId).WriteBytes(Onion.Span).WriteUInt16(Port);
    }

    /// <inheritdoc />
    public bool Equals(TorV3NetworkAddress? other) => other is not null && Port == other.Port && Onion.Span.SequenceEqual(other.Onion.Span);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Port, Onion.Length);

    /// <inheritdoc />
    public override string ToString() => $"{Hostname}:{Port}";
}

/// <summary>Type 5: a DNS host name (ASCII, at most 255 bytes) and port.</summary>
public sealed record DnsHostnameNetworkAddress : NetworkAddress
{
    internal const byte TypeId = 5;

    /// <summary>Creates the address.</summary>
    /// <exception cref="ArgumentException">When the host name is empty, not printable ASCII or longer than 255 bytes.</exception>
    public DnsHostnameNetworkAddress(string hostname, ushort port)
    {
        ArgumentNullException.ThrowIfNull(hostname);
        if (hostname.Length > 255 || hostname.Any(c => c is < '!' or > '~'))
        {
            throw new ArgumentException("A host name is at most 255 printable ASCII characters (use Punycode).", nameof(hostname));
        }
        Hostname = hostname;
        Port = port;
    }

    /// <summary>The host name.</summary>
    public string Hostname { get; }

    /// <summary>The TCP port.</summary>
    public ushort Port { get; }

    /// <inheritdoc />
    public override byte AddressType => TypeId;

    /// <inheritdoc />
    public override void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteByte(TypeId).WriteByte((byte)Hostname.Length).WriteBytes(Encoding.ASCII.GetBytes(Hostname)).WriteUInt16(Port);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Hostname}:{Port}";
}

/// <summary>
/// A descriptor kept as raw bytes: the deprecated Tor v2 type 3 (12 data bytes), a type 5 whose host name is not
/// printable ASCII, or an unknown type in <c>init</c>'s <c>remote_addr</c>. Callers should ignore these.
/// </summary>
public sealed record OpaqueNetworkAddress : NetworkAddress
{
    /// <summary>Creates the descriptor.</summary>
    public OpaqueNetworkAddress(byte addressType, ReadOnlyMemory<byte> data)
    {
        AddressType = addressType;
        Data = data;
    }

    /// <inheritdoc />
    public override byte AddressType { get; }

    /// <summary>The data after the type byte.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <inheritdoc />
    public override void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteByte(AddressType).WriteBytes(Data.Span);
    }

    /// <inheritdoc />
    public bool Equals(OpaqueNetworkAddress? other) => other is not null && AddressType == other.AddressType && Data.Span.SequenceEqual(other.Data.Span);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(AddressType, Data.Length);
}
