using System.Text;
using Satflow.Bitcoin.Chain;

namespace Satflow.Bitcoin.Rpc;

/// <summary>
/// How <see cref="BitcoinCoreRpcClient"/> authenticates: a fixed user and password (<c>rpcuser</c>/<c>rpcpassword</c> or
/// <c>rpcauth</c>) or Bitcoin Core's cookie file, which is re-read when Core answers 401 (Core writes a new cookie on
/// every start).
/// </summary>
public sealed class RpcCredentials
{
    private readonly string? _user;
    private readonly string? _password;
    private string? _cachedCookie;

    private RpcCredentials(string? user, string? password, string? cookieFilePath)
    {
        _user = user;
        _password = password;
        CookieFilePath = cookieFilePath;
    }

    /// <summary>The cookie file path, when these credentials come from a cookie file.</summary>
    public string? CookieFilePath { get; }

    /// <summary>Credentials from a user name and password.</summary>
    public static RpcCredentials FromUserPassword(string user, string password)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(password);
        if (user.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException("An RPC user name cannot contain ':'.", nameof(user));
        }

        return new RpcCredentials(user, password, null);
    }

    /// <summary>Credentials read from Bitcoin Core's cookie file (<c>&lt;datadir&gt;/&lt;chain&gt;/.cookie</c>).</summary>
    public static RpcCredentials FromCookieFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new RpcCredentials(null, null, path);
    }

    /// <summary>The value of the HTTP Basic authorization header (the base64 part).</summary>
    /// <param name="reload">Re-read the cookie file even if it was read before.</param>
    /// <exception cref="ChainSourceException">The cookie file cannot be read or is malformed.</exception>
    internal string GetBasicParameter(bool reload)
    {
        string userPass;
        if (CookieFilePath is null)
        {
            userPass = _user + ":" + _password;
        }
        else
        {
            var cookie = Volatile.Read(ref _cachedCookie);
            if (cookie is null || reload)
            {
                cookie = ReadCookie(CookieFilePath);
                Volatile.Write(ref _cachedCookie, cookie);
            }

            userPass = cookie;
        }

        return Convert.ToBase64String(Encoding.UTF8.GetBytes(userPass));
    }

    private static string ReadCookie(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException or NotSupportedException or ArgumentException)
        {
            throw new ChainSourceException($"Cannot read the Bitcoin Core cookie file '{path}': {e.Message}", e);
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || text.Contains('\n', StringComparison.Ordinal))
        {
            throw new ChainSourceException($"The Bitcoin Core cookie file '{path}' is not of the form user:password.");
        }

        return text;
    }
}
