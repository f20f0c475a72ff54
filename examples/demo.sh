#!/bin/sh
# The convroute demo: builds everything, then shows in a terminal, in well
# under a minute once built:
#   1. an English customer contained by self-service (the bot's action);
#   2. a Hebrew customer whose details the bot collects before handing off,
#      the context as the agent sees it, and the agent handing one step
#      back to the bot;
#   3. a VIP jumping the queue;
#   4. what the intent model makes of a few messages, and how many agents
#      a queue needs (Erlang C);
#   5. a simulated peak hour of a hybrid messaging centre, whose KPI table
#      and SVG chart end the run.
# Sections 1-3 are cr-chat (the interactive version: run it yourself and
# type) fed from this script; every decision is the engine's. Installs
# missing Debian packages when root. CR_BUILD_DIR (default build) is the
# build directory.
set -eu
cd "$(dirname "$0")/.."
. ./.ci/deps.sh
cr_need_packages cmake make gcc pkg-config uthash-dev libcmocka-dev

jobs=$(nproc 2>/dev/null || echo 2)
echo "Building (first time: one to two minutes on two cores)..."
b=${CR_BUILD_DIR:-build}
cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$b" -j "$jobs" >/dev/null
bin=$b/examples
data=examples/data

say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

say "1. An English customer on WhatsApp: the bot's self-service action contains it" \
  "cr-chat   (you type as the customer)"
"$bin/cr-chat" <<'EOF'
I never got my invoice for October
thanks, that's all
EOF

say "2. A Hebrew customer: the bot collects the account number, hands off with the context; the agent hands a step back to the bot" \
  "cr-chat --profile lang=he   ('/agent ...' and 'agent> ...' lines are the agent)"
"$bin/cr-chat" --profile lang=he <<'EOF'
חייבו אותי פעמיים החודש, יש לי שאלה על החשבון
12345678
/agent accept
agent> שלום, אני רואה את החיוב הכפול ומבטלת אותו
/agent step send_invoice
agent> שלחתי לך חשבונית מתוקנת. עוד משהו?
/agent close
/survey 5 9
EOF

say "3. A VIP jumps the queue: the only free agent is offered the VIP who wrote second" \
  "cr-chat --capacity 1"
"$bin/cr-chat" --capacity 1 <<'EOF'
/agent dana away
/agent omer away
/agent lee away
I want to talk to a human
/vip
אני רוצה לדבר עם נציג
/convs
/agent dana available
/agent dana accept
/convs
EOF

model=$b/demo-intents.bin
cat "$data/intents_he.tsv" "$data/intents_en.tsv" "$data/intents_oos.tsv" >"$b/demo-intents.tsv"
"$bin/cr-intent" train --train "$b/demo-intents.tsv" --oos-label oos \
  --rules talk_to_human,emergency,fraud_report --out "$model" >/dev/null 2>&1
say "4a. What do these customers want? (the bilingual model: label, calibrated confidence; top 2)" \
  "cr-intent predict --model $model --top 2"
printf '%s\n' \
  "שכחתי את הסיסמה ואני לא מצליח להיכנס" \
  "איפה החבילה שלי? הזמנתי לפני שבוע" \
  "what's the weather in Haifa tomorrow" |
  "$bin/cr-intent" predict --model "$model" --top 2

say "4b. How many agents for 100 chats per half hour, 3-minute handling, 80% answered in 20 s?" \
  "cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20 --target-sl 0.8 --shrinkage 0.3"
"$bin/cr-staffing" --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20 --target-sl 0.8 --shrinkage 0.3

svg=$b/demo-peak-hour.svg
say "5. A simulated peak hour (10:00-11:00) of a Hebrew/English hybrid messaging centre: every conversation through the engine" \
  "cr-sim --scenario default --start 10:00 --hours 1 --svg $svg"
"$bin/cr-sim" --scenario default --start 10:00 --hours 1 --svg "$svg"
printf '\nThe whole day: %s/cr-sim --svg day.svg   Talk to the bot yourself: %s/cr-chat\n' "$bin" "$bin"
printf 'Chart of the simulated hour (open it in a browser): %s\n' "$svg"
