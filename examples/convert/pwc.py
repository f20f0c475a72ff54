#!/usr/bin/env python3
"""Converts the PwC "Call Centre Trends" case data set (Q1 2021, 5,000
synthetic calls; ../shared/data/callcenter/pwc_call_center_2021Q1.csv, from
the public repository Shikhar1306/Call-Centre-Trends) into convroute's
interaction-log CSV (docs/metrics.md).

Mapping, one row per call:
  contact_id   Call Id
  channel      voice
  agent        Agent (the data names an agent on unanswered calls too: the
               one the call was routed to; kept, so per-agent abandonment
               can be read)
  intent       Topic
  arrived_at   Date + Time (ISO-8601, no zone: the data gives none)
  queued_at    = arrived_at (a phone call queues as it arrives)
  answered_at  arrived_at + "Speed of answer in seconds" (answered calls)
  ended_at     answered_at + AvgTalkDuration; for unanswered calls the data
               has no abandon time, so ended_at = arrived_at (a wait of 0:
               do not use --short-abandon-s or exclude-short on this set)
  handled_by   agent if Answered = Y, else abandoned
  resolved     Resolved Y/N -> 1/0 (the data says N for every unanswered call)
  csat         Satisfaction rating (1-5, blank when not answered)
There is no customer id, so repeat-contact FCR cannot be measured (null).

Usage: pwc.py [IN.csv] [OUT.csv]   (defaults: the shared file, stdout)
Standard library only.
"""
import csv
import datetime as dt
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "..", "shared", "data", "callcenter",
                       "pwc_call_center_2021Q1.csv")
FIELDS = ["contact_id", "customer_id", "channel", "queue", "intent", "agent",
          "arrived_at", "queued_at", "answered_at", "ended_at", "handled_by",
          "escalated", "resolved", "transferred", "wrap_s", "csat", "nps",
          "ces"]


def hms(s):
    h, m, sec = (int(x) for x in s.split(":"))
    return dt.timedelta(hours=h, minutes=m, seconds=sec)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def convert_row(r):
    arrived = dt.datetime.fromisoformat(r["Date"]) + hms(r["Time"])
    answered = r["Answered (Y/N)"].strip().upper() == "Y"
    out = {k: "" for k in FIELDS}
    out.update(contact_id=r["Call Id"], channel="voice", agent=r["Agent"],
               intent=r["Topic"], arrived_at=iso(arrived),
               queued_at=iso(arrived), escalated="0", transferred="0",
               resolved={"Y": "1", "N": "0"}.get(r["Resolved"].strip().upper(),
                                                 ""))
    if answered:
        ans = arrived + dt.timedelta(seconds=int(r["Speed of answer in seconds"]))
        out.update(answered_at=iso(ans),
                   ended_at=iso(ans + hms(r["AvgTalkDuration"])),
                   handled_by="agent",
                   csat=(r["Satisfaction rating"] or "").strip())
    else:
        out.update(ended_at=iso(arrived), handled_by="abandoned")
    return out


def main(argv):
    src = argv[1] if len(argv) > 1 else DEFAULT
    if not os.path.isfile(src):
        sys.stderr.write("pwc.py: %s not found: give the path of the PwC "
                         "Call Centre Trends CSV (public repository "
                         "Shikhar1306/Call-Centre-Trends)\n" % src)
        return 2
    dst = open(argv[2], "w", newline="") if len(argv) > 2 else sys.stdout
    with open(src, newline="", encoding="utf-8-sig") as f:
        w = csv.DictWriter(dst, FIELDS, lineterminator="\n")
        w.writeheader()
        for r in csv.DictReader(f):
            w.writerow(convert_row(r))
    if dst is not sys.stdout:
        dst.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
