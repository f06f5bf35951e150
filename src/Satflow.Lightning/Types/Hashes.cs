using System.Security.Cryptography;

namespace Satflow.Lightning.Types;

/// <summary>SHA256 of a payment preimage; identifies a payment.</summary>
/// <param name="Value">The 32 hash bytes.</param>
public readonly record struct PaymentHash(Bytes32 Value)
{
    /// <summary>Parses 64 hex characters.</summary>
    public static PaymentHash Parse(string hex) => new(Bytes32.Parse(hex));

    /// <summary>Creates the hash from 32 bytes.</summary>
    public static PaymentHash FromBytes(ReadOnlySpan<byte> bytes) => new(new Bytes32(bytes));

    /// <inheritdoc />
    public override string ToString() => Value.ToHex();
}

/// <summary>The secret whose SHA256 is the payment hash; revealing it settles the payment.</summary>
/// <param name="Value">The 32 secret bytes.</param>
public readonly record struct PaymentPreimage(Bytes32 Value)
{
    /// <summary>Parses 64 hex characters.</summary>
    public static PaymentPreimage Parse(string hex) => new(Bytes32.Parse(hex));

    /// <summary>Creates the preimage from 32 bytes.</summary>
    public static PaymentPreimage FromBytes(ReadOnlySpan<byte> bytes) => new(new Bytes32(bytes));

    /// <summary>The payment hash this preimage unlocks.</summary>
    public PaymentHash Hash
    {
        get
        {
            Span<byte> input = stackalloc byte[Bytes32.Length];
            Value.CopyTo(input);
            Span<byte> output = stackalloc byte[Bytes32.Length];
            SHA256.HashData(input, output);
            return new PaymentHash(new Bytes32(output));
        }
    }

    /// <summary>The preimage is a secret: its text form is redacted. Use <see cref="Bytes32.ToHex"/> deliberately.</summary>
    public override string ToString() => "PaymentPreimage(redacted)";
}

/// <summary>The BOLT 11 <c>s</c> field: a secret the payer echoes so intermediate nodes cannot probe the payee.</summary>
/// <param name="Value">The 32 secret bytes.</param>
public readonly record struct PaymentSecret(Bytes32 Value)
{
    /// <summary>Parses 64 hex characters.</summary>
    public static PaymentSecret Parse(string hex) => new(Bytes32.Parse(hex));

    /// <summary>Creates the secret from 32 bytes.</summary>
    public static PaymentSecret FromBytes(ReadOnlySpan<byte> bytes) => new(new Bytes32(bytes));

    /// <inheritdoc />
    public override string ToString() => Value.ToHex();
}

/// <summary>A 32-byte channel id (BOLT 2: funding txid XOR funding output index, or a temporary id).</summary>
/// <param name="Value">The 32 id bytes.</param>
public readonly record struct ChannelId(Bytes32 Value)
{
    /// <summary>Parses 64 hex characters.</summary>
    public static ChannelId Parse(string hex) => new(Bytes32.Parse(hex));

    /// <summary>Creates the id from 32 bytes.</summary>
    public static ChannelId FromBytes(ReadOnlySpan<byte> bytes) => new(new Bytes32(bytes));

    /// <summary>
    /// The BOLT 2 channel id of a funding outpoint: the funding txid in wire (little-endian, internal) byte order with
    /// its last two bytes XORed with the big-endian output index.
    /// </summary>
    /// <param name="fundingTxidInternalOrder">The funding txid as 32 bytes in internal byte order (as serialized in transactions).</param>
    /// <param name="outputIndex">The funding output index.</param>
    public static ChannelId FromFundingOutPoint(ReadOnlySpan<byte> fundingTxidInternalOrder, ushort outputIndex)
    {
        Span<byte> bytes = stackalloc byte[Bytes32.Length];
        fundingTxidInternalOrder.CopyTo(bytes);
        bytes[30] ^= (byte)(outputIndex >> 8);
        bytes[31] ^= (byte)outputIndex;
        return new ChannelId(new Bytes32(bytes));
    }

    /// <inheritdoc />
    public override string ToString() => Value.ToHex();
}

/// <summary>
/// The genesis block hash that names a chain in Lightning messages, in the byte order used on the wire
/// (NBitcoin's internal order, the reverse of the usual display order).
/// </summary>
/// <param name="Value">The 32 bytes as they appear on the wire.</param>
public readonly record struct ChainHash(Bytes32 Value)
{
    /// <summary>Bitcoin mainnet.</summary>
    public static ChainHash Bitcoin { get; } = FromDisplayHex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");

    /// <summary>Bitcoin testnet3.</summary>
    public static ChainHash Testnet { get; } = FromDisplayHex("000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943");

    /// <summary>Bitcoin signet (the default signet).</summary>
    public static ChainHash Signet { get; } = FromDisplayHex("00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6");

    /// <summary>Bitcoin regtest (and the embedded devnet).</summary>
    public static ChainHash Regtest { get; } = FromDisplayHex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206");

    /// <summary>Creates the chain hash from the usual (reversed) display hex of a block hash.</summary>
    public static ChainHash FromDisplayHex(string displayHex)
    {
        var bytes = Convert.FromHexString(displayHex);
        Array.Reverse(bytes);
        return new ChainHash(new Bytes32(bytes));
    }

    /// <summary>The block hash in display order (as block explorers print it).</summary>
    public string ToDisplayHex()
    {
        var bytes = Value.ToArray();
        Array.Reverse(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <inheritdoc />
    public override string ToString() => ToDisplayHex();
}
