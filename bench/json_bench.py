"""python3 side of bench/json_bench.sh: decode + re-encode one document, print the timings."""
import json
import sys
import time

with open(sys.argv[1], "rb") as f:
    text = f.read()
t0 = time.process_time()
doc = json.loads(text)
t1 = time.process_time()
del text
out = json.dumps(doc, separators=(",", ":"))
t2 = time.process_time()
print("python3 decode %.3f s, encode %.3f s, items %d, out %d bytes"
      % (t1 - t0, t2 - t1, len(doc["items"]), len(out)))
