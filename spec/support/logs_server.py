#!/usr/bin/env python3
"""logs_server.py: a local CloudWatch Logs (JSON 1.1) endpoint serving RECORDED Logs Insights
responses, for the memory_profile specs. CloudWatch Logs has no local server.

  python3 logs_server.py --scenario spec/support/logs/<name>.json [--port 0] [--ready FILE]

Binds 127.0.0.1 (port 0: a free one), writes "<port>\\n" to --ready (atomically) and prints
"listening <port>" on stdout.

Every POST / is checked like the service would: Content-Type application/x-amz-json-1.1, a SigV4
Authorization header for the "logs" service, X-Amz-Target one of Logs_20140328.StartQuery,
Logs_20140328.GetQueryResults, Logs_20140328.StopQuery (else 400 UnknownOperationException), a
JSON object body. StartQuery is validated against the API reference: startTime, endTime and
queryString required, startTime/endTime epoch SECONDS (a value past year 2286 is refused: it is
milliseconds), endTime >= startTime, limit 1-10000, exactly one of logGroupName / logGroupNames /
logGroupIdentifiers, the log group name pattern. Errors are AWS JSON error bodies
{"__type": Code, "message": text} with the X-Amzn-ErrorType header.

The scenario file (a recorded session) holds:
  logGroupName   the only log group that exists (others: 400 ResourceNotFoundException)
  queryString    the query expected (others: 400 MalformedQueryException)
  limit          the limit expected, if set
  queries        [{startTime, endTime, queryId, polls: [GetQueryResults body, ...]} or
                  with error: {status, body} (and times: N) StartQuery answers that error (the
                  first N times, then the recorded query)]: the i-th GetQueryResults for a
                 query gets polls[i] (the last one repeats); a poll may be {"$error": {status, body}}
  default        {polls: [...]} for a window that is not listed (query ids are generated);
                 without it an unlisted window is a 400 InvalidParameterException
GET /_requests: every request received ({target, body}); GET /_stats: {"active", "max_active"}
(queries started and not yet answered with a final status).
"""
import argparse
import json
import re
import sys
import threading
import uuid

import testserver

PREFIX = "Logs_20140328."
FINAL = {"Complete", "Failed", "Cancelled", "Timeout"}
GROUP_RE = re.compile(r"^[\.\-_/#A-Za-z0-9]+$")
MAX_SECONDS = 10_000_000_000  # 2286-11-20: anything larger is milliseconds

LOCK = threading.Lock()
STATE = {"requests": [], "queries": {}, "active": set(), "max_active": 0, "errors": {}}
SCENARIO = {}


class AwsError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message):
    return AwsError(400, "InvalidParameterException", message)


def check_start(body):
    for k in ("startTime", "endTime", "queryString"):
        if k not in body:
            raise invalid("1 validation error detected: Value null at '%s' failed to satisfy constraint: "
                          "Member must not be null" % k)
    for k in ("startTime", "endTime"):
        v = body[k]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise AwsError(400, "SerializationException", "%s must be a non-negative integer" % k)
        if v >= MAX_SECONDS:
            raise invalid("%s %d is not epoch seconds (milliseconds?)" % (k, v))
    if body["endTime"] < body["startTime"]:
        raise invalid("endTime is before startTime")
    if "limit" in body:
        lim = body["limit"]
        if not isinstance(lim, int) or isinstance(lim, bool) or not 1 <= lim <= 10000:
            raise invalid("1 validation error detected: Value '%s' at 'limit' failed to satisfy "
                          "constraint: Member must have value between 1 and 10000" % lim)
    given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if k in body]
    if len(given) != 1:
        raise invalid("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers is required")
    name = body.get("logGroupName")
    if name is not None and (not isinstance(name, str) or not GROUP_RE.match(name) or len(name) > 512):
        raise invalid("1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy "
                      "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+" % name)
    if not isinstance(body["queryString"], str):
        raise AwsError(400, "SerializationException", "queryString must be a string")


def find_recorded(body):
    for q in SCENARIO.get("queries", []):
        if q["startTime"] == body["startTime"] and q["endTime"] == body["endTime"]:
            return q
    if "default" in SCENARIO:
        return dict(SCENARIO["default"], queryId=str(uuid.uuid4()))
    raise invalid("test server: no recorded query for startTime %d endTime %d"
                  % (body["startTime"], body["endTime"]))


