using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>
/// The HD keys of one account: BIP84 (<c>m/84'/coin'/0'</c>, P2WPKH) or BIP86 (<c>m/86'/coin'/0'</c>, P2TR key path).
/// The coin type is 0 on mainnet and 1 on every test network. Holds the account's private key only when built from a seed.
/// </summary>
public sealed class HdAccount
{
    private readonly ExtKey[]? _chainKeys;
    private readonly ExtPubKey[] _chainPubKeys;

    private HdAccount(AddressType type, Network network, RootedKeyPath origin, ExtPubKey accountPub, ExtKey? accountKey)
    {
        Type = type;
        Network = network;
        Origin = origin;
        AccountPubKey = accountPub;
        // The chain-level keys (account/0 and account/1) are derived once: every address is one derivation below them.
        _chainPubKeys = [accountPub.Derive(0), accountPub.Derive(1)];
        _chainKeys = accountKey is null ? null : [accountKey.Derive(0), accountKey.Derive(1)];
    }

    /// <summary>P2WPKH or P2TR.</summary>
    public AddressType Type { get; }

    /// <summary>The network addresses are encoded for.</summary>
    public Network Network { get; }

    /// <summary>Master fingerprint and account path.</summary>
    public RootedKeyPath Origin { get; }

    /// <summary>The account-level extended public key.</summary>
    public ExtPubKey AccountPubKey { get; }

    /// <summary>Whether private keys are available.</summary>
    public bool CanSign => _chainKeys is not null;

    /// <summary>BIP44 coin type for a network: 0 for mainnet, 1 otherwise.</summary>
    public static int CoinType(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return network.ChainName == ChainName.Mainnet ? 0 : 1;
    }

    /// <summary>The BIP purpose of an account type (84 or 86).</summary>
    public static int Purpose(AddressType type) => type == AddressType.P2wpkh ? 84 : 86;

    /// <summary>Derives account 0 of <paramref name="type"/> from the BIP32 master key.</summary>
    public static HdAccount FromMaster(ExtKey master, AddressType type, Network network, int account = 0)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(network);
        var path = new KeyPath($"m/{Purpose(type)}'/{CoinType(network)}'/{account}'");
        var accountKey = master.Derive(path);
        var origin = new RootedKeyPath(master.GetPublicKey().GetHDFingerPrint(), path);
        return new HdAccount(type, network, origin, accountKey.Neuter(), accountKey);
    }

    /// <summary>A watch-only account from a descriptor.</summary>
    public static HdAccount FromDescriptor(WalletDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        return new HdAccount(descriptor.Type, descriptor.AccountXpub.Network, descriptor.AccountOrigin, descriptor.AccountXpub.ExtPubKey, null);
    }

    /// <summary>The ranged descriptor of a chain.</summary>
    public WalletDescriptor Descriptor(KeyChain chain) => new(Type, Origin, AccountPubKey.GetWif(Network), chain);

    /// <summary>The public key at <c>chain/index</c>.</summary>
    public PubKey PubKey(KeyChain chain, int index) => _chainPubKeys[(int)chain].Derive((uint)index).PubKey;

    /// <summary>The output script at <c>chain/index</c>.</summary>
    public Script ScriptPubKey(KeyChain chain, int index) => ScriptFor(PubKey(chain, index));

    /// <summary>The output script paying to a key of this account type (BIP86 tweak for taproot).</summary>
    public Script ScriptFor(PubKey pubKey)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        return pubKey.GetScriptPubKey(Type == AddressType.P2wpkh ? ScriptPubKeyType.Segwit : ScriptPubKeyType.TaprootBIP86);
    }

    /// <summary>The full key path from the master of <c>chain/index</c>, with the master fingerprint.</summary>
    public RootedKeyPath FullPath(KeyChain chain, int index) => Origin.Derive(new KeyPath((uint)chain, (uint)index));

    /// <summary>The private key at <c>chain/index</c>.</summary>
    /// <exception cref="WalletException">The account is watch-only.</exception>
    public Key PrivateKey(KeyChain chain, int index) =>
        (_chainKeys ?? throw new WalletException("the account is watch-only"))[(int)chain].Derive((uint)index).PrivateKey;
}
