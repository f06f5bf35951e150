"""Prints where sampled thread time ends (leaf frame and its caller) in a speedscope export of a dotnet-trace
dotnet-sampled-thread-time trace: python3 leaves.py trace.speedscope.json [N]."""
import collections
import json
import sys

d = json.load(open(sys.argv[1]))
names = [f['name'] for f in d['shared']['frames']]
leaf = collections.Counter()
total = 0.0
for p in d['profiles']:
    stack, last = [], None
    for e in p['events']:
        if last is not None and stack:
            dt = e['at'] - last
            total += dt
            leaf[(names[stack[-1]][:70], names[stack[-2]][:70] if len(stack) > 1 else '')] += dt
        last = e['at']
        if e['type'] == 'O':
            stack.append(e['frame'])
        else:
            stack.pop()
for (a, b), t in leaf.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 40):
    print(f"{100 * t / total:6.2f}%  {a}  <-  {b}")
