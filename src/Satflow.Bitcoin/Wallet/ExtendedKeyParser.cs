using System.Buffers.Binary;
using NBitcoin;
using NBitcoin.DataEncoders;
using NBitcoin.Secp256k1;

namespace Satflow.Bitcoin.Wallet;

/// <summary>
/// Strict BIP32 extended key parsing (xpub/xprv on mainnet, tpub/tprv on test networks): Base58Check, 78 bytes, a
/// version of the right network and kind, private keys 0x00-prefixed and in [1, n−1], public keys 0x02/0x03 on the curve,
/// and depth 0 only with a zero parent fingerprint and index. Every rejection is a <see cref="WalletFormatException"/>.
/// </summary>
public static class ExtendedKeyParser
{
    /// <summary>Parses an extended public key.</summary>
    public static ExtPubKey ParsePublic(string text, Network network)
    {
        var data = Decode(text, network, expectPrivate: false);
        if (data[45] is not (0x02 or 0x03) || !ECPubKey.TryCreate(data.AsSpan(45, 33), Context.Instance, out _, out _))
        {
            throw new WalletFormatException("extended public key holds an invalid public key");
        }
        return new BitcoinExtPubKey(text, network).ExtPubKey;
    }

    /// <summary>Parses an extended private key.</summary>
    public static ExtKey ParsePrivate(string text, Network network)
    {
        var data = Decode(text, network, expectPrivate: true);
        if (data[45] != 0x00 || !ECPrivKey.TryCreate(data.AsSpan(46, 32), Context.Instance, out var key))
        {
            throw new WalletFormatException("extended private key holds an invalid private key");
        }
        key.Dispose();
        return new BitcoinExtKey(text, network).ExtKey;
    }

    private static byte[] Decode(string text, Network network, bool expectPrivate)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(network);
        byte[] data;
        try
        {
            data = Encoders.Base58Check.DecodeData(text);
        }
        catch (FormatException ex)
        {
            throw new WalletFormatException("extended key is not valid Base58Check (bad character or checksum)", ex);
        }
        if (data.Length != 78)
        {
            throw new WalletFormatException($"extended key has {data.Length} bytes, not 78");
        }
        var version = data.AsSpan(0, 4);
        var pub = network.GetVersionBytes(Base58Type.EXT_PUBLIC_KEY, true);
        var prv = network.GetVersionBytes(Base58Type.EXT_SECRET_KEY, true);
        var isPub = pub is not null && version.SequenceEqual(pub);
        var isPrv = prv is not null && version.SequenceEqual(prv);
        if (!isPub && !isPrv)
        {
            throw new WalletFormatException($"unknown extended key version for {network}");
        }
        if (isPrv != expectPrivate)
        {
            throw new WalletFormatException(expectPrivate ? "expected an extended private key" : "expected an extended public key");
        }
        var depth = data[4];
        var fingerprint = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(5));
        var child = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(9));
        if (depth == 0 && (fingerprint != 0 || child != 0))
        {
            throw new WalletFormatException("a depth-0 extended key must have a zero parent fingerprint and index");
        }
        return data;
    }
}
