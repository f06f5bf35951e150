using System.Globalization;
using Microsoft.Data.Sqlite;
using NBitcoin;

namespace Satflow.Devnet;

/// <summary>A coin in the UTXO set: the output, the height of the block that created it and whether that was a coinbase.</summary>
/// <param name="Output">The output.</param>
/// <param name="Height">Height of the creating block.</param>
/// <param name="IsCoinbase">Whether the creating transaction is a coinbase.</param>
public sealed record UtxoCoin(TxOut Output, int Height, bool IsCoinbase);

/// <summary>SQLite persistence of the devnet: blocks, undo data, UTXO set, tip and mempool. Not thread-safe; the chain serialises access.</summary>
internal sealed class DevnetStore : IDisposable
{
    internal const int SchemaVersion = 1;
    private readonly SqliteConnection _connection;
    private SqliteTransaction? _transaction;

    private DevnetStore(SqliteConnection connection) => _connection = connection;

    public static DevnetStore Open(string? dataDirectory)
    {
        string connectionString;
        if (dataDirectory is null)
        {
            connectionString = "Data Source=:memory:";
        }
        else
        {
            Directory.CreateDirectory(dataDirectory);
            connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(dataDirectory, "devnet.sqlite"),
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                DefaultTimeout = 2,
            }.ToString();
        }

        var connection = new SqliteConnection(connectionString);
        connection.Open();
        var store = new DevnetStore(connection);
        try
        {
            store.Initialise(dataDirectory is not null);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 5 or 6)
        {
            store.Dispose();
            throw new InvalidOperationException($"The devnet data directory {dataDirectory} is in use by another devnet.", ex);
        }
        catch
        {
            store.Dispose();
            throw;
        }

