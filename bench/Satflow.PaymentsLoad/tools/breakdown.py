"""Where the CPU goes in a dotnet-trace 'dotnet-sampled-thread-time' trace exported to speedscope
(dotnet-trace convert --format speedscope). Only samples whose leaf is CPU_TIME (managed code running) count as CPU;
native time under SQLite (its C code and the fsync wait) is reported apart.

usage: python3 breakdown.py trace.speedscope.json [top-N inclusive frames]"""
import collections
import json
import re
import sys

d = json.load(open(sys.argv[1]))
names = [f['name'] for f in d['shared']['frames']]
top_n = int(sys.argv[2]) if len(sys.argv) > 2 else 40

# First matching rule over the whole stack decides a sample's category (order = priority).
RULES = [
    # The finalizer thread's array-pool trim sits in GC.GetGCMemoryInfo for most of a run without using the CPU that
    # the process's CPU counters would show: a sampling artifact, kept out of the percentages.
    ('(excluded) finalizer thread in SharedArrayPool.Trim / GC.GetGCMemoryInfo', re.compile(r'Gen2GcCallback')),
    ('secp256k1 (ECDSA sign/verify, ECDH, key derivation)', re.compile(r'Secp256k1')),
    ('SQLite (managed side of the store)', re.compile(r'Sqlite|SQLitePCL|KeyValueStore')),
    ('BOLT 8 transport (ChaCha20-Poly1305, sockets)', re.compile(r'ChaCha|Poly1305|Noise|PeerConnection\+<Writer|PeerConnection\.Write|Socket')),
    ('GC (threads parked at GC safepoints: allocation-driven pauses)', re.compile(r'GC\.|Gen2GcCallback|SharedArrayPool|PollGC')),
    ('sighash + transaction building (NBitcoin)', re.compile(r'GetSignatureHash|NBitcoin!NBitcoin\.(Transaction|Script|TxOut|TxIn|BitcoinStream)|CommitmentTransaction|HtlcTransaction|Bolt3')),
    ('serialization (records, monitor, wire)', re.compile(r'Encode|Decode|Serialize|Deserialize|WireWriter|WireReader|ToBytes|FromBytes|Persist')),
    ('hashing (SHA256/HMAC outside the above)', re.compile(r'SHA256|HMAC|Sha256')),
    ('thread pool / async machinery only', re.compile(r'.')),
]
satflow = re.compile(r'^(Satflow|NBitcoin|Microsoft\.Data|SQLitePCL)')

cat_time = collections.Counter()
incl = collections.Counter()
cpu = 0.0
sqlite_native = 0.0
wall = 0.0
for p in d['profiles']:
    stack, last = [], None
    for e in p['events']:
        if last is not None and stack:
            dt = e['at'] - last
            wall += dt
            leaf = names[stack[-1]]
            frames = [names[f] for f in stack]
            if leaf == 'CPU_TIME':
                cpu += dt
                # Only the managed frames above the CPU_TIME marker that are application code decide the category.
                joined = '\n'.join(frames)
                for label, rx in RULES:
                    if label.startswith('thread pool') or rx.search(joined):
                        cat_time[label] += dt
                        break
                seen = set()
                for f in frames if 'Gen2GcCallback' not in joined else []:
                    short = f.split('(')[0]
                    if short not in seen and satflow.search(short):
                        seen.add(short)
                        incl[short] += dt
            elif leaf == 'UNMANAGED_CODE_TIME' and any('Sqlite' in f or 'SQLitePCL' in f for f in frames):
                sqlite_native += dt
        last = e['at']
        if e['type'] == 'O':
            stack.append(e['frame'])
        else:
            stack.pop()

print(f"sampled thread time {wall / 1000:.1f} s, of which managed CPU {cpu / 1000:.2f} s, native SQLite (C code + fsync wait) {sqlite_native / 1000:.2f} s")
excluded = sum(t for label, t in cat_time.items() if label.startswith('(excluded)'))
print(f"excluded {excluded / 1000:.2f} s on the finalizer thread (see RULES); percentages below are of the rest")
cpu -= excluded
print("\nmanaged CPU by category:")
for label, t in cat_time.most_common():
    if not label.startswith('(excluded)'):
        print(f"  {100 * t / cpu:6.2f}%  {label}")
print(f"\ntop {top_n} application frames by inclusive managed CPU:")
for name, t in incl.most_common(top_n):
    print(f"  {100 * t / cpu:6.2f}%  {name[:150]}")
