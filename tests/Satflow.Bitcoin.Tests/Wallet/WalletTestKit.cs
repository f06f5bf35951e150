using NBitcoin;
using Satflow.Bitcoin.Wallet;

namespace Satflow.Bitcoin.Tests.Wallet;

/// <summary>A wallet wired to a fake chain, for tests.</summary>
internal sealed class WalletTestKit : IDisposable
{
    public const string Passphrase = "correct horse battery staple";

    private readonly List<string> _dirs = [];

    public WalletTestKit(bool onDisk = false)
    {
        Chain = new FakeChain();
        Broadcaster = new RecordingBroadcaster(Chain);
        var creation = OnChainWallet.Create(Options(onDisk ? NewDir() : null), Passphrase, Broadcaster);
        Wallet = creation.Wallet;
        Mnemonic = creation.Mnemonic;
        Chain.Subscribe(Wallet);
    }

    public FakeChain Chain { get; }

    public RecordingBroadcaster Broadcaster { get; }

    public OnChainWallet Wallet { get; private set; }

    public string Mnemonic { get; }

    public string? DataDirectory => _dirs.LastOrDefault();

    public static WalletOptions Options(string? dir) => new(Network.RegTest, dir) { KdfIterations = 1_000, Random = new Random(7) };

    public string NewDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "satflow-wallet-tests", Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        return dir;
    }

    public static FeeRate SatPerVb(decimal rate) => new(Money.Satoshis((long)(rate * 1000m)));

    /// <summary>Pays the wallet <paramref name="amount"/> on a new address of <paramref name="type"/> and mines it.</summary>
    public async Task<Transaction> FundAsync(Money amount, AddressType type = AddressType.P2wpkh)
    {
        var tx = Chain.Pay(Wallet.GetNewAddress(type).ScriptPubKey, amount);
        await Chain.MineAsync([tx]);
        return tx;
    }

    public void Reopen()
    {
        var dir = DataDirectory ?? throw new InvalidOperationException("in-memory kit");
        Wallet.Dispose();
        Chain.Unsubscribe(Wallet);
        Wallet = OnChainWallet.Open(Options(dir), Passphrase, Broadcaster);
        Chain.Subscribe(Wallet);
    }

    public void Dispose()
    {
        Wallet.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var d in _dirs)
        {
            try
            {
                Directory.Delete(d, recursive: true);
            }
            catch (IOException)
            {
                // best effort cleanup of temp folders
            }
        }
    }
}
