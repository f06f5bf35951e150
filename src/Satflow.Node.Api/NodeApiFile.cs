using System.Text;
using System.Text.Json;

namespace Satflow.Node.Api;

/// <summary>
/// The discovery file <c>DATADIR/api.json</c> — <c>{"url": ..., "api_key": ...}</c> — that lets <c>satflow</c> node
/// commands find a running node's API with only <c>--datadir</c>, like bitcoind's cookie file.
/// </summary>
/// <param name="Url">The API base URL, e.g. <c>http://127.0.0.1:9736/</c>.</param>
/// <param name="ApiKey">The admin key.</param>
public sealed record NodeApiFile(Uri Url, string ApiKey)
{
    /// <summary>The file name inside the data directory.</summary>
    public const string FileName = "api.json";

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The path of the discovery file in <paramref name="dataDirectory"/>.</summary>
    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>
    /// Writes the file atomically (a temporary file created with mode 0600, then renamed over the target), so a reader
    /// never sees a half-written key and nobody else can read it.
    /// </summary>
    public void WriteTo(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var target = PathIn(dataDirectory);
        var temp = Path.Combine(dataDirectory, $".{FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var json = JsonSerializer.Serialize(new Document(Url.ToString(), ApiKey), NodeApiJson.Options);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(Utf8.GetBytes(json + "\n"));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Reads the discovery file of <paramref name="dataDirectory"/>; null when there is none.</summary>
    /// <exception cref="FormatException">The file exists but is not a valid discovery file.</exception>
    public static NodeApiFile? TryRead(string dataDirectory)
    {
        var path = PathIn(dataDirectory);
        string text;
        try
        {
            text = File.ReadAllText(path, Utf8);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        Document? document;
        try
        {
            document = JsonSerializer.Deserialize<Document>(text, NodeApiJson.Options);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"'{path}' is not a valid API file: {ex.Message}", ex);
        }
        if (document?.Url is null || document.ApiKey is null || !Uri.TryCreate(document.Url, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttp)
        {
            throw new FormatException($"'{path}' is not a valid API file: it needs an http \"url\" and an \"api_key\"");
        }
        return new NodeApiFile(url, document.ApiKey);
    }

    /// <summary>Deletes the discovery file of <paramref name="dataDirectory"/> if it still holds this key (another node may have replaced it).</summary>
    public void DeleteFrom(string dataDirectory)
    {
        try
        {
            if (TryRead(dataDirectory) is { } current && current.ApiKey == ApiKey)
            {
                File.Delete(PathIn(dataDirectory));
            }
        }
        catch (FormatException)
        {
            // Not ours any more: leave it alone.
        }
    }

    private sealed record Document(string? Url, string? ApiKey);
}
