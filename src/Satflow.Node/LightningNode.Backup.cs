using Satflow.Lightning.Backup;
using Satflow.Lightning.Messages;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// The static channel backup of every channel the node holds (encrypted with a key derived from the seed): enough,
    /// with the seed, to ask each peer to force close and to sweep our outputs after a total loss of the store.
    /// </summary>
    public byte[] CreateStaticChannelBackup()
    {
        var entries = _channels.Values
            .OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal)
            .Select(s => ChannelBackupEntry.FromChannel(s.Peer, AddressesOf(s.Peer), s.Channel.Parameters, s.KeyIndex))
            .ToList();
        return new StaticChannelBackup(entries).Encode(_seed);
    }

    private List<NetworkAddress> AddressesOf(Lightning.Types.NodeId peer)
    {
        var info = _deps.Transport.ListPeers().FirstOrDefault(p => p.NodeId == peer);
        if (info is null || info.RemoteEndPoint.Port == 0)
        {
            return [];
        }
        var address = info.RemoteEndPoint.Address;
        var port = (ushort)info.RemoteEndPoint.Port;
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? [new IPv6NetworkAddress(address, port)]
            : [new IPv4NetworkAddress(address.MapToIPv4(), port)];
    }

    /// <summary>Rewrites the backup file (when configured): written to a temporary file, then moved over the old one.</summary>
    private async Task WriteBackupAsync(CancellationToken cancellationToken)
    {
        if (_options.StaticChannelBackupPath is not { } path)
        {
            return;
        }
        var bytes = CreateStaticChannelBackup();
        var temporary = path + ".tmp";
        await File.WriteAllBytesAsync(temporary, bytes, cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
    }
}
