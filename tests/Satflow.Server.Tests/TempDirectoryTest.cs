namespace Satflow.Server.Tests;

/// <summary>A test class that gets its own data directory under the temp folder, removed (best effort) after each test.</summary>
/// <param name="prefix">The directory name's prefix (says which test class left it, should removal fail).</param>
public abstract class TempDirectoryTest(string prefix) : IAsyncLifetime
{
    /// <summary>The directory (not created: satflowd and the stores create what they need).</summary>
    protected string TempDir { get; } = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(TempDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still held by a closing handle, or nothing was created.
        }

        return Task.CompletedTask;
    }
}
