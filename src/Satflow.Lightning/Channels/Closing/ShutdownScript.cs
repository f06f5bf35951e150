using NBitcoin;
using Satflow.Lightning.Features;

namespace Satflow.Lightning.Channels.Closing;

/// <summary>The forms a BOLT 2 shutdown <c>scriptpubkey</c> may take.</summary>
public enum ShutdownScriptKind
{
    /// <summary>Legacy pay-to-pubkey-hash (accepted for backwards compatibility, BOLT 2 rationale).</summary>
    P2pkh,

    /// <summary>Legacy pay-to-script-hash (accepted for backwards compatibility, BOLT 2 rationale).</summary>
    P2sh,

    /// <summary><c>OP_0</c> 20 bytes.</summary>
    P2wpkh,

    /// <summary><c>OP_0</c> 32 bytes.</summary>
    P2wsh,

    /// <summary><c>OP_1</c>..<c>OP_16</c> and a 2..40-byte program (needs <c>option_shutdown_anysegwit</c>).</summary>
    FutureSegwit,

    /// <summary><c>OP_RETURN</c> and one 6..80-byte push (needs <c>option_simple_close</c>).</summary>
    OpReturn,
}

/// <summary>BOLT 2 shutdown script rules and the Bitcoin Core dust thresholds of output scripts (BOLT 3 "Dust Limits").</summary>
public static class ShutdownScript
{
    /// <summary>
    /// Checks <paramref name="script"/> against the BOLT 2 <c>shutdown</c> forms allowed by the negotiated features
    /// (either bit of <c>option_shutdown_anysegwit</c>/<c>option_simple_close</c> counts).
    /// </summary>
    /// <param name="script">The script.</param>
    /// <param name="negotiated">The features both peers advertised.</param>
    /// <param name="kind">The form, when valid.</param>
    /// <param name="reason">Why it is invalid, or null.</param>
    public static bool TryValidate(Script script, FeatureBits negotiated, out ShutdownScriptKind kind, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(negotiated);
        var b = script.ToBytes(true);
        kind = default;
        reason = null;
        if (b.Length == 25 && b[0] == 0x76 && b[1] == 0xa9 && b[2] == 20 && b[23] == 0x88 && b[24] == 0xac)
        {
            kind = ShutdownScriptKind.P2pkh;
            return true;
        }
        if (b.Length == 23 && b[0] == 0xa9 && b[1] == 20 && b[22] == 0x87)
        {
            kind = ShutdownScriptKind.P2sh;
            return true;
        }
        if (b.Length == 22 && b[0] == 0x00 && b[1] == 20)
        {
            kind = ShutdownScriptKind.P2wpkh;
            return true;
        }
        if (b.Length == 34 && b[0] == 0x00 && b[1] == 32)
        {
            kind = ShutdownScriptKind.P2wsh;
            return true;
        }
        if (b.Length >= 4 && b[0] >= 0x51 && b[0] <= 0x60 && b[1] >= 2 && b[1] <= 40 && b.Length == 2 + b[1])
        {
            if (!negotiated.Supports(FeatureRegistry.ShutdownAnySegwit.EvenBit))
            {
                reason = "witness v1+ shutdown script needs option_shutdown_anysegwit";
                return false;
            }
            kind = ShutdownScriptKind.FutureSegwit;
            return true;
        }
        if (b.Length >= 1 && b[0] == 0x6a)
        {
            var single = b.Length >= 2 && b[1] >= 6 && b[1] <= 75 && b.Length == 2 + b[1];
            var pushData1 = b.Length >= 3 && b[1] == 0x4c && b[2] >= 76 && b[2] <= 80 && b.Length == 3 + b[2];
            if (!single && !pushData1)
            {
                reason = "OP_RETURN shutdown script must be followed by a single push of 6..80 bytes";
                return false;
            }
            if (!negotiated.Supports(FeatureRegistry.SimpleClose.EvenBit))
            {
                reason = "OP_RETURN shutdown script needs option_simple_close";
                return false;
            }
            kind = ShutdownScriptKind.OpReturn;
            return true;
        }
        reason = "shutdown script is not p2pkh, p2sh, p2wpkh, p2wsh, a witness program or OP_RETURN";
        return false;
    }

    /// <summary>Checks a shutdown script (see <see cref="TryValidate"/>).</summary>
    /// <exception cref="ClosingException">With <see cref="ClosingFailure.InvalidShutdownScript"/> when it is not allowed.</exception>
    public static ShutdownScriptKind Validate(Script script, FeatureBits negotiated) =>
        TryValidate(script, negotiated, out var kind, out var reason)
            ? kind
            : throw new ClosingException(ClosingFailure.InvalidShutdownScript, reason!);

    /// <summary>True when the script starts with <c>OP_RETURN</c>.</summary>
    public static bool IsOpReturn(Script script)
    {
        ArgumentNullException.ThrowIfNull(script);
        return script.Length > 0 && script.ToBytes(true)[0] == 0x6a;
    }

    /// <summary>
    /// The Bitcoin Core dust threshold of an output paying <paramref name="script"/> at 3000 sat/kvB: 546 for p2pkh,
    /// 540 for p2sh, 294 for p2wpkh, 330 for p2wsh and p2tr, 354 for a 40-byte witness program, 0 for <c>OP_RETURN</c>.
    /// </summary>
    public static Money DustThreshold(Script script)
    {
        ArgumentNullException.ThrowIfNull(script);
        if (IsOpReturn(script))
        {
            return Money.Zero;
        }
        var b = script.ToBytes(true);
        var outputSize = 8 + (b.Length < 0xfd ? 1 : 3) + b.Length;
        var isWitnessProgram = b.Length is >= 4 and <= 42 && (b[0] == 0x00 || (b[0] >= 0x51 && b[0] <= 0x60)) && b[1] + 2 == b.Length;
        var spendSize = isWitnessProgram ? 32 + 4 + 1 + (107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
        return Money.Satoshis(3L * (outputSize + spendSize));
    }
}
