using Satflow.Lightning.Types;

namespace Satflow.Lightning.Invoices;

/// <summary>One raw BOLT 11 tagged field: its 5-bit type and its data as 5-bit words (kept for exact re-encoding).</summary>
public sealed class Bolt11TaggedField
{
    /// <summary>Creates a field.</summary>
    /// <param name="type">The 5-bit type (0..31).</param>
    /// <param name="words">The data as 5-bit words (each below 32, at most 1023 of them).</param>
    public Bolt11TaggedField(byte type, ReadOnlySpan<byte> words)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(type, (byte)32);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(words.Length, 1023);
        foreach (var w in words)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(w, (byte)32, nameof(words));
        }
        Type = type;
        Words = words.ToArray();
    }

    /// <summary>The 5-bit type.</summary>
    public byte Type { get; }

    /// <summary>The bech32 character naming the type (e.g. <c>p</c>, <c>s</c>, <c>9</c>).</summary>
    public char Letter => Codecs.Bech32.Charset[Type];

    /// <summary>The data as 5-bit words.</summary>
    public ReadOnlyMemory<byte> Words { get; }
}

/// <summary>Tagged-field type numbers of BOLT 11.</summary>
public static class Bolt11FieldType
{
    /// <summary><c>p</c>: payment hash.</summary>
    public const byte PaymentHash = 1;

    /// <summary><c>r</c>: route hint.</summary>
    public const byte RouteHint = 3;

    /// <summary><c>9</c>: features.</summary>
    public const byte Features = 5;

    /// <summary><c>x</c>: expiry seconds.</summary>
    public const byte Expiry = 6;

    /// <summary><c>f</c>: fallback address.</summary>
    public const byte Fallback = 9;

    /// <summary><c>d</c>: description.</summary>
    public const byte Description = 13;

    /// <summary><c>s</c>: payment secret.</summary>
    public const byte PaymentSecret = 16;

    /// <summary><c>n</c>: payee node id.</summary>
    public const byte PayeeNodeId = 19;

    /// <summary><c>h</c>: description hash.</summary>
    public const byte DescriptionHash = 23;

    /// <summary><c>c</c>: min_final_cltv_expiry_delta.</summary>
    public const byte MinFinalCltvExpiry = 24;

    /// <summary><c>m</c>: payment metadata.</summary>
    public const byte Metadata = 27;
}

/// <summary>One hop of a BOLT 11 route hint (<c>r</c> field): a private channel leading towards the payee.</summary>
/// <param name="NodeId">The node at the start of the channel.</param>
/// <param name="ShortChannelId">The channel.</param>
/// <param name="FeeBaseMsat">Base fee in millisatoshis.</param>
/// <param name="FeeProportionalMillionths">Proportional fee in millionths.</param>
/// <param name="CltvExpiryDelta">CLTV delta of the channel.</param>
public sealed record RouteHintHop(NodeId NodeId, ShortChannelId ShortChannelId, uint FeeBaseMsat, uint FeeProportionalMillionths, ushort CltvExpiryDelta)
{
    /// <summary>The encoded size of one hop in bytes.</summary>
    public const int EncodedLength = 33 + 8 + 4 + 4 + 2;
}

/// <summary>An on-chain fallback (BOLT 11 <c>f</c> field): version 0..16 witness program, 17 P2PKH or 18 P2SH.</summary>
public sealed class FallbackAddress
{
    /// <summary>The version for a P2PKH hash.</summary>
    public const byte PubKeyHashVersion = 17;

    /// <summary>The version for a P2SH hash.</summary>
    public const byte ScriptHashVersion = 18;

    private readonly byte[] _program;

    /// <summary>Creates a fallback, checking the program length for the version.</summary>
    /// <exception cref="ArgumentException">When the version or length is not valid.</exception>
    public FallbackAddress(byte version, ReadOnlySpan<byte> program)
    {
        if (!IsValid(version, program.Length))
        {
            throw new ArgumentException($"A version {version} fallback cannot have a {program.Length}-byte program.", nameof(program));
        }
        Version = version;
        _program = program.ToArray();
    }

    /// <summary>0..16 (witness version), 17 (P2PKH) or 18 (P2SH).</summary>
    public byte Version { get; }

    /// <summary>The witness program or the 20-byte hash.</summary>
    public ReadOnlySpan<byte> Program => _program;

    /// <summary>True when <paramref name="version"/> and <paramref name="length"/> form a usable fallback.</summary>
    public static bool IsValid(byte version, int length) => version switch
    {
        PubKeyHashVersion or ScriptHashVersion => length == 20,
        0 => length is 20 or 32,
        <= 16 => length is >= 2 and <= 40,
        _ => false,
    };

    /// <summary>The address text for <paramref name="network"/> (base58 for 17/18, bech32/bech32m for witness).</summary>
    public string ToAddress(Bolt11Network network) => Version switch
    {
        PubKeyHashVersion => Bolt11NetworkExtensions.Base58Address(network.PubKeyHashVersion(), _program),
        ScriptHashVersion => Bolt11NetworkExtensions.Base58Address(network.ScriptHashVersion(), _program),
        _ => network.SegwitAddress(Version, _program),
    };

    /// <inheritdoc />
    public override string ToString() => $"v{Version}:{Convert.ToHexStringLower(_program)}";
}