def start_query(body):
    check_start(body)
    if body.get("logGroupName") != SCENARIO["logGroupName"]:
        raise AwsError(400, "ResourceNotFoundException", "The specified log group does not exist.")
    if "queryString" in SCENARIO and body["queryString"] != SCENARIO["queryString"]:
        raise AwsError(400, "MalformedQueryException", "test server: unexpected queryString %r"
                       % body["queryString"])
    if "limit" in SCENARIO and body.get("limit") != SCENARIO["limit"]:
        raise invalid("test server: expected limit %s, got %s" % (SCENARIO["limit"], body.get("limit")))
    q = find_recorded(body)
    if "error" in q:
        with LOCK:
            used = STATE["errors"].get(id(q), 0)
            STATE["errors"][id(q)] = used + 1
        if used < q.get("times", 1 << 30):
            e = q["error"]
            return e["status"], e["body"]
    qid = q["queryId"]
    with LOCK:
        STATE["queries"][qid] = {"polls": q["polls"], "served": 0}
        STATE["active"].add(qid)
        STATE["max_active"] = max(STATE["max_active"], len(STATE["active"]))
    return 200, {"queryId": qid}


def get_results(body):
    qid = body.get("queryId")
    if not isinstance(qid, str):
        raise invalid("1 validation error detected: Value null at 'queryId' failed to satisfy "
                      "constraint: Member must not be null")
    with LOCK:
        q = STATE["queries"].get(qid)
        if q is None:
            raise AwsError(400, "ResourceNotFoundException", "Query does not exist.")
        polls = q["polls"]
        resp = polls[min(q["served"], len(polls) - 1)]
        q["served"] += 1
        if "$error" in resp:
            return resp["$error"]["status"], resp["$error"]["body"]
        if resp.get("status") in FINAL:
            STATE["active"].discard(qid)
    return 200, resp


def stop_query(body):
    qid = body.get("queryId")
    with LOCK:
        if qid not in STATE["queries"]:
            raise AwsError(400, "ResourceNotFoundException", "Query does not exist.")
        running = qid in STATE["active"]
        STATE["active"].discard(qid)
        STATE["queries"][qid]["polls"] = [{"status": "Cancelled", "results": [], "statistics": {}}]
        STATE["queries"][qid]["served"] = 0
    return 200, {"success": running}


OPS = {"StartQuery": start_query, "GetQueryResults": get_results, "StopQuery": stop_query}


class Handler(testserver.Handler):
    server_version = "logs_server/1"

    def send(self, status, obj, error_type=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("X-Amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            if self.path == "/_requests":
                return self.send(200, STATE["requests"])
            if self.path == "/_stats":
                return self.send(200, {"active": len(STATE["active"]), "max_active": STATE["max_active"]})
        self.send(404, {"message": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        target = self.headers.get("X-Amz-Target", "")
        try:
            if self.path != "/":
                raise AwsError(404, "UnknownOperationException", "path %s" % self.path)
            auth = self.headers.get("Authorization", "")
            if not (auth.startswith("AWS4-HMAC-SHA256 Credential=") and "/logs/aws4_request" in auth
                    and "Signature=" in auth and self.headers.get("X-Amz-Date")):
                raise AwsError(400, "MissingAuthenticationTokenException", "Missing Authentication Token")
            if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                raise AwsError(400, "SerializationException", "Content-Type must be application/x-amz-json-1.1")
            op = target[len(PREFIX):] if target.startswith(PREFIX) else None
            if op not in OPS:
                raise AwsError(400, "UnknownOperationException", "unknown X-Amz-Target %r" % target)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise AwsError(400, "SerializationException", "body is not JSON")
            if not isinstance(body, dict):
                raise AwsError(400, "SerializationException", "body is not a JSON object")
            with LOCK:
                STATE["requests"].append({"target": target, "body": body})
            status, out = OPS[op](body)
            err = out.get("__type") if status >= 300 and isinstance(out, dict) else None
            self.send(status, out, err)
        except AwsError as e:
            self.send(e.status, {"__type": e.code, "message": e.message}, e.code)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True, help="recorded session (JSON)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready", help="file that receives the port once listening")
    a = ap.parse_args()
    with open(a.scenario) as f:
        SCENARIO.update(json.load(f))
    return testserver.serve(testserver.Server(("127.0.0.1", a.port), Handler), a.ready)


if __name__ == "__main__":
    sys.exit(main())
