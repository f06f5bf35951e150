using System.Security.Cryptography;
using System.Text;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Transport;

/// <summary>Where a <see cref="NoiseHandshake"/> stands.</summary>
public enum HandshakeState
{
    /// <summary>The initiator must produce act one.</summary>
    InitiatorWriteActOne,

    /// <summary>The initiator waits for act two (it then produces act three).</summary>
    InitiatorReadActTwo,

    /// <summary>The responder waits for act one (it then produces act two).</summary>
    ResponderReadActOne,

    /// <summary>The responder waits for act three.</summary>
    ResponderReadActThree,

    /// <summary>The handshake succeeded; <see cref="NoiseHandshake.CreateTransport"/> may be called.</summary>
    Complete,

    /// <summary>An act failed; the connection must be closed.</summary>
    Failed,
}

/// <summary>
/// The BOLT 8 <c>Noise_XK_secp256k1_ChaChaPoly_SHA256</c> handshake as a pure state machine (no sockets, no threads).
/// The initiator calls <see cref="WriteActOne"/> then <see cref="ReadActTwo"/> (which returns act three); the responder
/// calls <see cref="ReadActOne"/> (which returns act two) then <see cref="ReadActThree"/>. Bad acts throw
/// <see cref="TransportException"/> and leave the handshake <see cref="HandshakeState.Failed"/>.
/// </summary>
public sealed class NoiseHandshake
{
    /// <summary>Length of act one and act two.</summary>
    public const int ActOneLength = 50;

    /// <summary>Length of act two.</summary>
    public const int ActTwoLength = 50;

    /// <summary>Length of act three.</summary>
    public const int ActThreeLength = 66;

    private static readonly byte[] ProtocolName = Encoding.ASCII.GetBytes("Noise_XK_secp256k1_ChaChaPoly_SHA256");
    private static readonly byte[] Prologue = Encoding.ASCII.GetBytes("lightning");

    private readonly ECPrivKey _localStatic;
    private readonly ECPrivKey _ephemeral;
    private ECPubKey? _remoteStatic;
    private ECPubKey? _remoteEphemeral;
    private byte[] _h;
    private byte[] _ck;
    private byte[] _tempK2 = [];
    private byte[]? _sk;
    private byte[]? _rk;

    private NoiseHandshake(ECPrivKey localStatic, ECPubKey? remoteStatic, ECPrivKey ephemeral, bool initiator)
    {
        _localStatic = localStatic;
        _remoteStatic = remoteStatic;
        _ephemeral = ephemeral;
        IsInitiator = initiator;
        _h = SHA256.HashData(ProtocolName);
        _ck = _h;
        MixHash(Prologue);
        MixHash((initiator ? remoteStatic! : localStatic.CreatePubKey()).ToBytes(true));
        State = initiator ? HandshakeState.InitiatorWriteActOne : HandshakeState.ResponderReadActOne;
    }

    /// <summary>Starts the initiator side towards a node whose static key is known.</summary>
    /// <param name="localStatic">Our node key.</param>
    /// <param name="remoteStatic">The responder's node id.</param>
    /// <param name="ephemeral">A fresh ephemeral key (never reused).</param>
    public static NoiseHandshake Initiator(ECPrivKey localStatic, NodeId remoteStatic, ECPrivKey ephemeral)
    {
        ArgumentNullException.ThrowIfNull(localStatic);
        ArgumentNullException.ThrowIfNull(ephemeral);
        if (!Secp256k1Helpers.TryParseCompressedPoint(remoteStatic.Span, out var remote))
        {
            throw new ArgumentException("The remote node id is not a valid public key.", nameof(remoteStatic));
        }
        return new NoiseHandshake(localStatic, remote, ephemeral, initiator: true);
    }

    /// <summary>Starts the initiator side with a random ephemeral key.</summary>
    public static NoiseHandshake Initiator(ECPrivKey localStatic, NodeId remoteStatic) => Initiator(localStatic, remoteStatic, NewEphemeral());

    /// <summary>Starts the responder side.</summary>
    /// <param name="localStatic">Our node key.</param>
    /// <param name="ephemeral">A fresh ephemeral key (never reused).</param>
    public static NoiseHandshake Responder(ECPrivKey localStatic, ECPrivKey ephemeral)
    {
        ArgumentNullException.ThrowIfNull(localStatic);
        ArgumentNullException.ThrowIfNull(ephemeral);
        return new NoiseHandshake(localStatic, null, ephemeral, initiator: false);
    }

