using System.Diagnostics;
using NBitcoin;
using NBitcoin.Secp256k1;

namespace Satflow.PaymentsLoad;

/// <summary>
/// Single-thread costs of the secp256k1 operations a payment performs, measured on this machine now, in CPU time of the
/// process (nothing else runs in it yet), so that a loaded machine does not inflate them as wall time would.
/// </summary>
public sealed record Calibration(double SignUs, double VerifyUs, double EcdhUs, double PubKeyUs)
{
    /// <summary>Times <paramref name="iterations"/> of each operation (NBitcoin's managed secp256k1, as the channel code uses).</summary>
    public static Calibration Measure(int iterations = 200)
    {
        var key = new Key(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());
        var pub = key.PubKey;
        var hash = new uint256(Enumerable.Range(40, 32).Select(i => (byte)i).ToArray());
        var signature = key.Sign(hash, useLowR: false);
        var ecPriv = ECPrivKey.Create(key.ToBytes());
        var ecPub = ECPubKey.Create(pub.ToBytes());
        var sink = 0;
        for (var i = 0; i < 20; i++)
        {
            sink += key.Sign(hash, useLowR: false).ToDER().Length + (pub.Verify(hash, signature) ? 1 : 0);
        }
        var sign = Time(iterations, () => sink += key.Sign(hash, useLowR: false).ToDER().Length);
        var verify = Time(iterations, () => sink += pub.Verify(hash, signature) ? 1 : 0);
        var ecdh = Time(iterations, () => sink += ecPub.GetSharedPubkey(ecPriv).ToBytes().Length);
        var create = Time(iterations, () => sink += ECPrivKey.Create(key.ToBytes()).CreatePubKey().ToBytes().Length);
        GC.KeepAlive(sink);
        return new Calibration(sign, verify, ecdh, create);
    }

    private static double Time(int iterations, Action action)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var start = process.TotalProcessorTime;
        for (var i = 0; i < iterations; i++)
        {
            action();
        }
        process.Refresh();
        return (process.TotalProcessorTime - start).TotalMicroseconds / iterations;
    }
}
