using System.Net;
using CsCheck;
using NBitcoin;
using Satflow.Lightning.Backup;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Tests.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Backup;

/// <summary>The encrypted static channel backup file.</summary>
public sealed class StaticChannelBackupTests
{
    private static readonly byte[] Salt = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    internal static ChannelBackupEntry Entry(CommitmentFormat format)
    {
        var parties = new TwoParties(format);
        NetworkAddress[] addresses =
        [
            new IPv4NetworkAddress(IPAddress.Parse("127.0.0.1"), 9735),
            new IPv6NetworkAddress(IPAddress.Parse("::1"), 9736),
            new DnsHostnameNetworkAddress("node.example", 9737),
        ];
        return ChannelBackupEntry.FromChannel(new NodeId(new Key(Enumerable.Repeat((byte)0x33, 32).ToArray()).PubKey), addresses, parties.ParamsA, 7);
    }

    private static StaticChannelBackup Backup() => new([Entry(CommitmentFormat.AnchorOutputs), Entry(CommitmentFormat.StaticRemoteKey) with { ChannelKeyIndex = 8, PeerAddresses = [] }]);

    [Fact]
    public void EncryptDecryptRoundTrip()
    {
        var backup = Backup();
        var bytes = backup.Encode(TwoParties.SeedA, Salt);
        Assert.True(bytes.AsSpan(0, 4).SequenceEqual("SFCB"u8));
        Assert.Equal(StaticChannelBackup.CurrentVersion, bytes[4]);
        var decoded = StaticChannelBackup.Decode(bytes, TwoParties.SeedA);
        Assert.Equal(2, decoded.Channels.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(backup.Channels[i].SameAs(decoded.Channels[i]));
        }
        Assert.Equal(new TwoParties(CommitmentFormat.AnchorOutputs).ParamsA.ChannelId, decoded.Channels[0].ChannelId);
        Assert.Equal(3, decoded.Channels[0].PeerAddresses.Count);
        // The plaintext does not appear in the file; a fresh salt gives a different file.
        Assert.False(bytes.AsSpan().IndexOf(decoded.Channels[0].PeerNodeId.Span) >= 0);
        Assert.NotEqual(bytes, backup.Encode(TwoParties.SeedA));
        Assert.Equal(2, StaticChannelBackup.Decode(backup.Encode(TwoParties.SeedA), TwoParties.SeedA).Channels.Count);
    }

    [Fact]
    public void WrongSeedIsReportedAsSuch()
    {
        var bytes = Backup().Encode(TwoParties.SeedA, Salt);
        var error = Assert.Throws<StaticChannelBackupException>(() => StaticChannelBackup.Decode(bytes, TwoParties.SeedB));
        Assert.Equal(StaticChannelBackupError.WrongKey, error.Error);
    }

    [Fact]
    public void EveryModifiedByteIsDetected()
    {
        var bytes = Backup().Encode(TwoParties.SeedA, Salt);
        for (var i = 0; i < bytes.Length; i++)
        {
            var copy = bytes.ToArray();
            copy[i] ^= 0x01;
            var error = Assert.Throws<StaticChannelBackupException>(() => StaticChannelBackup.Decode(copy, TwoParties.SeedA));
            var expected = i switch
            {
                < 4 => StaticChannelBackupError.NotABackup,
                4 => StaticChannelBackupError.UnknownVersion,
                >= 37 and < 45 => StaticChannelBackupError.WrongKey,
                _ => StaticChannelBackupError.Tampered,
            };
            Assert.Equal(expected, error.Error);
        }
    }

    [Fact]
    public void TruncatedAndUnknownVersionsAreTyped()
    {
        var bytes = Backup().Encode(TwoParties.SeedA, Salt);
        foreach (var length in new[] { 0, 3, 4, 20, 45, 60, bytes.Length - 1 })
        {
            var error = Assert.Throws<StaticChannelBackupException>(() => StaticChannelBackup.Decode(bytes.AsSpan(0, length), TwoParties.SeedA));
            Assert.Contains(error.Error, new[] { StaticChannelBackupError.Truncated, StaticChannelBackupError.Tampered });
        }
        var future = bytes.ToArray();
        future[4] = 9;
        Assert.Equal(StaticChannelBackupError.UnknownVersion, Assert.Throws<StaticChannelBackupException>(() => StaticChannelBackup.Decode(future, TwoParties.SeedA)).Error);
    }

    [Fact]
    public void EmptyBackupRoundTrips() =>
        Assert.Empty(StaticChannelBackup.Decode(new StaticChannelBackup([]).Encode(TwoParties.SeedA, Salt), TwoParties.SeedA).Channels);

    [Fact]
    public void RandomBytesGiveOnlyTheTypedException()
    {
        var valid = Backup().Encode(TwoParties.SeedA, Salt);
        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            Assert.Throws<StaticChannelBackupException>(() => StaticChannelBackup.Decode(bytes, TwoParties.SeedA));
            // The same bytes behind a valid header fail authentication.
            Assert.Throws<StaticChannelBackupException>(() => StaticChannelBackup.Decode([.. valid.AsSpan(0, 45), .. bytes], TwoParties.SeedA));
        }, iter: 300);
    }
}
