using System.Globalization;
using Microsoft.AspNetCore.Http;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

internal static partial class NodeApiRoutes
{
    private static async Task SetChannelPolicyAsync(HttpContext context, INodeOperations node)
    {
        var text = RouteValue(context, "channel");
        var request = (await ReadBodyAsync<SetChannelPolicyRequest>(context, optional: false).ConfigureAwait(false))!;
        var baseFee = Required(request.BaseFeeMsat, "base_fee_msat");
        var ppm = Required(request.FeePpm, "fee_ppm");
        var delta = Required(request.CltvDelta, "cltv_delta");
        if (baseFee is < 0 or > uint.MaxValue)
        {
            throw Invalid($"base_fee_msat must be between 0 and {uint.MaxValue.ToString(CultureInfo.InvariantCulture)}, got {baseFee.ToString(CultureInfo.InvariantCulture)}");
        }
        if (ppm is < 0 or > 1_000_000)
        {
            throw Invalid($"fee_ppm must be between 0 and 1000000, got {ppm.ToString(CultureInfo.InvariantCulture)}");
        }
        if (delta is < 1 or > ushort.MaxValue)
        {
            throw Invalid($"cltv_delta must be between 1 and {ushort.MaxValue.ToString(CultureInfo.InvariantCulture)}, got {delta.ToString(CultureInfo.InvariantCulture)}");
        }
        var minimum = request.HtlcMinMsat is { } min ? ParseMsat(min, "htlc_min_msat") : new MilliSatoshi(1);
        var maximum = request.HtlcMaxMsat is { } max ? ParseMsat(max, "htlc_max_msat") : (MilliSatoshi?)null;
        if (maximum is { } m && m < minimum)
        {
            throw Invalid($"htlc_max_msat {m.Value.ToString(CultureInfo.InvariantCulture)} is below htlc_min_msat {minimum.Value.ToString(CultureInfo.InvariantCulture)}");
        }
        var channelId = await ResolveChannelAsync(text, node, context.RequestAborted).ConfigureAwait(false);
        var policy = new ChannelPolicyInfo(channelId, new MilliSatoshi((ulong)baseFee), (uint)ppm, (ushort)delta, minimum, maximum);
        await OkAsync(context, await node.SetChannelPolicyAsync(policy, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>A channel id (64 hex characters) or short channel id (<c>BLOCKxTXxOUT</c>, looked up in the channel list).</summary>
    private static async Task<ChannelId> ResolveChannelAsync(string text, INodeOperations node, CancellationToken cancellationToken)
    {
        if (text.Length == 64 && Bytes32.TryParse(text, out var bytes))
        {
            return new ChannelId(bytes);
        }
        if (ShortChannelId.TryParse(text, out var scid))
        {
            var channels = await node.ListChannelsAsync(cancellationToken).ConfigureAwait(false);
            return channels.FirstOrDefault(c => c.ShortChannelId == scid)?.ChannelId
                ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"no channel with short channel id {scid}");
        }
        throw Invalid($"'{Clip(text)}' is not a channel id (64 hex characters) or short channel id (BLOCKxTXxOUT)");
    }
}
