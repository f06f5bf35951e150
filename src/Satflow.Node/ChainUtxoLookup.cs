using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Types;

namespace Satflow.Node;

/// <summary>
/// Finds the output a short channel id points at through an <see cref="IChainSource"/>: the best-chain block at its
/// height, the transaction at its index, the output at its index, and whether that output is unspent (mempool spends
/// ignored). Backend failures become <see cref="UtxoLookupException"/>.
/// </summary>
/// <param name="chain">The chain source.</param>
public sealed class ChainUtxoLookup(IChainSource chain) : IUtxoLookup
{
    private readonly IChainSource _chain = chain ?? throw new ArgumentNullException(nameof(chain));

    /// <inheritdoc />
    public async Task<FundingOutputLookup> LookupAsync(ShortChannelId shortChannelId, CancellationToken cancellationToken = default)
    {
        try
        {
            var hash = await _chain.GetBlockHashAsync((int)shortChannelId.BlockHeight, cancellationToken).ConfigureAwait(false);
            if (hash is null || await _chain.GetBlockAsync(hash, cancellationToken).ConfigureAwait(false) is not { } block)
            {
                return FundingOutputLookup.Missing;
            }
            if (shortChannelId.TxIndex >= block.Transactions.Count)
            {
                return FundingOutputLookup.Missing;
            }
            var tx = block.Transactions[(int)shortChannelId.TxIndex];
            if (shortChannelId.OutputIndex >= tx.Outputs.Count)
            {
                return FundingOutputLookup.Missing;
            }
            var outPoint = new OutPoint(tx.GetHash(), shortChannelId.OutputIndex);
            var status = await _chain.GetOutPointStatusAsync(outPoint, includeMempool: false, cancellationToken).ConfigureAwait(false);
            var state = status.State switch
            {
                OutPointState.Unspent => FundingOutputState.Unspent,
                OutPointState.Spent => FundingOutputState.Spent,
                _ => FundingOutputState.Missing,
            };
            return new FundingOutputLookup(state, outPoint, tx.Outputs[shortChannelId.OutputIndex]);
        }
        catch (ChainSourceException e)
        {
            throw new UtxoLookupException("The chain source failed: " + e.Message, e);
        }
    }
}

/// <summary>The lookup used when the node has no chain source: every lookup fails, so foreign channel announcements are refused.</summary>
internal sealed class NoUtxoLookup : IUtxoLookup
{
    public static NoUtxoLookup Instance { get; } = new();

    public Task<FundingOutputLookup> LookupAsync(ShortChannelId shortChannelId, CancellationToken cancellationToken = default) =>
        Task.FromException<FundingOutputLookup>(new UtxoLookupException("The node has no chain source to validate channel announcements."));
}
