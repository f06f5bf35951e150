using System.Globalization;
using Microsoft.Data.Sqlite;
using NBitcoin;

namespace Satflow.Bitcoin.Wallet;

/// <summary>
/// The wallet's SQLite persistence: metadata, derived addresses, owned outputs (spent ones are kept until pruned so a
/// reorg can undo their spend) and wallet transactions. One connection per wallet; every <see cref="Commit"/> is one
/// SQLite transaction, so a block's effect is stored entirely or not at all.
/// </summary>
internal sealed class WalletStore : IDisposable
{
    /// <summary>The schema version this code writes and reads.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The database file name inside the data directory.</summary>
    public const string FileName = "wallet.db";

    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    private WalletStore(SqliteConnection connection) => _connection = connection;

    /// <summary>Whether a wallet database exists in <paramref name="dataDirectory"/>.</summary>
    public static bool Exists(string dataDirectory) => File.Exists(Path.Combine(dataDirectory, FileName));

    /// <summary>Opens (creating when asked) the store; a null directory gives a private in-memory database.</summary>
    public static WalletStore Open(string? dataDirectory, bool create)
    {
        string connectionString;
        if (dataDirectory is null)
        {
            connectionString = "Data Source=:memory:";
        }
        else
        {
            var path = Path.Combine(dataDirectory, FileName);
            if (create)
            {
                if (File.Exists(path))
                {
                    throw new WalletException($"a wallet already exists in '{dataDirectory}'");
                }
                Directory.CreateDirectory(dataDirectory);
            }
            else if (!File.Exists(path))
            {
                throw new WalletException($"no wallet in '{dataDirectory}'");
            }
            connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
                Pooling = false,
            }.ToString();
        }

        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            var store = new WalletStore(connection);
            if (dataDirectory is not null)
            {
                store.Execute("PRAGMA journal_mode=WAL;");
                store.Execute("PRAGMA synchronous=NORMAL;");
            }
            if (create)
            {
                store.Execute("""
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                    CREATE TABLE addresses (type INTEGER NOT NULL, chain INTEGER NOT NULL, idx INTEGER NOT NULL,
                        script BLOB NOT NULL, address TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (type, chain, idx));
                    CREATE TABLE utxos (txid BLOB NOT NULL, vout INTEGER NOT NULL, value INTEGER NOT NULL, script BLOB NOT NULL,
                        type INTEGER NOT NULL, chain INTEGER NOT NULL, idx INTEGER NOT NULL, height INTEGER NULL, block_hash BLOB NULL,
                        coinbase INTEGER NOT NULL, spent_by BLOB NULL, PRIMARY KEY (txid, vout));
                    CREATE TABLE txs (txid BLOB PRIMARY KEY, raw BLOB NOT NULL, height INTEGER NULL, block_hash BLOB NULL,
                        own INTEGER NOT NULL, fee INTEGER NULL);
                    """);
                store.SetMeta("schema_version", SchemaVersion.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                var version = store.GetMetaString("schema_version");
                if (version != SchemaVersion.ToString(CultureInfo.InvariantCulture))
                {
                    throw new WalletFormatException($"unsupported wallet schema version '{version}'");
                }
            }
            return store;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new WalletFormatException("the wallet database cannot be read", ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Reads a metadata value.</summary>
    public byte[]? GetMeta(string key)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $k";
        cmd.Parameters.AddWithValue("$k", key);
        return cmd.ExecuteScalar() as byte[];
    }

    /// <summary>Reads a metadata value as UTF-8 text.</summary>
    public string? GetMetaString(string key) => GetMeta(key) is { } b ? System.Text.Encoding.UTF8.GetString(b) : null;

    /// <summary>Writes a metadata value outside a commit (creation time).</summary>
    public void SetMeta(string key, byte[] value)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "INSERT OR REPLACE INTO meta (key, value) VALUES ($k, $v)";
        cmd.Parameters.AddWithValue("$k", key);
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Writes a text metadata value.</summary>
    public void SetMeta(string key, string value) => SetMeta(key, System.Text.Encoding.UTF8.GetBytes(value));

    /// <summary>Loads every derived address.</summary>
    public List<WalletAddress> LoadAddresses()
    {
        var list = new List<WalletAddress>();
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT type, chain, idx, script, address, used FROM addresses ORDER BY type, chain, idx";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(new WalletAddress((AddressType)r.GetInt32(0), (KeyChain)r.GetInt32(1), r.GetInt32(2), Script.FromBytesUnsafe((byte[])r[3]), r.GetString(4), r.GetInt32(5) != 0));
        }
        return list;
    }