    /// <summary>Starts the responder side with a random ephemeral key.</summary>
    public static NoiseHandshake Responder(ECPrivKey localStatic) => Responder(localStatic, NewEphemeral());

    /// <summary>Whether this is the initiator side.</summary>
    public bool IsInitiator { get; }

    /// <summary>The current state.</summary>
    public HandshakeState State { get; private set; }

    /// <summary>How many bytes the next act to read has (0 when nothing is to be read).</summary>
    public int NextReadLength => State switch
    {
        HandshakeState.InitiatorReadActTwo => ActTwoLength,
        HandshakeState.ResponderReadActOne => ActOneLength,
        HandshakeState.ResponderReadActThree => ActThreeLength,
        _ => 0,
    };

    /// <summary>The peer's static key: known from the start by the initiator, learnt from act three by the responder.</summary>
    public NodeId? RemoteStatic => _remoteStatic is null || (!IsInitiator && State != HandshakeState.Complete)
        ? null
        : NodeId.FromBytes(_remoteStatic.ToBytes(true));

    /// <summary>Initiator: produces act one (<c>-> e, es</c>).</summary>
    /// <exception cref="InvalidOperationException">When not in <see cref="HandshakeState.InitiatorWriteActOne"/>.</exception>
    public byte[] WriteActOne()
    {
        Expect(HandshakeState.InitiatorWriteActOne);
        var act = WriteEphemeralAct(Secp256k1Helpers.Ecdh(_ephemeral, _remoteStatic!), out _);
        State = HandshakeState.InitiatorReadActTwo;
        return act;
    }

    /// <summary>Responder: consumes act one and produces act two (<c>&lt;- e, ee</c>).</summary>
    /// <exception cref="TransportException">When act one is malformed or does not authenticate.</exception>
    /// <exception cref="InvalidOperationException">When not in <see cref="HandshakeState.ResponderReadActOne"/>.</exception>
    public byte[] ReadActOne(ReadOnlySpan<byte> actOne)
    {
        Expect(HandshakeState.ResponderReadActOne);
        var re = ReadEphemeralAct(actOne, ActOneLength, TransportError.Act1ReadFailed, TransportError.Act1BadVersion, TransportError.Act1BadPubkey, TransportError.Act1BadTag,
            remote => Secp256k1Helpers.Ecdh(_localStatic, remote), out _);
        _remoteEphemeral = re;
        var act = WriteEphemeralAct(Secp256k1Helpers.Ecdh(_ephemeral, re), out var tempK2);
        _tempK2 = tempK2;
        State = HandshakeState.ResponderReadActThree;
        return act;
    }

    /// <summary>Initiator: consumes act two and produces act three (<c>-> s, se</c>); the handshake is then complete.</summary>
    /// <exception cref="TransportException">When act two is malformed or does not authenticate.</exception>
    /// <exception cref="InvalidOperationException">When not in <see cref="HandshakeState.InitiatorReadActTwo"/>.</exception>
    public byte[] ReadActTwo(ReadOnlySpan<byte> actTwo)
    {
        Expect(HandshakeState.InitiatorReadActTwo);
        var re = ReadEphemeralAct(actTwo, ActTwoLength, TransportError.Act2ReadFailed, TransportError.Act2BadVersion, TransportError.Act2BadPubkey, TransportError.Act2BadTag,
            remote => Secp256k1Helpers.Ecdh(_ephemeral, remote), out var tempK2);
        _remoteEphemeral = re;

        var act = new byte[ActThreeLength];
        var c = ChaChaPoly.Encrypt(tempK2, 1, _h, _localStatic.CreatePubKey().ToBytes(true));
        c.CopyTo(act.AsSpan(1));
        MixHash(c);
        var (ck, tempK3) = Secp256k1Helpers.Hkdf(_ck, Secp256k1Helpers.Ecdh(_localStatic, re));
        _ck = ck;
        ChaChaPoly.Encrypt(tempK3, 0, _h, ReadOnlySpan<byte>.Empty).CopyTo(act.AsSpan(1 + c.Length));
        (_sk, _rk) = Secp256k1Helpers.Hkdf(_ck, ReadOnlySpan<byte>.Empty);
        State = HandshakeState.Complete;
        return act;
    }