        return store;
    }

    private void Initialise(bool onDisk)
    {
        if (onDisk)
        {
            // One devnet per data directory: the exclusive lock is taken by the first write below and held.
            Execute("PRAGMA locking_mode=EXCLUSIVE;");
            Execute("PRAGMA journal_mode=WAL;");
            Execute("PRAGMA synchronous=NORMAL;");
        }

        Execute("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS blocks (hash BLOB PRIMARY KEY, height INTEGER NOT NULL, seq INTEGER NOT NULL, failed INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS undo (hash BLOB PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS utxo (outpoint BLOB PRIMARY KEY, value INTEGER NOT NULL, script BLOB NOT NULL, height INTEGER NOT NULL, coinbase INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS mempool (txid BLOB PRIMARY KEY, seq INTEGER NOT NULL, time INTEGER NOT NULL, data BLOB NOT NULL);
            """);
        var version = GetMeta("schema_version");
        if (version is null)
        {
            SetMeta("schema_version", SchemaVersion.ToString(CultureInfo.InvariantCulture));
        }
        else if (version != SchemaVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Devnet database schema version {version} is not supported (expected {SchemaVersion}).");
        }
    }

    public bool InTransaction => _transaction is not null;

    public void Begin() => _transaction = _connection.BeginTransaction();

    public void Commit()
    {
        _transaction?.Commit();
        _transaction?.Dispose();
        _transaction = null;
    }

    public void Rollback()
    {
        _transaction?.Rollback();
        _transaction?.Dispose();
        _transaction = null;
    }

    private SqliteCommand Command(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = _transaction;
        return command;
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    public string? GetMeta(string key)
    {
        using var command = Command("SELECT value FROM meta WHERE key = $k");
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() as string;
    }

    public void SetMeta(string key, string value)
    {
        using var command = Command("INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$v", value);
        command.ExecuteNonQuery();
    }

    public void InsertBlock(uint256 hash, int height, long seq, Block block)
    {
        using var command = Command("INSERT OR IGNORE INTO blocks(hash, height, seq, failed, data) VALUES ($h, $ht, $s, 0, $d)");
        command.Parameters.AddWithValue("$h", hash.ToBytes());
        command.Parameters.AddWithValue("$ht", height);
        command.Parameters.AddWithValue("$s", seq);
        command.Parameters.AddWithValue("$d", block.ToBytes());
        command.ExecuteNonQuery();
    }

    public void SetFailed(uint256 hash, bool failed)
    {
        using var command = Command("UPDATE blocks SET failed = $f WHERE hash = $h");
        command.Parameters.AddWithValue("$h", hash.ToBytes());
        command.Parameters.AddWithValue("$f", failed ? 1 : 0);
        command.ExecuteNonQuery();
    }

    public IEnumerable<(long Seq, bool Failed, Block Block)> LoadBlocks()
    {
        using var command = Command("SELECT seq, failed, data FROM blocks ORDER BY height, seq");
        using var reader = command.ExecuteReader();
        var list = new List<(long, bool, Block)>();
        while (reader.Read())
        {
            var block = Block.Load((byte[])reader[2], Network.RegTest);
            list.Add((reader.GetInt64(0), reader.GetInt64(1) != 0, block));
        }

        return list;
    }

    public void PutUndo(uint256 hash, IReadOnlyList<(OutPoint OutPoint, UtxoCoin Coin)> spent)
    {
        using var ms = new MemoryStream();
        using (var writer = new BinaryWriter(ms))
        {
            writer.Write(spent.Count);
            foreach (var (outPoint, coin) in spent)
            {
                writer.Write(outPoint.ToBytes());
                writer.Write(coin.Output.Value.Satoshi);
                var script = coin.Output.ScriptPubKey.ToBytes(true);
                writer.Write(script.Length);
                writer.Write(script);
                writer.Write(coin.Height);
                writer.Write(coin.IsCoinbase);
            }
        }

        using var command = Command("INSERT OR REPLACE INTO undo(hash, data) VALUES ($h, $d)");
        command.Parameters.AddWithValue("$h", hash.ToBytes());
        command.Parameters.AddWithValue("$d", ms.ToArray());
        command.ExecuteNonQuery();
    }

    public List<(OutPoint OutPoint, UtxoCoin Coin)> GetUndo(uint256 hash)
    {
        using var command = Command("SELECT data FROM undo WHERE hash = $h");
        command.Parameters.AddWithValue("$h", hash.ToBytes());
        var data = command.ExecuteScalar() as byte[] ?? throw new InvalidOperationException($"Undo data of block {hash} is missing.");
        using var reader = new BinaryReader(new MemoryStream(data));
        var count = reader.ReadInt32();
        var list = new List<(OutPoint, UtxoCoin)>(count);
        for (var i = 0; i < count; i++)
        {
            var outPoint = new OutPoint();
            outPoint.FromBytes(reader.ReadBytes(36));
            var value = reader.ReadInt64();
            var script = Script.FromBytesUnsafe(reader.ReadBytes(reader.ReadInt32()));
            var height = reader.ReadInt32();
            var coinbase = reader.ReadBoolean();
            list.Add((outPoint, new UtxoCoin(new TxOut(Money.Satoshis(value), script), height, coinbase)));
        }

        return list;
    }

    public void DeleteUndo(uint256 hash)
    {
        using var command = Command("DELETE FROM undo WHERE hash = $h");
        command.Parameters.AddWithValue("$h", hash.ToBytes());
        command.ExecuteNonQuery();
    }

    public void AddCoin(OutPoint outPoint, UtxoCoin coin)
    {
        using var command = Command("INSERT OR REPLACE INTO utxo(outpoint, value, script, height, coinbase) VALUES ($o, $v, $s, $h, $c)");
        command.Parameters.AddWithValue("$o", outPoint.ToBytes());
        command.Parameters.AddWithValue("$v", coin.Output.Value.Satoshi);
        command.Parameters.AddWithValue("$s", coin.Output.ScriptPubKey.ToBytes(true));
        command.Parameters.AddWithValue("$h", coin.Height);
        command.Parameters.AddWithValue("$c", coin.IsCoinbase ? 1 : 0);
        command.ExecuteNonQuery();
    }

    public void RemoveCoin(OutPoint outPoint)
    {
        using var command = Command("DELETE FROM utxo WHERE outpoint = $o");
        command.Parameters.AddWithValue("$o", outPoint.ToBytes());
        command.ExecuteNonQuery();
    }

    public Dictionary<OutPoint, UtxoCoin> LoadCoins()
    {
        using var command = Command("SELECT outpoint, value, script, height, coinbase FROM utxo");
        using var reader = command.ExecuteReader();
        var coins = new Dictionary<OutPoint, UtxoCoin>();
        while (reader.Read())
        {
            var outPoint = new OutPoint();
            outPoint.FromBytes((byte[])reader[0]);
            var output = new TxOut(Money.Satoshis(reader.GetInt64(1)), Script.FromBytesUnsafe((byte[])reader[2]));
            coins[outPoint] = new UtxoCoin(output, reader.GetInt32(3), reader.GetInt64(4) != 0);
        }

        return coins;
    }

    public void AddMempoolTx(uint256 txid, long seq, long time, Transaction tx)
    {
        using var command = Command("INSERT OR REPLACE INTO mempool(txid, seq, time, data) VALUES ($t, $s, $ti, $d)");
        command.Parameters.AddWithValue("$t", txid.ToBytes());
        command.Parameters.AddWithValue("$s", seq);
        command.Parameters.AddWithValue("$ti", time);
        command.Parameters.AddWithValue("$d", tx.ToBytes());
        command.ExecuteNonQuery();
    }

    public void RemoveMempoolTx(uint256 txid)
    {
        using var command = Command("DELETE FROM mempool WHERE txid = $t");
        command.Parameters.AddWithValue("$t", txid.ToBytes());
        command.ExecuteNonQuery();
    }

    public List<(long Seq, long Time, Transaction Tx)> LoadMempool()
    {
        using var command = Command("SELECT seq, time, data FROM mempool ORDER BY seq");
        using var reader = command.ExecuteReader();
        var list = new List<(long, long, Transaction)>();
        while (reader.Read())
        {
            list.Add((reader.GetInt64(0), reader.GetInt64(1), Transaction.Load((byte[])reader[2], Network.RegTest)));
        }

        return list;
    }

    public void Dispose()
    {
        _transaction?.Dispose();
        _connection.Dispose();
    }
}
