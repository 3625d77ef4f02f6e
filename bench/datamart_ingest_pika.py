#!/usr/bin/python3
"""The original listener's ingest path (backend/messaging/cmc_grib_callbacks.py + db/message_cache.py)
as a pika consumer, for bench/datamart_ingest_bench.sh: per message, parse split(' ')[2], check
it against the expected list of its day, look it up in message_events, insert and commit,
re-check the day's completeness with a query, clear a complete day (the emit without the HTTP
call), then basic_ack. Prefetch 10, manual ack. Stops after N messages; prints messages/s.

usage: datamart_ingest_pika.py URL QUEUE DB N
"""
import sqlite3
import sys
import time

import pika

url, queue, dbpath, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

SCHEMA = """CREATE TABLE IF NOT EXISTS message_events (
	event_id INTEGER NOT NULL,
	event_message VARCHAR(200) NOT NULL,
	event_timestmp DATETIME DEFAULT (CURRENT_TIMESTAMP),
	event_idempotency_key VARCHAR(50) NOT NULL,
	CONSTRAINT event_pk PRIMARY KEY (event_id)
)"""


def expected(date):
    out = []
    for h in range(2, 84):
        out.append(f"/{date}/WXO-DD/model_gem_regional/10km/grib2/06/{h:03}/CMC_reg_PRATE_SFC_0_ps10km_{date}06_P{h:03}.grib2")
    for h in range(0, 84):
        out.append(f"/{date}/WXO-DD/model_gem_regional/10km/grib2/06/{h:03}/CMC_reg_TMP_TGL_2_ps10km_{date}06_P{h:03}.grib2")
    for h in range(138, 241, 3):
        out.append(f"/{date}/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/{h:03}/CMC_glb_PRATE_SFC_0_latlon.15x.15_{date}00_P{h:03}.grib2")
    for h in range(138, 241, 3):
        out.append(f"/{date}/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/{h:03}/CMC_glb_TMP_TGL_2_latlon.15x.15_{date}00_P{h:03}.grib2")
    return out


db = sqlite3.connect(dbpath)
db.execute(SCHEMA)
db.commit()
lists = {}
count = [0]
t0 = [None]


def on_message(ch, method, props, body):
    if t0[0] is None:
        t0[0] = time.monotonic()
    path = body.decode().split(" ")[2]
    key = path.split("/")[1]
    exp = lists.get(key)
    if exp is None:
        exp = lists[key] = set(expected(key))
    if path in exp:
        cur = db.execute("SELECT event_id FROM message_events WHERE event_message = ?", (path,))
        if cur.fetchone() is None:
            db.execute("INSERT INTO message_events (event_message, event_idempotency_key) VALUES (?, ?)", (path, key))
            db.commit()
        have = {r[0] for r in db.execute("SELECT event_message FROM message_events WHERE event_idempotency_key = ?", (key,))}
        if exp <= have:
            db.execute("DELETE FROM message_events WHERE event_idempotency_key = ?", (key,))
            db.commit()
    ch.basic_ack(delivery_tag=method.delivery_tag)
    count[0] += 1
    if count[0] >= total:
        ch.stop_consuming()


conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
ch.basic_qos(prefetch_count=10)
ch.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=False)
ch.start_consuming()
dt = time.monotonic() - t0[0]
conn.close()
print(f"{total} {dt:.3f} {total / dt:.0f}")