    /// <summary>Responder: consumes act three; the handshake is then complete and <see cref="RemoteStatic"/> known.</summary>
    /// <exception cref="TransportException">When act three is malformed or does not authenticate.</exception>
    /// <exception cref="InvalidOperationException">When not in <see cref="HandshakeState.ResponderReadActThree"/>.</exception>
    public void ReadActThree(ReadOnlySpan<byte> actThree)
    {
        Expect(HandshakeState.ResponderReadActThree);
        if (actThree.Length != ActThreeLength)
        {
            throw Fail(TransportError.Act3ReadFailed, $"expected {ActThreeLength} bytes, got {actThree.Length}");
        }
        if (actThree[0] != 0)
        {
            throw Fail(TransportError.Act3BadVersion, $"version {actThree[0]}");
        }
        var c = actThree.Slice(1, 33 + ChaChaPoly.TagLength);
        var t = actThree[(1 + c.Length)..];
        if (!ChaChaPoly.TryDecrypt(_tempK2, 1, _h, c, out var rsBytes))
        {
            throw Fail(TransportError.Act3BadCiphertext);
        }
        MixHash(c);
        if (!Secp256k1Helpers.TryParseCompressedPoint(rsBytes, out var rs))
        {
            throw Fail(TransportError.Act3BadPubkey);
        }
        var (ck, tempK3) = Secp256k1Helpers.Hkdf(_ck, Secp256k1Helpers.Ecdh(_ephemeral, rs));
        if (!ChaChaPoly.TryDecrypt(tempK3, 0, _h, t, out _))
        {
            throw Fail(TransportError.Act3BadTag);
        }
        _ck = ck;
        _remoteStatic = rs;
        (_rk, _sk) = Secp256k1Helpers.Hkdf(_ck, ReadOnlySpan<byte>.Empty);
        State = HandshakeState.Complete;
    }

    /// <summary>The message transport keyed by the completed handshake.</summary>
    /// <exception cref="InvalidOperationException">When the handshake is not complete.</exception>
    public LightningTransport CreateTransport()
    {
        Expect(HandshakeState.Complete);
        return new LightningTransport(_sk!, _rk!, _ck);
    }

    /// <summary>The final sending key, chaining key and receiving key (for tests and diagnostics).</summary>
    internal (byte[] Sk, byte[] Rk, byte[] Ck) Keys => (_sk!, _rk!, _ck);

    private byte[] WriteEphemeralAct(byte[] sharedSecret, out byte[] tempK)
    {
        var act = new byte[ActOneLength];
        var e = _ephemeral.CreatePubKey().ToBytes(true);
        MixHash(e);
        (_ck, tempK) = Secp256k1Helpers.Hkdf(_ck, sharedSecret);
        var c = ChaChaPoly.Encrypt(tempK, 0, _h, ReadOnlySpan<byte>.Empty);
        MixHash(c);
        e.CopyTo(act.AsSpan(1));
        c.CopyTo(act.AsSpan(34));
        return act;
    }

    private ECPubKey ReadEphemeralAct(
        ReadOnlySpan<byte> act,
        int length,
        TransportError readFailed,
        TransportError badVersion,
        TransportError badPubkey,
        TransportError badTag,
        Func<ECPubKey, byte[]> ecdh,
        out byte[] tempK)
    {
        if (act.Length != length)
        {
            throw Fail(readFailed, $"expected {length} bytes, got {act.Length}");
        }
        if (act[0] != 0)
        {
            throw Fail(badVersion, $"version {act[0]}");
        }
        if (!Secp256k1Helpers.TryParseCompressedPoint(act.Slice(1, 33), out var re))
        {
            throw Fail(badPubkey);
        }
        var h = Secp256k1Helpers.Sha256(_h, act.Slice(1, 33));
        var (ck, k) = Secp256k1Helpers.Hkdf(_ck, ecdh(re));
        var c = act[34..];
        if (!ChaChaPoly.TryDecrypt(k, 0, h, c, out _))
        {
            throw Fail(badTag);
        }
        _h = Secp256k1Helpers.Sha256(h, c);
        _ck = ck;
        tempK = k;
        return re;
    }

    private void MixHash(ReadOnlySpan<byte> data) => _h = Secp256k1Helpers.Sha256(_h, data);

    private void Expect(HandshakeState state)
    {
        if (State != state)
        {
            throw new InvalidOperationException($"The handshake is in state {State}, not {state}.");
        }
    }

    private TransportException Fail(TransportError error, string? detail = null)
    {
        State = HandshakeState.Failed;
        return new TransportException(error, detail);
    }

    private static ECPrivKey NewEphemeral()
    {
        Span<byte> bytes = stackalloc byte[32];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            if (ECPrivKey.TryCreate(bytes, out var key) && key is not null)
            {
                bytes.Clear();
                return key;
            }
        }
    }
}
