using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Backup;

/// <summary>Why a static channel backup could not be read.</summary>
public enum StaticChannelBackupError
{
    /// <summary>The data is shorter than its header or tag.</summary>
    Truncated,

    /// <summary>The data does not start with the backup magic bytes.</summary>
    NotABackup,

    /// <summary>The format version is not supported.</summary>
    UnknownVersion,

    /// <summary>The backup was made with another node seed.</summary>
    WrongKey,

    /// <summary>The authentication tag does not check: the data was modified.</summary>
    Tampered,

    /// <summary>The authenticated content does not parse.</summary>
    Malformed,
}

/// <summary>A static channel backup could not be decoded; <see cref="Error"/> says why.</summary>
public sealed class StaticChannelBackupException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">Why.</param>
    /// <param name="detail">Details.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public StaticChannelBackupException(StaticChannelBackupError error, string detail, Exception? inner = null)
        : base(error.ToString(), detail, inner)
    {
        Error = error;
    }

    /// <summary>Why the backup could not be decoded.</summary>
    public StaticChannelBackupError Error { get; }
}
