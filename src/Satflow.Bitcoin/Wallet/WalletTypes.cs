using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>The output type of a wallet account.</summary>
public enum AddressType
{
    /// <summary>Native segwit v0 pay-to-witness-public-key-hash, BIP84 account (<c>wpkh(...)</c>).</summary>
    P2wpkh = 0,

    /// <summary>Taproot key-path only (BIP86, no script tree), <c>tr(...)</c>.</summary>
    P2tr = 1,
}

/// <summary>The BIP44 "change" level of a derivation path.</summary>
public enum KeyChain
{
    /// <summary>External chain (index 0): addresses handed out to payers.</summary>
    Receive = 0,

    /// <summary>Internal chain (index 1): change outputs.</summary>
    Change = 1,
}

/// <summary>One derived address of the wallet.</summary>
/// <param name="Type">Account type.</param>
/// <param name="Chain">Receive or change chain.</param>
/// <param name="Index">Child index on that chain.</param>
/// <param name="ScriptPubKey">The output script.</param>
/// <param name="Address">The address in the wallet's network encoding.</param>
/// <param name="Used">Whether a transaction known to the wallet paid to it.</param>
public sealed record WalletAddress(AddressType Type, KeyChain Chain, int Index, Script ScriptPubKey, string Address, bool Used)
{
    /// <summary>The key path below the account (<c>chain/index</c>).</summary>
    public KeyPath RelativePath => new KeyPath((uint)Chain, (uint)Index);
}

/// <summary>An output the wallet owns.</summary>
/// <param name="OutPoint">Where it is.</param>
/// <param name="Output">Value and script.</param>
/// <param name="Type">The account it belongs to.</param>
/// <param name="Chain">Receive or change chain.</param>
/// <param name="Index">Child index.</param>
/// <param name="Height">Height of the confirming block, or null while unconfirmed.</param>
/// <param name="BlockHash">Hash of the confirming block, or null while unconfirmed.</param>
/// <param name="IsCoinbase">Whether it is a coinbase output (needs 100 confirmations).</param>
/// <param name="SpentBy">The wallet transaction that spends it (confirmed or not), or null while unspent.</param>
public sealed record WalletUtxo(OutPoint OutPoint, TxOut Output, AddressType Type, KeyChain Chain, int Index, int? Height, uint256? BlockHash, bool IsCoinbase, uint256? SpentBy)
{
    /// <summary>The value.</summary>
    public Money Amount => Output.Value;

    /// <summary>Confirmations given the wallet's synced height (0 while unconfirmed).</summary>
    public int Confirmations(int tipHeight) => Height is int h && tipHeight >= h ? tipHeight - h + 1 : 0;
}

/// <summary>A transaction that touches the wallet.</summary>
/// <param name="Transaction">The transaction.</param>
/// <param name="Height">Confirming block height, or null while unconfirmed.</param>
/// <param name="BlockHash">Confirming block hash, or null while unconfirmed.</param>
/// <param name="IsOwn">Whether this wallet created and broadcast it (it stays tracked while unconfirmed and survives reorgs).</param>
/// <param name="Fee">The fee when every input's value is known to the wallet (always for its own transactions).</param>
public sealed record WalletTransaction(Transaction Transaction, int? Height, uint256? BlockHash, bool IsOwn, Money? Fee)
{
    /// <summary>The transaction id.</summary>
    public uint256 TxId => Transaction.GetHash();
}

/// <summary>The wallet's balance split by spendability.</summary>
/// <param name="Confirmed">Unspent outputs with at least one confirmation (coinbase outputs only once mature).</param>
/// <param name="Unconfirmed">Unspent outputs of unconfirmed transactions (the wallet's own change and payments to itself).</param>
/// <param name="Immature">Coinbase outputs with fewer than 100 confirmations.</param>
public sealed record WalletBalance(Money Confirmed, Money Unconfirmed, Money Immature)
{
    /// <summary>Everything together.</summary>
    public Money Total => Confirmed + Unconfirmed + Immature;
}

/// <summary>The outcome of a send, fee bump or CPFP.</summary>
/// <param name="TxId">The broadcast transaction's id.</param>
/// <param name="Fee">Its absolute fee.</param>
/// <param name="Transaction">The signed transaction.</param>
/// <param name="ChangeOutputIndex">Index of the change output, or null when the transaction has none.</param>
public sealed record SendResult(uint256 TxId, Money Fee, Transaction Transaction, int? ChangeOutputIndex);

/// <summary>Progress of a rescan.</summary>
/// <param name="Height">The height just processed.</param>
/// <param name="TipHeight">The height the rescan runs up to.</param>
/// <param name="Pass">1 for the first pass; later passes run when addresses beyond the look-ahead were discovered.</param>
public readonly record struct RescanProgress(int Height, int TipHeight, int Pass);
