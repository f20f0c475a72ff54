#!/bin/sh
# Builds convroute and its tools, then shows what they do on the demo data:
# a hybrid Hebrew conversation through the engine (bot, handoff with
# context, an agent handing a step back to the bot, survey), the intent
# matcher on Hebrew and English messages, staffing with Erlang C and A, and
# the KPIs of a contact log. Installs missing Debian packages when root.
set -eu
cd "$(dirname "$0")/.."
. ./.ci/deps.sh
cr_need_packages cmake make gcc pkg-config uthash-dev

jobs=$(nproc 2>/dev/null || echo 2)
echo "Building (first time: about a minute)..."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" >/dev/null
bin=build/examples
data=examples/data

say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

say "A VIP customer writes in Hebrew on WhatsApp and asks for a human; the agent hands one step back to the bot" \
  "cr-replay tests/scenarios/hybrid_he.crs"
"$bin/cr-replay" tests/scenarios/hybrid_he.crs

say "The bot collects the details the agent needs, then hands off with the whole context" \
  "cr-replay tests/scenarios/collect_handoff.crs"
"$bin/cr-replay" tests/scenarios/collect_handoff.crs

model=build/demo-intents.bin
cat "$data/intents_he.tsv" "$data/intents_en.tsv" "$data/intents_oos.tsv" >build/demo-intents.tsv
say "Train the bilingual intent model on the demo set (27 intents, Hebrew + English)" \
  "cr-intent train --train demo-intents.tsv --oos-label oos --rules talk_to_human,emergency,fraud_report --out $model"
"$bin/cr-intent" train --train build/demo-intents.tsv --oos-label oos \
  --rules talk_to_human,emergency,fraud_report --out "$model"

say "What do these customers want? (label, calibrated confidence; top 2)" \
  "cr-intent predict --model $model --top 2"
printf '%s\n' \
  "שכחתי את הסיסמה ואני לא מצליח להיכנס" \
  "I never got my invoice for October" \
  "איפה החבילה שלי? הזמנתי לפני שבוע" \
  "אני רוצה לדבר עם נציגה" \
  "what's the weather in Haifa tomorrow" |
  "$bin/cr-intent" predict --model "$model" --top 2

say "How many agents for 100 calls per half hour, 3-minute calls, 80% answered in 20 s?" \
  "cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20 --target-sl 0.8 --shrinkage 0.3"
"$bin/cr-staffing" --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20 --target-sl 0.8 --shrinkage 0.3

say "The same queue with 14 agents, and customers who hang up after 5 minutes on average (Erlang A)" \
  "cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --agents 14 --target-s 20 --patience-s 300"
"$bin/cr-staffing" --arrivals 100 --interval-s 1800 --aht-s 180 --agents 14 --target-s 20 --patience-s 300

say "A day of contacts from a hybrid bot + agent centre: the supervisor's KPIs, by channel" \
  "cr-kpi --log $data/sample_contacts.csv --by channel"
"$bin/cr-kpi" --log "$data/sample_contacts.csv" --by channel
