namespace Satflow.Node.Hosting;

/// <summary>A node cannot be hosted as configured (unusable chain backend, bad seed file, locked wallet...); the message says why.</summary>
public sealed class NodeHostException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, for the operator.</param>
    public NodeHostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">What is wrong, for the operator.</param>
    /// <param name="innerException">The cause.</param>
    public NodeHostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public NodeHostException()
        : base("The node cannot be hosted.")
    {
    }
}
