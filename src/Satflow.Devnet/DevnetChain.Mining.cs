using NBitcoin;

namespace Satflow.Devnet;

public sealed partial class DevnetChain
{
    private const int CoinbaseWeightReserve = 4000;

    /// <summary>
    /// Mines <paramref name="count"/> blocks paying <paramref name="payoutScript"/> (Core's <c>generatetoaddress</c>): each
    /// block takes mempool transactions by ancestor fee rate up to the weight limit, carries a BIP141 commitment, is ground
    /// to the regtest target and connected.
    /// </summary>
    /// <returns>The hashes of the new blocks.</returns>
    public async Task<IReadOnlyList<uint256>> MineBlocksAsync(int count, Script payoutScript, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payoutScript);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var hashes = new List<uint256>(count);
        for (var n = 0; n < count; n++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            hashes.Add(await MutateAsync(events =>
            {
                var block = CreateBlock(payoutScript);
                var result = ProcessBlock(block, events);
                return result.Status == SubmitBlockStatus.Accepted
                    ? block.GetHash()
                    : throw new InvalidOperationException($"Mined block was not accepted: {result.ToRpcResult()}");
            }, cancellationToken).ConfigureAwait(false));
        }

        return hashes;
    }

    /// <summary>Builds and grinds a block on the current tip without submitting it (useful to craft test blocks).</summary>
    public Block CreateBlockTemplate(Script payoutScript, bool includeMempool = true)
    {
        ArgumentNullException.ThrowIfNull(payoutScript);
        lock (_sync)
        {
            ThrowIfDisposed();
            return CreateBlock(payoutScript, includeMempool);
        }
    }

    private Block CreateBlock(Script payoutScript, bool includeMempool = true)
    {
        var tip = TipEntry;
        var height = tip.Height + 1;
        var selected = includeMempool ? SelectTransactions() : [];
        var fees = selected.Aggregate(Money.Zero, (s, e) => s + e.Fee);

        var block = Network.RegTest.Consensus.ConsensusFactory.CreateBlock();
        block.Header.Version = 0x20000000;
        block.Header.HashPrevBlock = tip.Hash;
        block.Header.Bits = new Target(DevnetConsensus.RegtestBits);
        var now = Clock.GetUtcNow().ToUnixTimeSeconds();
        block.Header.BlockTime = DateTimeOffset.FromUnixTimeSeconds(Math.Max(tip.MedianTimePast + 1, now));

        var coinbase = Network.RegTest.CreateTransaction();
        coinbase.Version = 2;
        coinbase.Inputs.Add(new TxIn(new Script(Op.GetPushOp(height), OpcodeType.OP_0)));
        coinbase.Inputs[0].WitScript = new WitScript(new List<byte[]> { new byte[32] });
        coinbase.Outputs.Add(new TxOut(DevnetConsensus.GetBlockSubsidy(height) + fees, payoutScript));
        block.Transactions.Add(coinbase);
        foreach (var entry in selected)
        {
            block.Transactions.Add(entry.Transaction);
        }

        var commitment = DevnetConsensus.ComputeWitnessCommitment(DevnetConsensus.ComputeWitnessMerkleRoot(block), new byte[32]);
        coinbase.Outputs.Add(new TxOut(Money.Zero, DevnetConsensus.WitnessCommitmentScript(commitment)));
        block.UpdateMerkleRoot();
        Grind(block.Header);
        return block;
    }

    /// <summary>Increments the nonce until the header meets its target.</summary>
    public static void Grind(BlockHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        var target = header.Bits.ToUInt256();
        while (header.GetHash() > target)
        {
            header.Nonce++;
        }
    }

    /// <summary>Ancestor-fee-rate package selection, as Core's BlockAssembler.</summary>
    private List<MempoolEntry> SelectTransactions()
    {
        var result = new List<MempoolEntry>();
        var included = new HashSet<uint256>();
        var remaining = _mempool.Entries.ToDictionary(e => e.Txid);
        var weightLeft = DevnetConsensus.MaxBlockWeight - CoinbaseWeightReserve;
        var ancestorsOf = remaining.Values.ToDictionary(e => e.Txid, e => _mempool.Ancestors(e.Transaction));
        while (remaining.Count > 0)
        {
            MempoolEntry? best = null;
            List<MempoolEntry>? bestPackage = null;
            decimal bestRate = -1;
            foreach (var entry in remaining.Values)
            {
                var package = new List<MempoolEntry> { entry };
                foreach (var a in ancestorsOf[entry.Txid])
                {
                    if (!included.Contains(a))
                    {
                        _mempool.TryGet(a, out var ae);
                        package.Add(ae);
                    }
                }

                var rate = (decimal)package.Sum(p => p.Fee.Satoshi) / package.Sum(p => p.VirtualSize);
                if (rate > bestRate || (rate == bestRate && best is not null && entry.Sequence < best.Sequence))
                {
                    best = entry;
                    bestPackage = package;
                    bestRate = rate;
                }
            }

            var packageWeight = bestPackage!.Sum(p => p.Weight);
            if (packageWeight > weightLeft)
            {
                remaining.Remove(best!.Txid);
                continue;
            }

            foreach (var p in bestPackage!.OrderBy(p => p.Sequence))
            {
                result.Add(p);
                included.Add(p.Txid);
                remaining.Remove(p.Txid);
            }

            weightLeft -= packageWeight;
        }

        return result;
    }

    /// <summary>
    /// Core's <c>estimatesmartfee</c> in spirit: the fee rate recent blocks confirmed at (a higher percentile for shorter
    /// targets), raised to what the mempool backlog requires within the target, never below the minimum relay fee; the
    /// configured fallback when there is no data.
    /// </summary>
    public FeeRate EstimateSmartFee(int confirmationTarget)
    {
        var target = Math.Clamp(confirmationTarget, 1, 1008);
        lock (_sync)
        {
            ThrowIfDisposed();
            var rates = new List<decimal>();
            var window = Math.Max(target, 6);
            for (var h = TipEntry.Height; h > 0 && h > TipEntry.Height - window; h--)
            {
                foreach (var (fee, vsize) in _active[h].TxFees ?? [])
                {
                    rates.Add((decimal)fee * 1000 / vsize);
                }
            }

            decimal estimate;
            if (rates.Count == 0)
            {
                estimate = Options.FallbackFeeRate.FeePerK.Satoshi;
            }
            else
            {
                rates.Sort();
                var percentile = target <= 2 ? 0.85m : target <= 6 ? 0.5m : 0.25m;
                estimate = rates[(int)Math.Min(rates.Count - 1, Math.Floor(percentile * rates.Count))];
            }

            var backlogWeight = (long)target * (DevnetConsensus.MaxBlockWeight - CoinbaseWeightReserve);
            long cumulative = 0;
            foreach (var entry in _mempool.Entries.OrderByDescending(e => e.FeeRateSatPerVByte))
            {
                cumulative += entry.Weight;
                if (cumulative > backlogWeight)
                {
                    estimate = Math.Max(estimate, entry.FeeRateSatPerVByte * 1000 + 1);
                    break;
                }
            }

            estimate = Math.Max(estimate, Options.MinRelayFeeRate.FeePerK.Satoshi);
            return new FeeRate(Money.Satoshis((long)Math.Ceiling(estimate)));
        }
    }
}
