namespace Satflow.TestSupport;

/// <summary>
/// Locates the official test vectors in <c>../shared/test-vectors</c> next to the repository root
/// (or in the folder named by <c>SATFLOW_TEST_VECTORS</c>). A missing folder is an error, never a skip.
/// </summary>
public static class TestVectors
{
    /// <summary>The environment variable that overrides the vectors folder.</summary>
    public const string EnvironmentVariable = "SATFLOW_TEST_VECTORS";

    private static readonly Lazy<string> RootLazy = new(Locate);

    /// <summary>The absolute path of the test-vectors folder.</summary>
    public static string Root => RootLazy.Value;

    /// <summary>The absolute path of a file inside the test-vectors folder; fails clearly when absent.</summary>
    public static string PathOf(string relative)
    {
        var path = Path.Combine(Root, relative);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Test vector file '{relative}' is missing from '{Root}'. The official vectors must be present; see ../shared/test-vectors/README.md.", path);
        }
        return path;
    }

    /// <summary>Reads a vector file as text.</summary>
    public static string ReadText(string relative) => File.ReadAllText(PathOf(relative));

    /// <summary>The repository root (the folder holding Satflow.slnx).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Satflow.slnx")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException($"Could not find Satflow.slnx above '{AppContext.BaseDirectory}'.");
        }
    }

    private static string Locate()
    {
        var overridePath = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            if (!Directory.Exists(overridePath))
            {
                throw new DirectoryNotFoundException($"{EnvironmentVariable} points at '{overridePath}', which does not exist.");
            }
            return Path.GetFullPath(overridePath);
        }

        var candidate = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "test-vectors"));
        if (!Directory.Exists(candidate))
        {
            throw new DirectoryNotFoundException(
                $"The official test vectors were not found at '{candidate}'. Put the shared folder beside the repository or set {EnvironmentVariable}.");
        }
        return candidate;
    }
}
