#!/usr/bin/env python3
"""A small local CMR for the backfill specs: granules.umm_json with CMR-Search-After paging.

Granules are generated from a real CMR page (fixtures/cmr/uat_modis_t_page.json) by cycling its
items with unique concept ids (G<1000000000+i>-POCLOUD), native ids and start dates (one day
apart). Serves ?page_size=, ?concept_id=, ?readable_granule_name=; records every request, served
as JSON at /_requests. Binds 127.0.0.1 on the first free port of --ports (default 19040-19049)
and writes it to --port-file.
"""
import argparse, copy, datetime, json, sys, threading
from urllib.parse import urlsplit, parse_qs

import testserver

ap = argparse.ArgumentParser()
ap.add_argument("--page", required=True)
ap.add_argument("--granules", type=int, default=25)
ap.add_argument("--ports", default="19040-19049")
ap.add_argument("--port-file", required=True)
ap.add_argument("--fail-after", type=int, default=-1, help="answer 500 after this many pages")
ap.add_argument("--per-day", type=int, default=1, help="granules per day (start dates)")
ap.add_argument("--warm-page-size", type=int, default=0,
                help="render every page of this size before listening (benchmarks)")
a = ap.parse_args()

templates = json.load(open(a.page))["items"]
t0 = datetime.datetime(2020, 11, 20, tzinfo=datetime.timezone.utc)

def start_of(i):
    return t0 + datetime.timedelta(seconds=(i * 86400) // a.per_day)

def granule(i):
    g = copy.deepcopy(templates[i % len(templates)])
    cid = "G%d-POCLOUD" % (1000000000 + i)
    g["meta"]["concept-id"] = cid
    g["meta"]["native-id"] = "granule-%06d" % i
    g["umm"]["GranuleUR"] = "granule-%06d" % i
    s = start_of(i)
    g["umm"]["TemporalExtent"]["RangeDateTime"] = {
        "BeginningDateTime": s.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "EndingDateTime": (s + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    return g

# Pages are rendered from per-template JSON text with placeholders (a 2,000-granule page in
# milliseconds, so the server is not the bottleneck of bench/backfill_bench.sh); the same bytes
# json.dumps(granule(i)) gives.
def _marked(k):
    g = copy.deepcopy(templates[k])
    g["meta"]["concept-id"] = "@@CID@@"
    g["meta"]["native-id"] = "@@NID@@"
    g["umm"]["GranuleUR"] = "@@NID@@"
    g["umm"]["TemporalExtent"]["RangeDateTime"] = {"BeginningDateTime": "@@BEGIN@@", "EndingDateTime": "@@END@@"}
    return json.dumps(g)

marked = [_marked(k) for k in range(len(templates))]

def rendered(i):
    s = start_of(i)
    return (marked[i % len(marked)].replace("@@CID@@", "G%d-POCLOUD" % (1000000000 + i))
            .replace("@@NID@@", "granule-%06d" % i)
            .replace("@@BEGIN@@", s.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            .replace("@@END@@", (s + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")))

warm = {}

def page(start, end):
    body = warm.get((start, end))
    if body is None:
        items = [rendered(i) for i in range(start, end)]
        body = '{"hits": %d, "took": 1, "items": [%s]}' % (a.granules, ", ".join(items))
    return body

if a.warm_page_size > 0:
    for st in range(0, a.granules, a.warm_page_size):
        en = min(st + a.warm_page_size, a.granules)
        warm[(st, en)] = page(st, en).encode()

requests_log = []
lock = threading.Lock()
pages_served = [0]

class H(testserver.Handler):
    def send(self, code, body, headers=None):
        b = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/_requests":
            with lock:
                return self.send(200, json.dumps(requests_log))
        q = parse_qs(u.query)
        with lock:
            requests_log.append({"path": u.path, "query": u.query,
                                 "search_after": self.headers.get("CMR-Search-After"),
                                 "authorization": self.headers.get("Authorization")})
        if u.path != "/search/granules.umm_json":
            return self.send(404, '{"errors":["not found"]}')
        if "concept_id" in q:
            cid = q["concept_id"][0]
            i = int(cid[1:].split("-")[0]) - 1000000000
            items = [granule(i)] if 0 <= i < a.granules else []
            return self.send(200, json.dumps({"hits": len(items), "took": 1, "items": items}))
        if "readable_granule_name" in q:
            name = q["readable_granule_name"][0]
            items = []
            if name.startswith("granule-") and name[8:].isdigit() and int(name[8:]) < a.granules:
                items = [granule(int(name[8:]))]
            return self.send(200, json.dumps({"hits": len(items), "took": 1, "items": items}))
        with lock:
            pages_served[0] += 1
            if a.fail_after >= 0 and pages_served[0] > a.fail_after:
                return self.send(500, '{"errors":["boom"]}')
        size = int(q.get("page_size", ["10"])[0])
        start = int(self.headers.get("CMR-Search-After") or "0")
        end = min(start + size, a.granules)
        hdr = {"CMR-Hits": str(a.granules)}
        if end > start:
            hdr["CMR-Search-After"] = str(end)
        self.send(200, page(start, end), hdr)

lo, hi = (int(x) for x in a.ports.split("-"))
for port in range(lo, hi + 1):
    try:
        srv = testserver.Server(("127.0.0.1", port), H)
        break
    except OSError:
        continue
else:
    sys.exit("no free port in " + a.ports)
testserver.serve(srv, a.port_file)
