namespace Satflow.Cli;

/// <summary>Default locations: everything lives under <c>~/.satflow</c> unless <c>SATFLOW_HOME</c> says otherwise.</summary>
internal static class CliPaths
{
    public static string Home
    {
        get
        {
            var overridden = Environment.GetEnvironmentVariable("SATFLOW_HOME");
            if (!string.IsNullOrWhiteSpace(overridden))
            {
                return overridden;
            }
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".satflow");
        }
    }

    public static string DefaultDevnetDirectory => Path.Combine(Home, "devnet");

    public static string DefaultWalletDirectory(string network) => Path.Combine(Home, "wallet", network);
}
