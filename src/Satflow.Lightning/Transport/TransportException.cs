using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Transport;

/// <summary>What went wrong in the BOLT 8 handshake or message decryption.</summary>
public enum TransportError
{
    /// <summary>Act one was not exactly 50 bytes.</summary>
    Act1ReadFailed,

    /// <summary>Act one carried an unknown handshake version.</summary>
    Act1BadVersion,

    /// <summary>Act one carried an invalid ephemeral public key.</summary>
    Act1BadPubkey,

    /// <summary>Act one's MAC did not check (the initiator does not know our static key).</summary>
    Act1BadTag,

    /// <summary>Act two was not exactly 50 bytes.</summary>
    Act2ReadFailed,

    /// <summary>Act two carried an unknown handshake version.</summary>
    Act2BadVersion,

    /// <summary>Act two carried an invalid ephemeral public key.</summary>
    Act2BadPubkey,

    /// <summary>Act two's MAC did not check.</summary>
    Act2BadTag,

    /// <summary>Act three was not exactly 66 bytes.</summary>
    Act3ReadFailed,

    /// <summary>Act three carried an unknown handshake version.</summary>
    Act3BadVersion,

    /// <summary>Act three's encrypted static key did not authenticate.</summary>
    Act3BadCiphertext,

    /// <summary>Act three's decrypted static key is not a valid public key.</summary>
    Act3BadPubkey,

    /// <summary>Act three's final MAC did not check.</summary>
    Act3BadTag,

    /// <summary>An encrypted length prefix was not 18 bytes or did not authenticate.</summary>
    BadLengthPrefix,

    /// <summary>An encrypted message body had the wrong length or did not authenticate.</summary>
    BadMessage,

    /// <summary>A previous decryption failure broke the transport; the connection must be dropped.</summary>
    TransportFailed,
}

/// <summary>A BOLT 8 handshake or decryption failure. The connection must be closed without further messages.</summary>
public sealed class TransportException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    public TransportException(TransportError error, string? detail = null, Exception? inner = null)
        : base(ReasonOf(error), detail, inner)
    {
        Error = error;
    }

    /// <summary>Creates the exception.</summary>
    public TransportException() : this(TransportError.TransportFailed) { }

    /// <summary>Creates the exception.</summary>
    public TransportException(string reason) : base(reason) { Error = TransportError.TransportFailed; }

    /// <summary>Creates the exception.</summary>
    public TransportException(string reason, Exception inner) : base(reason, inner) { Error = TransportError.TransportFailed; }

    /// <summary>The kind of failure.</summary>
    public TransportError Error { get; }

    /// <summary>The spec-style reason text of an error, e.g. <c>ACT1_BAD_TAG</c>.</summary>
    public static string ReasonOf(TransportError error) => error switch
    {
        TransportError.Act1ReadFailed => "ACT1_READ_FAILED",
        TransportError.Act1BadVersion => "ACT1_BAD_VERSION",
        TransportError.Act1BadPubkey => "ACT1_BAD_PUBKEY",
        TransportError.Act1BadTag => "ACT1_BAD_TAG",
        TransportError.Act2ReadFailed => "ACT2_READ_FAILED",
        TransportError.Act2BadVersion => "ACT2_BAD_VERSION",
        TransportError.Act2BadPubkey => "ACT2_BAD_PUBKEY",
        TransportError.Act2BadTag => "ACT2_BAD_TAG",
        TransportError.Act3ReadFailed => "ACT3_READ_FAILED",
        TransportError.Act3BadVersion => "ACT3_BAD_VERSION",
        TransportError.Act3BadCiphertext => "ACT3_BAD_CIPHERTEXT",
        TransportError.Act3BadPubkey => "ACT3_BAD_PUBKEY",
        TransportError.Act3BadTag => "ACT3_BAD_TAG",
        TransportError.BadLengthPrefix => "BAD_LENGTH_PREFIX",
        TransportError.BadMessage => "BAD_MESSAGE",
        _ => "TRANSPORT_FAILED",
    };
}