    /// <summary>Loads every owned output.</summary>
    public List<WalletUtxo> LoadUtxos()
    {
        var list = new List<WalletUtxo>();
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT txid, vout, value, script, type, chain, idx, height, block_hash, coinbase, spent_by FROM utxos";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(new WalletUtxo(
                new OutPoint(new uint256((byte[])r[0]), r.GetInt32(1)),
                new TxOut(Money.Satoshis(r.GetInt64(2)), Script.FromBytesUnsafe((byte[])r[3])),
                (AddressType)r.GetInt32(4),
                (KeyChain)r.GetInt32(5),
                r.GetInt32(6),
                r.IsDBNull(7) ? null : r.GetInt32(7),
                r.IsDBNull(8) ? null : new uint256((byte[])r[8]),
                r.GetInt32(9) != 0,
                r.IsDBNull(10) ? null : new uint256((byte[])r[10])));
        }
        return list;
    }

    /// <summary>Loads every wallet transaction.</summary>
    public List<WalletTransaction> LoadTransactions(Network network)
    {
        var list = new List<WalletTransaction>();
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT raw, height, block_hash, own, fee FROM txs";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var tx = Transaction.Load((byte[])r[0], network);
            list.Add(new WalletTransaction(tx, r.IsDBNull(1) ? null : r.GetInt32(1), r.IsDBNull(2) ? null : new uint256((byte[])r[2]), r.GetInt32(3) != 0, r.IsDBNull(4) ? null : Money.Satoshis(r.GetInt64(4))));
        }
        return list;
    }

    /// <summary>Writes a change set in one SQLite transaction: rows present in the maps are upserted, absent ones deleted.</summary>
    public void Commit(WalletChanges changes, IReadOnlyDictionary<OutPoint, WalletUtxo> utxos, IReadOnlyDictionary<uint256, WalletTransaction> txs)
    {
        using var transaction = _connection.BeginTransaction();
        try
        {
            foreach (var (key, value) in changes.Meta)
            {
                Run(transaction, "INSERT OR REPLACE INTO meta (key, value) VALUES ($k, $v)", key, value);
            }
            foreach (var a in changes.Addresses)
            {
                Run(transaction, "INSERT OR REPLACE INTO addresses (type, chain, idx, script, address, used) VALUES ($1, $2, $3, $4, $5, $6)",
                    (int)a.Type, (int)a.Chain, a.Index, a.ScriptPubKey.ToBytes(true), a.Address, a.Used ? 1 : 0);
            }
            foreach (var op in changes.Utxos)
            {
                if (utxos.TryGetValue(op, out var u))
                {
                    Run(transaction, """
                        INSERT OR REPLACE INTO utxos (txid, vout, value, script, type, chain, idx, height, block_hash, coinbase, spent_by)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                        """,
                        op.Hash.ToBytes(), (long)op.N, u.Output.Value.Satoshi, u.Output.ScriptPubKey.ToBytes(true), (int)u.Type, (int)u.Chain, u.Index,
                        u.Height is int h ? h : DBNull.Value, u.BlockHash is { } bh ? bh.ToBytes() : DBNull.Value, u.IsCoinbase ? 1 : 0,
                        u.SpentBy is { } spent ? spent.ToBytes() : DBNull.Value);
                }
                else
                {
                    Run(transaction, "DELETE FROM utxos WHERE txid = $1 AND vout = $2", op.Hash.ToBytes(), (long)op.N);
                }
            }
            foreach (var id in changes.Transactions)
            {
                if (txs.TryGetValue(id, out var t))
                {
                    Run(transaction, "INSERT OR REPLACE INTO txs (txid, raw, height, block_hash, own, fee) VALUES ($1, $2, $3, $4, $5, $6)",
                        id.ToBytes(), t.Transaction.ToBytes(), t.Height is int h ? h : DBNull.Value, t.BlockHash is { } bh ? bh.ToBytes() : DBNull.Value,
                        t.IsOwn ? 1 : 0, t.Fee is { } f ? f.Satoshi : DBNull.Value);
                }
                else
                {
                    Run(transaction, "DELETE FROM txs WHERE txid = $1", id.ToBytes());
                }
            }
            transaction.Commit();
        }
        catch (SqliteException ex)
        {
            transaction.Rollback();
            throw new WalletException("writing the wallet database failed", ex);
        }
    }

    /// <summary>Runs a statement through a cached prepared command; parameters are named <c>$1</c>, <c>$2</c>… (or <c>$k</c>, <c>$v</c>).</summary>
    private void Run(SqliteTransaction transaction, string sql, params object[] values)
    {
        if (!_commands.TryGetValue(sql, out var cmd))
        {
            cmd = _connection.CreateCommand();
            cmd.CommandText = sql;
            var names = sql.Contains("$k", StringComparison.Ordinal) ? new[] { "$k", "$v" } : Enumerable.Range(1, values.Length).Select(i => "$" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
            foreach (var name in names)
            {
                cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            _commands[sql] = cmd;
        }
        cmd.Transaction = transaction;
        for (var i = 0; i < values.Length; i++)
        {
            cmd.Parameters[i].Value = values[i];
        }
        cmd.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var cmd in _commands.Values)
        {
            cmd.Dispose();
        }
        _commands.Clear();
        _connection.Dispose();
    }
}

/// <summary>The keys touched by one wallet operation; <see cref="WalletStore.Commit"/> writes them atomically.</summary>
internal sealed class WalletChanges
{
    public HashSet<OutPoint> Utxos { get; } = [];

    public HashSet<uint256> Transactions { get; } = [];

    public List<WalletAddress> Addresses { get; } = [];

    public Dictionary<string, byte[]> Meta { get; } = new(StringComparer.Ordinal);

    public bool IsEmpty => Utxos.Count == 0 && Transactions.Count == 0 && Addresses.Count == 0 && Meta.Count == 0;

    public void Clear()
    {
        Utxos.Clear();
        Transactions.Clear();
        Addresses.Clear();
        Meta.Clear();
    }
}
