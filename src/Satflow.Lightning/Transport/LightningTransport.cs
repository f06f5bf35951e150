using System.Buffers.Binary;
using System.Security.Cryptography;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transport;

/// <summary>
/// BOLT 8 message encryption after the handshake: each message is sent as an encrypted 2-byte length with its MAC
/// (18 bytes) followed by the encrypted body with its MAC; each key is rotated after 1000 uses. Not thread-safe: one
/// writer and one reader at a time, as on a socket. A decryption failure breaks the receiving side for good.
/// </summary>
public sealed class LightningTransport : IDisposable
{
    /// <summary>The largest Lightning message.</summary>
    public const int MaxMessageLength = 65535;

    /// <summary>The size of an encrypted length prefix (2 bytes + 16-byte MAC).</summary>
    public const int HeaderLength = 2 + MacLength;

    /// <summary>The size of a Poly1305 MAC.</summary>
    public const int MacLength = 16;

    private const ulong RotationInterval = 1000;

    private readonly CipherState _send;
    private readonly CipherState _receive;
    private int? _pendingBodyLength;
    private bool _receiveFailed;

    internal LightningTransport(byte[] sendingKey, byte[] receivingKey, byte[] chainingKey)
    {
        _send = new CipherState(sendingKey, chainingKey);
        _receive = new CipherState(receivingKey, chainingKey);
    }

    /// <summary>Creates a transport from keys agreed elsewhere (the spec's message test vector starts here).</summary>
    public static LightningTransport FromKeys(Bytes32 sendingKey, Bytes32 receivingKey, Bytes32 chainingKey) =>
        new(sendingKey.ToArray(), receivingKey.ToArray(), chainingKey.ToArray());

    /// <summary>The body length announced by the last decrypted length prefix, while its body is awaited.</summary>
    public int? PendingBodyLength => _pendingBodyLength;

    /// <summary>Encrypts one message: <c>lc || c</c>, of length 18 + message length + 16.</summary>
    /// <exception cref="ArgumentException">When the message is longer than 65535 bytes.</exception>
    public byte[] Encrypt(ReadOnlySpan<byte> message)
    {
        if (message.Length > MaxMessageLength)
        {
            throw new ArgumentException($"A Lightning message is at most {MaxMessageLength} bytes; got {message.Length}.", nameof(message));
        }
        var output = new byte[HeaderLength + message.Length + MacLength];
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)message.Length);
        _send.Encrypt(length, output.AsSpan(0, HeaderLength));
        _send.Encrypt(message, output.AsSpan(HeaderLength));
        return output;
    }

    /// <summary>Decrypts an 18-byte length prefix and returns the body length; the body (length + 16 bytes) must follow.</summary>
    /// <exception cref="TransportException">When the prefix is not 18 bytes or does not authenticate, or the transport already failed.</exception>
    /// <exception cref="InvalidOperationException">When a body is still awaited.</exception>
    public int DecryptLength(ReadOnlySpan<byte> header)
    {
        EnsureReceiving();
        if (_pendingBodyLength is not null)
        {
            throw new InvalidOperationException("The body of the previous length prefix has not been decrypted yet.");
        }
        if (header.Length != HeaderLength)
        {
            throw FailReceive(TransportError.BadLengthPrefix, $"expected {HeaderLength} bytes, got {header.Length}");
        }
        Span<byte> length = stackalloc byte[2];
        if (!_receive.TryDecrypt(header, length))
        {
            throw FailReceive(TransportError.BadLengthPrefix, "MAC check failed");
        }
        var value = BinaryPrimitives.ReadUInt16BigEndian(length);
        _pendingBodyLength = value;
        return value;
    }

    /// <summary>Decrypts the body announced by <see cref="DecryptLength"/> (its length + 16 bytes).</summary>
    /// <exception cref="TransportException">When the body has the wrong length or does not authenticate, or the transport already failed.</exception>
    /// <exception cref="InvalidOperationException">When no length prefix was decrypted first.</exception>
    public byte[] DecryptBody(ReadOnlySpan<byte> body)
    {
        EnsureReceiving();
        if (_pendingBodyLength is not { } expected)
        {
            throw new InvalidOperationException("Decrypt the length prefix first.");
        }
        if (body.Length != expected + MacLength)
        {
            throw FailReceive(TransportError.BadMessage, $"expected {expected + MacLength} bytes, got {body.Length}");
        }
        var message = new byte[expected];
        if (!_receive.TryDecrypt(body, message))
        {
            throw FailReceive(TransportError.BadMessage, "MAC check failed");
        }
        _pendingBodyLength = null;
        return message;
    }

    /// <summary>Decrypts one whole frame (<c>lc || c</c>) at once.</summary>
    /// <exception cref="TransportException">When the frame is malformed or does not authenticate.</exception>
    public byte[] DecryptFrame(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < HeaderLength)
        {
            EnsureReceiving();
            throw FailReceive(TransportError.BadLengthPrefix, $"a frame has at least {HeaderLength} bytes, got {frame.Length}");
        }
        var length = DecryptLength(frame[..HeaderLength]);
        if (frame.Length != HeaderLength + length + MacLength)
        {
            throw FailReceive(TransportError.BadMessage, $"the frame announces {length} body bytes but carries {frame.Length - HeaderLength - MacLength}");
        }
        return DecryptBody(frame[HeaderLength..]);
    }

    /// <summary>A reader that decrypts frames from bytes arriving in arbitrary pieces.</summary>
    public TransportMessageReader CreateReader() => new(this);

    /// <inheritdoc />
    public void Dispose()
    {
        _send.Dispose();
        _receive.Dispose();
    }

    private void EnsureReceiving()
    {
        if (_receiveFailed)
        {
            throw new TransportException(TransportError.TransportFailed, "an earlier message failed to decrypt");
        }
    }

    private TransportException FailReceive(TransportError error, string detail)
    {
        _receiveFailed = true;
        _pendingBodyLength = null;
        return new TransportException(error, detail);
    }

    /// <summary>One direction's key, nonce and chaining key, rotated every 1000 uses.</summary>
    private sealed class CipherState : IDisposable
    {
        private byte[] _key;
        private byte[] _chainingKey;
        private ulong _nonce;
        private ChaCha20Poly1305 _aead;

        public CipherState(byte[] key, byte[] chainingKey)
        {
            _key = (byte[])key.Clone();
            _chainingKey = (byte[])chainingKey.Clone();
            _aead = new ChaCha20Poly1305(_key);
        }

        public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output)
        {
            ChaChaPoly.Encrypt(_aead, _nonce, ReadOnlySpan<byte>.Empty, plaintext, output);
            Advance();
        }

        public bool TryDecrypt(ReadOnlySpan<byte> input, Span<byte> plaintext)
        {
            if (!ChaChaPoly.TryDecrypt(_aead, _nonce, ReadOnlySpan<byte>.Empty, input, plaintext))
            {
                return false;
            }
            Advance();
            return true;
        }

        public void Dispose() => _aead.Dispose();

        private void Advance()
        {
            _nonce++;
            if (_nonce == RotationInterval)
            {
                (_chainingKey, _key) = Secp256k1Helpers.Hkdf(_chainingKey, _key);
                _nonce = 0;
                _aead.Dispose();
                _aead = new ChaCha20Poly1305(_key);
            }
        }
    }
}

