namespace Satflow.Devnet;

/// <summary>
/// A block or transaction broke a consensus or policy rule. <see cref="Reason"/> is Bitcoin Core's reject reason string
/// (for example <c>bad-txns-inputs-missingorspent</c>), <see cref="Debug"/> Core's optional debug text and
/// <see cref="RpcCode"/> the JSON-RPC error code Core's <c>sendrawtransaction</c> would answer with.
/// </summary>
public sealed class DevnetValidationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Bitcoin Core's reject reason.</param>
    /// <param name="debug">Optional debug message (Core appends it after a comma in RPC errors).</param>
    /// <param name="rpcCode">The RPC error code: -26 rejected (default), -25 missing inputs, -27 already in chain.</param>
    public DevnetValidationException(string reason, string? debug = null, int rpcCode = RpcErrorCodes.TransactionRejected)
        : base(debug is null ? reason : $"{reason}, {debug}")
    {
        Reason = reason;
        Debug = debug;
        RpcCode = rpcCode;
    }

    /// <summary>Bitcoin Core's reject reason.</summary>
    public string Reason { get; }

    /// <summary>Core's debug message, or null.</summary>
    public string? Debug { get; }

    /// <summary>Bitcoin Core's RPC error code for this rejection.</summary>
    public int RpcCode { get; }

    /// <summary>The message Core's <c>sendrawtransaction</c> gives: the reason, then the debug text after a comma.</summary>
    public string RpcMessage => Message;
}

/// <summary>Bitcoin Core JSON-RPC error codes used by the devnet.</summary>
public static class RpcErrorCodes
{
    /// <summary>RPC_MISC_ERROR.</summary>
    public const int MiscError = -1;

    /// <summary>RPC_TYPE_ERROR.</summary>
    public const int TypeError = -3;

    /// <summary>RPC_INVALID_ADDRESS_OR_KEY (also "not found").</summary>
    public const int InvalidAddressOrKey = -5;

    /// <summary>RPC_INVALID_PARAMETER.</summary>
    public const int InvalidParameter = -8;

    /// <summary>RPC_DESERIALIZATION_ERROR (TX decode failed).</summary>
    public const int DeserializationError = -22;

    /// <summary>RPC_VERIFY_ERROR / RPC_TRANSACTION_ERROR.</summary>
    public const int TransactionError = -25;

    /// <summary>RPC_VERIFY_REJECTED / RPC_TRANSACTION_REJECTED.</summary>
    public const int TransactionRejected = -26;

    /// <summary>RPC_VERIFY_ALREADY_IN_CHAIN / RPC_TRANSACTION_ALREADY_IN_CHAIN.</summary>
    public const int TransactionAlreadyInChain = -27;

    /// <summary>RPC_INVALID_REQUEST.</summary>
    public const int InvalidRequest = -32600;

    /// <summary>RPC_METHOD_NOT_FOUND.</summary>
    public const int MethodNotFound = -32601;

    /// <summary>RPC_INVALID_PARAMS.</summary>
    public const int InvalidParams = -32602;

    /// <summary>RPC_PARSE_ERROR.</summary>
    public const int ParseError = -32700;
}
