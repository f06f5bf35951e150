using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Backup;

/// <summary>
/// A static channel backup file: the list of <see cref="ChannelBackupEntry"/>s, encrypted and authenticated with
/// ChaCha20-Poly1305 under a key derived from the node seed. Layout: <c>"SFCB"</c>, version byte, 32-byte salt,
/// 8-byte key check, ciphertext and 16-byte tag (the header is the associated data). The file key is
/// HKDF-SHA256 of the seed's backup key and the salt, so every file uses a fresh key with nonce 0.
/// </summary>
public sealed class StaticChannelBackup
{
    /// <summary>The format version written.</summary>
    public const byte CurrentVersion = 1;

    private const int SaltLength = 32;
    private const int KeyCheckLength = 8;
    private const int HeaderLength = 4 + 1 + SaltLength + KeyCheckLength;

    /// <summary>Creates a backup of these channels.</summary>
    /// <param name="channels">The channels (at most 65535).</param>
    public StaticChannelBackup(IReadOnlyList<ChannelBackupEntry> channels)
    {
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(channels.Count, ushort.MaxValue, nameof(channels));
        Channels = channels.ToList();
    }

    /// <summary>The magic bytes starting every backup file.</summary>
    public static ReadOnlySpan<byte> Magic => "SFCB"u8;

    /// <summary>The channels.</summary>
    public IReadOnlyList<ChannelBackupEntry> Channels { get; }

    /// <summary>Encrypts the backup with a key derived from <paramref name="nodeSeed"/> and a fresh random salt.</summary>
    /// <param name="nodeSeed">The node seed.</param>
    public byte[] Encode(ReadOnlySpan<byte> nodeSeed)
    {
        Span<byte> salt = stackalloc byte[SaltLength];
        RandomNumberGenerator.Fill(salt);
        return Encode(nodeSeed, salt);
    }

    /// <summary>Encrypts the backup with a key derived from <paramref name="nodeSeed"/> and <paramref name="salt"/> (32 bytes, never reused).</summary>
    /// <param name="nodeSeed">The node seed.</param>
    /// <param name="salt">A 32-byte salt unique to this file.</param>
    public byte[] Encode(ReadOnlySpan<byte> nodeSeed, ReadOnlySpan<byte> salt)
    {
        if (salt.Length != SaltLength)
        {
            throw new ArgumentException("The salt must be 32 bytes.", nameof(salt));
        }
        var backupKey = BackupKey(nodeSeed);
        var header = new byte[HeaderLength];
        Magic.CopyTo(header);
        header[4] = CurrentVersion;
        salt.CopyTo(header.AsSpan(5));
        KeyCheck(backupKey).CopyTo(header.AsSpan(5 + SaltLength));
        var ciphertext = ChaChaPoly.Encrypt(FileKey(backupKey, salt), 0, header, Plaintext());
        return [.. header, .. ciphertext];
    }

