using System.Globalization;
using System.Text;
using NBitcoin;

namespace Satflow.Bitcoin.Chain;

/// <summary>
/// Keeps the <see cref="ChainSync"/> checkpoint in a small text file (<c>height hash</c>), replaced atomically on every
/// save, so a host resumes where it stopped even after a crash.
/// </summary>
public sealed class FileChainSyncCheckpointStore : IChainSyncCheckpointStore
{
    private readonly string _path;

    /// <summary>Creates the store; the file is created on the first save.</summary>
    /// <param name="path">The checkpoint file.</param>
    public FileChainSyncCheckpointStore(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        _path = Path.GetFullPath(path);
    }

    /// <inheritdoc />
    /// <exception cref="InvalidDataException">The file exists but does not hold a checkpoint.</exception>
    public async ValueTask<ChainTip?> LoadAsync(CancellationToken cancellationToken = default)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(_path, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        var parts = text.Trim().Split(' ');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var height)
            || parts[1].Length != 64
            || !uint256.TryParse(parts[1], out var hash))
        {
            throw new InvalidDataException($"The chain sync checkpoint file '{_path}' does not hold '<height> <block hash>'.");
        }

        return new ChainTip(height, hash);
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(ChainTip checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint.Hash);
        var directory = Path.GetDirectoryName(_path)!;
        Directory.CreateDirectory(directory);
        var temp = _path + ".tmp";
        var line = string.Create(CultureInfo.InvariantCulture, $"{checkpoint.Height} {checkpoint.Hash}\n");
        await File.WriteAllTextAsync(temp, line, Encoding.ASCII, cancellationToken).ConfigureAwait(false);
        File.Move(temp, _path, overwrite: true);
    }
}
