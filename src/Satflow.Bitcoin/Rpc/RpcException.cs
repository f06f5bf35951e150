using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Rpc;

/// <summary>
/// Bitcoin Core answered a JSON-RPC call with an error object. It derives from <see cref="ChainSourceException"/>, so code
/// that only cares "the backend failed" can catch that one type.
/// </summary>
public sealed class RpcException : ChainSourceException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="method">The RPC method that failed.</param>
    /// <param name="code">Bitcoin Core's error code (see <see cref="RpcErrorCodes"/>).</param>
    /// <param name="message">Bitcoin Core's error message, verbatim.</param>
    public RpcException(string method, int code, string message)
        : base(message)
    {
        Method = method;
        Code = code;
    }

    /// <summary>The RPC method that failed.</summary>
    public string Method { get; }

    /// <summary>Bitcoin Core's error code, for example -5 (not found) or -8 (invalid parameter).</summary>
    public int Code { get; }

    /// <inheritdoc />
    public override string ToString() => $"{nameof(RpcException)}: {Method} failed with code {Code}: {Message}";
}

/// <summary>The Bitcoin Core RPC error codes this library reacts to (from Core's <c>rpc/protocol.h</c>).</summary>
public static class RpcErrorCodes
{
    /// <summary>Standard JSON-RPC: the request was not valid.</summary>
    public const int InvalidRequest = -32600;

    /// <summary>Standard JSON-RPC: unknown method.</summary>
    public const int MethodNotFound = -32601;

    /// <summary>Standard JSON-RPC: invalid parameters.</summary>
    public const int InvalidParams = -32602;

    /// <summary>Standard JSON-RPC: internal error.</summary>
    public const int InternalError = -32603;

    /// <summary>Standard JSON-RPC: the request could not be parsed.</summary>
    public const int ParseError = -32700;

    /// <summary>Core: miscellaneous error.</summary>
    public const int MiscError = -1;

    /// <summary>Core: unexpected type passed as parameter.</summary>
    public const int TypeError = -3;

    /// <summary>Core: invalid address or key; also "block not found" and "no such transaction".</summary>
    public const int InvalidAddressOrKey = -5;

    /// <summary>Core: invalid, missing or duplicate parameter (for example a block height out of range).</summary>
    public const int InvalidParameter = -8;

    /// <summary>Core: error parsing or validating a structure in the raw format.</summary>
    public const int DeserializationError = -22;

    /// <summary>Core: general error during transaction or block submission.</summary>
    public const int VerifyError = -25;

    /// <summary>Core: transaction or block was rejected by network rules.</summary>
    public const int VerifyRejected = -26;

    /// <summary>Core: transaction already in the chain.</summary>
    public const int VerifyAlreadyInChain = -27;

    /// <summary>Core: still warming up.</summary>
    public const int InWarmup = -28;
}
