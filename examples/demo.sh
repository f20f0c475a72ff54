#!/bin/sh
# Builds convroute and its tools, then shows what they do on sample data:
# staffing a queue with Erlang C and Erlang A, and the KPIs of a contact log.
# Installs missing Debian packages when run as root.
set -eu
cd "$(dirname "$0")/.."
. ./.ci/deps.sh
cr_need_packages cmake make gcc pkg-config uthash-dev

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" >/dev/null
bin=build/examples

say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

say "How many agents for 100 calls per half hour, 3-minute calls, 80% answered in 20 s?" \
  "cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20 --target-sl 0.8 --shrinkage 0.3"
"$bin/cr-staffing" --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20 --target-sl 0.8 --shrinkage 0.3

say "The same queue with 14 agents, and customers who hang up after 5 minutes on average (Erlang A)" \
  "cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --agents 14 --target-s 20 --patience-s 300"
"$bin/cr-staffing" --arrivals 100 --interval-s 1800 --aht-s 180 --agents 14 --target-s 20 --patience-s 300

say "A day of contacts from a hybrid bot + agent centre: the supervisor's KPIs, by channel" \
  "cr-kpi --log examples/data/sample_contacts.csv --by channel"
"$bin/cr-kpi" --log examples/data/sample_contacts.csv --by channel
