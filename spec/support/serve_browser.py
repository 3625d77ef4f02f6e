#!/usr/bin/python3
"""Drive headless Chromium over its DevTools protocol for the `gfhost serve` specs and bench.

  serve_browser.py check URL --port P [--screenshot FILE] [--mutate CMD --expect ID]
                         [--rerun-node NODE]
                                                           the page scenario; prints JSON
  serve_browser.py render URL --port P [--runs N]            time to first full render; JSON

Chromium (Debian `chromium`) runs headless with --remote-debugging-port=P on 127.0.0.1 and a
throw-away profile; the client is python3-websocket. "Ready" is the page's own signal: after its
first complete refresh (health, runs, payloads and chart drawn) it sets body[data-ready=1].
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    sys.exit("serve_browser: no chromium on PATH (apt-get install chromium)")


class Browser:
    def __init__(self, port):
        self.port = port
        self.profile = tempfile.mkdtemp(prefix="gfserve-chromium.")
        self.proc = subprocess.Popen(
            [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={port}",
             f"--user-data-dir={self.profile}", "--window-size=1280,1400",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-sync", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        target = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    target = pages[0]
                    break
            except OSError:
                pass
            time.sleep(0.1)
        if not target:
            self.close()
            sys.exit(f"serve_browser: chromium did not open its DevTools port {port}")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.seq = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")

    def call(self, method, **params):
        self.seq += 1
        my = self.seq
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.eval(expr)
            if v:
                return v
            time.sleep(0.02)
        raise RuntimeError(f"timed out waiting for {expr}")

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


READ = """(() => {
  const rows = (sel, attr) => Array.from(document.querySelectorAll(sel)).map(r => r.getAttribute(attr));
  const counts = {};
  document.querySelectorAll('#counts tbody tr').forEach(tr => {
    counts[tr.getAttribute('data-state')] = Array.from(tr.cells).slice(1).map(td => Number(td.textContent));
  });
  return {
    renders: Number(document.body.getAttribute('data-renders') || 0),
    error: document.body.getAttribute('data-error'),
    runs: rows('#runs tbody tr[data-run]', 'data-run'),
    items: rows('#items tbody tr[data-id]', 'data-id'),
    item_states: Array.from(document.querySelectorAll('#items tbody tr[data-id] .badge')).map(b => b.textContent),
    errors_text: Array.from(document.querySelectorAll('#items td.err')).map(td => td.textContent),
    nodes: rows('#nodes tbody tr[data-node]', 'data-node'),
    node_errors: Array.from(document.querySelectorAll('#nodes td.err')).map(td => td.textContent),
    listeners: rows('#health [data-listener]', 'data-listener'),
    health_text: document.getElementById('health').textContent,
    counts: counts,
    chart_bars: document.querySelectorAll('#chart rect').length,
    injected: document.querySelectorAll('#items script, #items img, #nodes script, #nodes img').length,
    xss: window.__xss === undefined ? null : window.__xss,
  };
})()"""


def settle(b, after):
    """Wait until the page finished a refresh that started after `after` renders."""
    b.wait(f"Number(document.body.getAttribute('data-renders') || 0) > {after}")
    return b.eval(READ)


def check(url, port, screenshot, mutate=None, expect=None, rerun_node=None):
    b = Browser(port)
    out = {}
    try:
        b.navigate(url)
        b.wait("document.body && document.body.getAttribute('data-ready') === '1'")
        out["loaded"] = b.eval(READ)
        n = out["loaded"]["renders"]
        b.eval("(() => { const s = document.getElementById('state'); s.value = 'FAILED';"
               " s.dispatchEvent(new Event('change')); })()")
        out["state_failed"] = settle(b, n)
        n = out["state_failed"]["renders"]
        b.eval("document.querySelector('.since button[data-since=\"hour\"]').click()")
        out["failed_last_hour"] = settle(b, n)
        n = out["failed_last_hour"]["renders"]
        b.eval("(() => { const s = document.getElementById('state'); s.value = '';"
               " s.dispatchEvent(new Event('change')); })()")
        out["any_last_hour"] = settle(b, n)
        n = out["any_last_hour"]["renders"]
        b.eval("document.querySelector('#runs a.run').parentNode.parentNode.getAttribute('data-run')")
        b.eval("Array.from(document.querySelectorAll('#runs a.run')).find(a => a.textContent.startsWith('example')).click()")
        b.wait("document.querySelectorAll('#nodes tbody tr[data-node]').length > 0")
        out["run_detail"] = b.eval(READ)
        if rerun_node:
            # the rerun button (shown only when actions are enabled): the node leaves the failed list
            row = json.dumps(f'#nodes tbody tr[data-node="{rerun_node}"]')
            out["rerun_button"] = b.eval(f"document.querySelector({row} + ' button') !== null")
            if out["rerun_button"]:
                b.eval(f"document.querySelector({row} + ' button').click()")
                b.wait(f"document.querySelector({row}) === null")
            out["after_rerun"] = b.eval(READ)
        # back to everything for the picture
        b.eval("(() => { document.querySelector('.since button[data-since=\"\"]').click(); })()")
        settle(b, out["run_detail"]["renders"])
        out["location"] = b.eval("location.href")
        if mutate:
            # live refresh: a record written now appears without a reload (the marker survives)
            b.eval("window.__marker = 'same page'")
            subprocess.run(mutate, shell=True, check=True)
            sel = json.dumps(f'#items tbody tr[data-id="{expect}"]')
            b.wait(f"document.querySelector({sel}) !== null", timeout=30)
            out["live"] = {"appeared": True, "marker": b.eval("window.__marker || null")}
        out["console"] = [e["params"].get("entry", {}).get("text") for e in b.events
                          if e.get("method") == "Log.entryAdded"]
        if screenshot:
            h = b.eval("Math.ceil(document.documentElement.scrollHeight)")
            b.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(int(h), 2400),
                   deviceScaleFactor=1, mobile=False)
            png = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(png["data"]))
            out["screenshot"] = screenshot
    finally:
        b.close()
    print(json.dumps(out))


def render(url, port, runs):
    b = Browser(port)
    times = []
    try:
        for _ in range(runs):
            b.navigate("about:blank")
            b.wait("document.readyState === 'complete'")
            t0 = time.perf_counter()
            b.navigate(url)
            b.wait("document.body && document.body.getAttribute('data-ready') === '1'", timeout=120)
            times.append(time.perf_counter() - t0)
    finally:
        b.close()
    times.sort()
    print(json.dumps({"runs": runs, "seconds": times, "median": times[len(times) // 2]}))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "render"):
        sys.exit(__doc__)
    mode, url = argv[1], argv[2]
    opts = {"--port": "19131", "--screenshot": None, "--runs": "5", "--mutate": None,
            "--expect": None, "--rerun-node": None}
    i = 3
    while i < len(argv):
        opts[argv[i]] = argv[i + 1]
        i += 2
    if mode == "check":
        check(url, int(opts["--port"]), opts["--screenshot"], opts["--mutate"], opts["--expect"],
              opts["--rerun-node"])
    else:
        render(url, int(opts["--port"]), int(opts["--runs"]))


if __name__ == "__main__":
    main(sys.argv)
