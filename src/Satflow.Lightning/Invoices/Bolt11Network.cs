using NBitcoin.DataEncoders;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Invoices;

/// <summary>The chains a BOLT 11 invoice can name through its human-readable prefix.</summary>
public enum Bolt11Network
{
    /// <summary>Bitcoin mainnet (<c>lnbc</c>).</summary>
    Bitcoin,

    /// <summary>Bitcoin testnet (<c>lntb</c>).</summary>
    Testnet,

    /// <summary>Bitcoin signet (<c>lntbs</c>).</summary>
    Signet,

    /// <summary>Bitcoin regtest (<c>lnbcrt</c>).</summary>
    Regtest,
}

/// <summary>Prefixes and address parameters of <see cref="Bolt11Network"/>.</summary>
public static class Bolt11NetworkExtensions
{
    /// <summary>The BIP 173 currency prefix used after <c>ln</c>: <c>bc</c>, <c>tb</c>, <c>tbs</c> or <c>bcrt</c>.</summary>
    public static string CurrencyPrefix(this Bolt11Network network) => network switch
    {
        Bolt11Network.Bitcoin => "bc",
        Bolt11Network.Testnet => "tb",
        Bolt11Network.Signet => "tbs",
        Bolt11Network.Regtest => "bcrt",
        _ => throw new ArgumentOutOfRangeException(nameof(network)),
    };

    /// <summary>The network named by a currency prefix, or null when unknown.</summary>
    public static Bolt11Network? FromCurrencyPrefix(string prefix) => prefix switch
    {
        "bc" => Bolt11Network.Bitcoin,
        "tb" => Bolt11Network.Testnet,
        "tbs" => Bolt11Network.Signet,
        "bcrt" => Bolt11Network.Regtest,
        _ => null,
    };

    /// <summary>The chain hash of the network.</summary>
    public static ChainHash ChainHash(this Bolt11Network network) => network switch
    {
        Bolt11Network.Bitcoin => Types.ChainHash.Bitcoin,
        Bolt11Network.Testnet => Types.ChainHash.Testnet,
        Bolt11Network.Signet => Types.ChainHash.Signet,
        Bolt11Network.Regtest => Types.ChainHash.Regtest,
        _ => throw new ArgumentOutOfRangeException(nameof(network)),
    };

    /// <summary>The segwit address prefix (<c>bc</c>, <c>tb</c> or <c>bcrt</c>).</summary>
    public static string SegwitHrp(this Bolt11Network network) => network switch
    {
        Bolt11Network.Bitcoin => "bc",
        Bolt11Network.Regtest => "bcrt",
        _ => "tb",
    };

    /// <summary>The base58 version byte of P2PKH addresses.</summary>
    public static byte PubKeyHashVersion(this Bolt11Network network) => network == Bolt11Network.Bitcoin ? (byte)0x00 : (byte)0x6f;

    /// <summary>The base58 version byte of P2SH addresses.</summary>
    public static byte ScriptHashVersion(this Bolt11Network network) => network == Bolt11Network.Bitcoin ? (byte)0x05 : (byte)0xc4;

    internal static string Base58Address(byte version, ReadOnlySpan<byte> hash)
    {
        var payload = new byte[hash.Length + 1];
        payload[0] = version;
        hash.CopyTo(payload.AsSpan(1));
        return Encoders.Base58Check.EncodeData(payload);
    }

    internal static string SegwitAddress(this Bolt11Network network, int version, ReadOnlySpan<byte> program) =>
        Bech32.EncodeSegwitAddress(network.SegwitHrp(), version, program);
}
