namespace Satflow.Devnet.Rpc;

/// <summary>A JSON-RPC error with Bitcoin Core's code and message.</summary>
internal sealed class RpcException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RpcException(int code, string message) : base(message) => Code = code;

    /// <summary>Bitcoin Core's RPC error code (see <see cref="RpcErrorCodes"/>).</summary>
    public int Code { get; }
}
