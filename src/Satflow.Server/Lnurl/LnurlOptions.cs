using System.Globalization;
using Satflow.Lightning.Types;
using Satflow.Merchant;

namespace Satflow.Server.Lnurl;

/// <summary>
/// LNURL settings (configuration section <c>lnurl</c>): the LUD-16 user names of each store
/// (<c>lnurl:addresses:alice = STOREID</c>, on the command line <c>--lnurl:addresses:alice=STOREID</c>), the sendable
/// range, the comment length (LUD-12) and the public base URL callbacks are built from.
/// </summary>
public sealed class LnurlOptions
{
    /// <summary>The default smallest payment: 1 sat.</summary>
    public static readonly MilliSatoshi DefaultMinSendable = new(1_000);

    /// <summary>The default largest payment: 0.1 BTC.</summary>
    public static readonly MilliSatoshi DefaultMaxSendable = new(10_000_000_000);

    /// <summary>Lightning address user names (lower case) and the store each pays.</summary>
    public IReadOnlyDictionary<string, StoreId> Addresses { get; init; } = new Dictionary<string, StoreId>(StringComparer.Ordinal);

    /// <summary>The smallest amount offered to wallets.</summary>
    public MilliSatoshi MinSendable { get; init; } = DefaultMinSendable;

    /// <summary>The largest amount offered to wallets.</summary>
    public MilliSatoshi MaxSendable { get; init; } = DefaultMaxSendable;

    /// <summary>The longest LUD-12 comment accepted (0: none).</summary>
    public int CommentAllowed { get; init; } = 140;

    /// <summary>The public base URL (https) used in callbacks; null: the request's scheme and host.</summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>Reads the <c>lnurl</c> section.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <returns>The options.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.InvalidConfiguration"/> for a bad value.</exception>
    public static LnurlOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection("lnurl");
        var addresses = new Dictionary<string, StoreId>(StringComparer.Ordinal);
        foreach (var entry in section.GetSection("addresses").GetChildren())
        {
            var user = entry.Key.Trim().ToLowerInvariant();
            if (user.Length is 0 or > 64 || !user.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'))
            {
                throw Invalid($"lnurl:addresses: '{entry.Key}' is not a lightning address user name (a-z, 0-9, '-', '_', '.').");
            }

            if (string.IsNullOrWhiteSpace(entry.Value))
            {
                throw Invalid($"lnurl:addresses:{entry.Key} needs a store id.");
            }

            addresses[user] = new StoreId(entry.Value.Trim());
        }

        var min = Msat(section, "min-sendable-msat", DefaultMinSendable);
        var max = Msat(section, "max-sendable-msat", DefaultMaxSendable);
        if (min.Value < 1 || min > max || max > MilliSatoshi.MaxMoney)
        {
            throw Invalid("lnurl: need 1 <= min-sendable-msat <= max-sendable-msat <= 21 million BTC.");
        }

        var comment = 140;
        if (section["comment-allowed"] is { } c && (!int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out comment) || comment > 2000))
        {
            throw Invalid("lnurl:comment-allowed must be 0 to 2000.");
        }

        Uri? publicUrl = null;
        if (section["public-url"] is { Length: > 0 } u && (!Uri.TryCreate(u, UriKind.Absolute, out publicUrl) || publicUrl.Scheme is not ("https" or "http")))
        {
            throw Invalid("lnurl:public-url must be an absolute https URL.");
        }

        return new LnurlOptions { Addresses = addresses, MinSendable = min, MaxSendable = max, CommentAllowed = comment, PublicUrl = publicUrl };
    }

    private static MilliSatoshi Msat(IConfiguration section, string key, MilliSatoshi defaultValue)
    {
        var text = section[key];
        if (text is null)
        {
            return defaultValue;
        }

        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? new MilliSatoshi(v)
            : throw Invalid($"lnurl:{key} must be a whole number of millisatoshis.");
    }

    private static MerchantException Invalid(string message) => new(MerchantErrorReason.InvalidConfiguration, message);
}