/// <summary>
/// Decrypts Lightning messages from a byte stream that arrives in pieces: feed whatever was received with
/// <see cref="Push"/>; <see cref="BytesNeeded"/> tells how many more bytes complete the current length prefix or body.
/// </summary>
public sealed class TransportMessageReader
{
    private readonly LightningTransport _transport;
    private readonly byte[] _buffer = new byte[LightningTransport.MaxMessageLength + LightningTransport.MacLength];
    private int _buffered;
    private int _stageLength = LightningTransport.HeaderLength;
    private bool _readingBody;
    private bool _failed;

    internal TransportMessageReader(LightningTransport transport) => _transport = transport;

    /// <summary>Bytes still needed to finish the current stage (the 18-byte prefix, or the body and its MAC).</summary>
    public int BytesNeeded => _stageLength - _buffered;

    /// <summary>Consumes all of <paramref name="data"/> and returns the messages it completed, in order.</summary>
    /// <exception cref="TransportException">When a prefix or body does not authenticate; the reader and transport are then unusable.</exception>
    public IReadOnlyList<byte[]> Push(ReadOnlySpan<byte> data)
    {
        if (_failed)
        {
            throw new TransportException(TransportError.TransportFailed, "an earlier frame failed to decrypt");
        }
        try
        {
            return PushCore(data);
        }
        catch (TransportException)
        {
            _failed = true;
            throw;
        }
    }

    private List<byte[]> PushCore(ReadOnlySpan<byte> data)
    {
        var messages = new List<byte[]>();
        while (!data.IsEmpty)
        {
            var take = Math.Min(BytesNeeded, data.Length);
            data[..take].CopyTo(_buffer.AsSpan(_buffered));
            _buffered += take;
            data = data[take..];
            if (_buffered < _stageLength)
            {
                break;
            }
            if (_readingBody)
            {
                messages.Add(_transport.DecryptBody(_buffer.AsSpan(0, _stageLength)));
                _readingBody = false;
                _stageLength = LightningTransport.HeaderLength;
            }
            else
            {
                _stageLength = _transport.DecryptLength(_buffer.AsSpan(0, LightningTransport.HeaderLength)) + LightningTransport.MacLength;
                _readingBody = true;
            }
            _buffered = 0;
        }
        return messages;
    }
}