    /// <summary>Decrypts and parses a backup file.</summary>
    /// <param name="data">The file.</param>
    /// <param name="nodeSeed">The node seed it was made with.</param>
    /// <exception cref="StaticChannelBackupException">When the data is truncated, not a backup, of an unknown version, made with another seed, modified or malformed.</exception>
    public static StaticChannelBackup Decode(ReadOnlySpan<byte> data, ReadOnlySpan<byte> nodeSeed)
    {
        if (data.Length < 5)
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.Truncated, $"{data.Length} bytes is shorter than the header.");
        }
        if (!data[..4].SequenceEqual(Magic))
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.NotABackup, "Missing the SFCB magic bytes.");
        }
        if (data[4] != CurrentVersion)
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.UnknownVersion, $"Backup version {data[4]} is not supported.");
        }
        if (data.Length < HeaderLength + ChaChaPoly.TagLength)
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.Truncated, $"{data.Length} bytes is shorter than the header and tag.");
        }
        var backupKey = BackupKey(nodeSeed);
        if (!CryptographicOperations.FixedTimeEquals(KeyCheck(backupKey), data.Slice(5 + SaltLength, KeyCheckLength)))
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.WrongKey, "The backup was made with another node seed.");
        }
        var header = data[..HeaderLength];
        if (!ChaChaPoly.TryDecrypt(FileKey(backupKey, data.Slice(5, SaltLength)), 0, header, data[HeaderLength..], out var plaintext))
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.Tampered, "The authentication tag does not check.");
        }
        try
        {
            return Parse(plaintext);
        }
        catch (Exception e) when (e is WireFormatException or FormatException or ArgumentException or OverflowException)
        {
            throw new StaticChannelBackupException(StaticChannelBackupError.Malformed, e.Message, e);
        }
    }

    private static byte[] BackupKey(ReadOnlySpan<byte> nodeSeed)
    {
        if (nodeSeed.Length is < 16 or > 64)
        {
            throw new ArgumentException("The node seed must be 16..64 bytes.", nameof(nodeSeed));
        }
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, nodeSeed.ToArray(), 32, "satflow/static-channel-backup"u8.ToArray(), "backup key v1"u8.ToArray());
    }

    private static byte[] KeyCheck(byte[] backupKey) => HMACSHA256.HashData(backupKey, "key check"u8)[..KeyCheckLength];

    private static byte[] FileKey(byte[] backupKey, ReadOnlySpan<byte> salt) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, backupKey, 32, salt.ToArray(), "file key"u8.ToArray());

    private byte[] Plaintext()
    {
        var w = new WireWriter(256 * Math.Max(1, Channels.Count));
        w.WriteUInt16((ushort)Channels.Count);
        foreach (var c in Channels)
        {
            w.WriteBytes(c.PeerNodeId.Span);
            w.WriteByte(checked((byte)c.PeerAddresses.Count));
            foreach (var address in c.PeerAddresses)
            {
                var bytes = address.ToBytes();
                w.WriteUInt16(checked((ushort)bytes.Length)).WriteBytes(bytes);
            }
            w.WriteBytes(c.ChannelId.Value.ToArray());
            w.WriteBytes(c.FundingOutPoint.Hash.ToBytes()).WriteUInt32(c.FundingOutPoint.N);
            w.WriteInt64(c.Capacity.Satoshi).WriteUInt32(c.ChannelKeyIndex);
            w.WriteByte(c.LocalIsFunder ? (byte)1 : (byte)0).WriteByte((byte)c.Format);
            w.WriteBytes(c.RemotePaymentBasepoint.Compress().ToBytes()).WriteBytes(c.RemoteFundingPubKey.Compress().ToBytes());
            w.WriteUInt16(c.LocalToSelfDelay).WriteUInt16(c.RemoteToSelfDelay);
            w.WriteInt64(c.LocalDustLimit.Satoshi).WriteInt64(c.RemoteDustLimit.Satoshi);
        }
        return w.ToArray();
    }

    private static StaticChannelBackup Parse(ReadOnlySpan<byte> plaintext)
    {
        var r = new WireReader(plaintext);
        var count = r.ReadUInt16();
        var channels = new List<ChannelBackupEntry>();
        for (var i = 0; i < count; i++)
        {
            var nodeId = NodeId.TryFromBytes(r.ReadSpan(NodeId.Length), out var id) ? id : throw new WireFormatException("invalid node id");
            var addressCount = r.ReadByte();
            var addresses = new List<NetworkAddress>();
            for (var a = 0; a < addressCount; a++)
            {
                addresses.Add(NetworkAddress.ParseSingle(r.ReadSpan(r.ReadUInt16())));
            }
            var channelId = ChannelId.FromBytes(r.ReadSpan(32));
            var outPoint = new OutPoint(new uint256(r.ReadSpan(32)), r.ReadUInt32());
            var capacity = Amount(r.ReadInt64());
            var keyIndex = r.ReadUInt32();
            var funder = r.ReadByte() switch { 0 => false, 1 => true, var b => throw new WireFormatException("invalid flag", $"funder byte {b}") };
            var format = r.ReadByte() switch
            {
                0 => CommitmentFormat.StaticRemoteKey,
                1 => CommitmentFormat.AnchorOutputs,
                var b => throw new WireFormatException("unknown commitment format", $"{b}"),
            };
            var payment = PubKey(ref r);
            var funding = PubKey(ref r);
            channels.Add(new ChannelBackupEntry(nodeId, addresses, channelId, outPoint, capacity, keyIndex, funder, format, payment, funding, r.ReadUInt16(), r.ReadUInt16(), Amount(r.ReadInt64()), Amount(r.ReadInt64())));
        }
        r.EnsureEnd("static channel backup");
        return new StaticChannelBackup(channels);
    }

    private static Money Amount(long value) =>
        value is >= 0 and <= 21_000_000L * 100_000_000L ? Money.Satoshis(value) : throw new WireFormatException("invalid amount", $"{value}");

    private static PubKey PubKey(ref WireReader r) =>
        NBitcoin.PubKey.TryCreatePubKey(r.ReadSpan(33).ToArray(), out var key) && key is not null ? key : throw new WireFormatException("invalid public key");
}
