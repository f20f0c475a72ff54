#!/usr/bin/env python3
"""Converts one day of the Technion "Anonymous Bank" call-center data
(Guedj & Mandelbaum; 1 Aug 1999, 2,375 calls;
../shared/data/callcenter/anonymous_bank_1999_08_01.csv, as published in the
public repository barntrosna/bokeh-project) into convroute's interaction-log
CSV (docs/metrics.md).

Every call starts in the VRU (voice response unit: the bank's IVR, i.e.
self-service). Times are h:mm:ss of that day; 0:00:00 means "did not
happen". Mapping:
  outcome PHANTOM        dropped (the data's documentation: to ignore)
  no q_start, HANG       handled_by bot: the caller finished in the VRU
                         without asking for an agent. The VRU is
                         self-service, so we count these as bot-contained;
                         the data cannot tell a caller served by the VRU
                         from one who gave up in it, so containment is an
                         upper bound.
  q_start, HANG          handled_by abandoned, escalated 1 (left the VRU for
                         the queue), ended_at = q_exit
  AGENT                  handled_by agent, escalated 1; queued_at = q_start
                         (or vru_exit when the call skipped the queue),
                         answered_at = ser_start, ended_at = ser_exit
  queue                  type (PS regular, PE English, IN internet, NE stock
                         exchange, NW prospect, TT call-back)
  agent                  server (empty for NO_SERVER)
  channel                voice
The VRU and the ACD clocks disagree by a second or so on some calls
(ser_start 1 s before q_exit or vru_exit, vru_exit before vru_entry); each
time is clamped to be no earlier than the one before it, and the number of
clamped calls goes to stderr. There is no customer id (no FCR), no outcome
(no resolution) and no survey.

Usage: anonymous_bank.py [IN.csv] [OUT.csv]  (defaults: the shared file,
stdout). Standard library only.
"""
import csv
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "..", "shared", "data", "callcenter",
                       "anonymous_bank_1999_08_01.csv")
FIELDS = ["contact_id", "customer_id", "channel", "queue", "intent", "agent",
          "arrived_at", "queued_at", "answered_at", "ended_at", "handled_by",
          "escalated", "resolved", "transferred", "wrap_s", "csat", "nps",
          "ces"]
DAY = "1999-08-01T"


def secs(s):
    """Seconds after midnight, or None for 0:00:00 (did not happen)."""
    h, m, x = (int(v) for v in s.strip().split(":"))
    t = h * 3600 + m * 60 + x
    return None if t == 0 else t


def iso(t):
    if t is None:
        return ""
    d, t = divmod(t, 86400)  # a service may run past midnight
    day = "1999-08-%02d" % (1 + d)
    return "%sT%02d:%02d:%02d" % (day, t // 3600, t // 60 % 60, t % 60)


def convert_row(r, stats):
    outcome = r["outcome"].strip().upper()
    if outcome == "PHANTOM":
        stats["phantom"] += 1
        return None
    arrived = secs(r["vru_entry"])
    vru_exit = secs(r["vru_exit"])
    q_start, q_exit = secs(r["q_start"]), secs(r["q_exit"])
    s_start, s_exit = secs(r["ser_start"]), secs(r["ser_exit"])
    server = r["server"].strip()
    out = {k: "" for k in FIELDS}
    out.update(contact_id=r["call_id"].strip() + "-" + r["vru+line"].strip(),
               channel="voice", queue=r["type"].strip(), transferred="0",
               escalated="0")
    clamped = False

    def after(t, floor):
        nonlocal clamped
        if t is not None and floor is not None and t < floor:
            clamped = True
            return floor
        return t

    if vru_exit is not None and arrived is not None and vru_exit < arrived:
        arrived = vru_exit  # VRU clock skew: start at the earlier reading
        clamped = True
    if outcome == "HANG" and q_start is None:
        out.update(handled_by="bot", ended_at=iso(after(vru_exit, arrived) or
                                                  arrived))
    elif outcome == "HANG":
        q = after(q_start, arrived)
        out.update(handled_by="abandoned", escalated="1", queued_at=iso(q),
                   ended_at=iso(after(q_exit, q) or q))
    else:  # AGENT
        q = after(q_start if q_start is not None else vru_exit, arrived)
        ans = after(s_start, q)
        end = after(s_exit, ans if ans is not None else after(q_exit, q))
        out.update(handled_by="agent", escalated="1", queued_at=iso(q),
                   answered_at=iso(ans), ended_at=iso(end or q),
                   agent="" if server == "NO_SERVER" else server)
    out["arrived_at"] = iso(arrived)
    stats["clamped"] += clamped
    return out


def main(argv):
    src = argv[1] if len(argv) > 1 else DEFAULT
    if not os.path.isfile(src):
        sys.stderr.write("anonymous_bank.py: %s not found: give the path of "
                         "anonymous_bank_1999_08_01.csv (the Technion "
                         "Anonymous Bank data, one day, as published in the "
                         "public repository barntrosna/bokeh-project)\n"
                         % src)
        return 2
    dst = open(argv[2], "w", newline="") if len(argv) > 2 else sys.stdout
    stats = {"phantom": 0, "clamped": 0}
    n = 0
    with open(src, newline="", encoding="utf-8-sig") as f:
        w = csv.DictWriter(dst, FIELDS, lineterminator="\n")
        w.writeheader()
        for r in csv.DictReader(f):
            row = convert_row(r, stats)
            if row:
                w.writerow(row)
                n += 1
    if dst is not sys.stdout:
        dst.close()
    sys.stderr.write("anonymous_bank: %d calls written, %d PHANTOM dropped, "
                     "%d with clock skew clamped\n"
                     % (n, stats["phantom"], stats["clamped"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
