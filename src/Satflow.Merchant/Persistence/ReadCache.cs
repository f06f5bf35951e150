using System.Collections.Concurrent;

namespace Satflow.Merchant.Persistence;

/// <summary>
/// A short-lived cache of hot authorisation reads (API key by hash, store role, store): every API request reads them,
/// and they change rarely. Entries live <see cref="Lifetime"/>; every write of this repository that can change them
/// clears the whole cache and bumps a generation, and a read only fills the cache when no such write happened while it
/// ran — so a change made through this process is seen at once, one made by another process (a CLI on the same
/// database) within <see cref="Lifetime"/>.
/// </summary>
/// <typeparam name="TKey">Key.</typeparam>
/// <typeparam name="TValue">Value.</typeparam>
internal sealed class ReadCache<TKey, TValue>
    where TKey : notnull
{
    /// <summary>How long an entry is trusted.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<TKey, (TValue Value, long ExpiresAt)> _entries = new();
    private long _generation;

    /// <summary>The value, from the cache or from <paramref name="load"/> (cached when <paramref name="keep"/> accepts it).</summary>
    public async Task<TValue> GetAsync(TKey key, Func<Task<TValue>> load, Func<TValue, bool>? keep = null)
    {
        var now = Environment.TickCount64;
        if (_entries.TryGetValue(key, out var hit) && hit.ExpiresAt > now)
        {
            return hit.Value;
        }

        var generation = Interlocked.Read(ref _generation);
        var value = await load().ConfigureAwait(false);
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        if (Interlocked.Read(ref _generation) == generation && (keep is null || keep(value)))
        {
            _entries[key] = (value, now + (long)Lifetime.TotalMilliseconds);
            if (Interlocked.Read(ref _generation) != generation)
            {
                _entries.TryRemove(key, out _);
            }
        }

        return value;
    }

    /// <summary>Forgets everything (after a write that may change cached values).</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }
}
