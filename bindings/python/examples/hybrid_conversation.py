#!/usr/bin/env python3
"""One full hybrid conversation through convroute.Engine.

A customer greets the bot and asks about a high bill; the intent model
recognises billing_question, whose policy makes the bot collect the
account number (validated as 6-10 digits; a wrong value is asked again);
the bot hands the conversation to the billing queue WITH the context; the
router offers it to the agent dana, who sees the transcript, the detected
intents, the collected fields and the customer profile without asking
again; dana accepts, replies, hands one step back to the bot (sending a
copy of the invoice: a self-service action the host runs), gets the
conversation back when the action is done, and closes it resolved; the
customer answers the survey; the KPIs show it.

The host (this script) owns the clock: `now` is milliseconds and only
moves forward. Callbacks must not call into the engine, so the action the
engine asks for is remembered and run after the call returns -- the shape
of a real host, where the action is an HTTP request answered later.

    python3 hybrid_conversation.py [--data DIR] [--lang en|he] [--quiet]

--data is the demo intent set (examples/data of the source checkout by
default). Exits 1 if the conversation does not go the way described.
"""
import argparse
import os
import sys
import textwrap

from convroute import Engine, FieldSpec, IntentModel

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "examples", "data")

SCRIPT = {
    "en": dict(hello="hi there", bill="why is my bill so high this month?",
               bad="I don't know it", account="12345678",
               thanks="great, thanks!",
               agent_hi="Hi, I'm Dana. I see a roaming charge from your "
                        "trip; I'll send you the invoice with the details.",
               agent_bye="Done: the invoice is in your mailbox and the "
                         "roaming fee is refunded.",
               sent="The invoice for 2026-10 was sent to your e-mail."),
    "he": dict(hello="היי", bill="למה החשבון שלי כל כך גבוה החודש?",
               bad="לא יודע", account="12345678", thanks="מעולה, תודה!",
               agent_hi="שלום, אני דנה. אני רואה חיוב נדידה מהנסיעה שלך; "
                        "אשלח לך את החשבונית עם הפירוט.",
               agent_bye="סיימנו: החשבונית בתיבת הדואר שלך ודמי הנדידה "
                         "זוכו.",
               sent="החשבונית לאוקטובר 2026 נשלחה למייל שלך."),
}


class Host:
    """What a contact-center host does with the engine's callbacks."""

    def __init__(self, quiet=False):
        self.quiet = quiet
        self.offers = []      # (context, agent)
        self.actions = []     # (conv, action, args, agent)
        self.states = []      # (conv, from, to, reason)
        self.journal = []

    def say(self, who, text):
        if not self.quiet:
            print(textwrap.fill(text, 76, initial_indent="%-9s" % (who + ":"),
                                subsequent_indent=" " * 9))

    # -- callbacks (the engine calls these; they never call it back) --
    def send(self, conv, channel, lang, text):
        self.say("bot" if not self.journal or self.journal[-1].sender !=
                 "agent" else "agent", text)

    def offer(self, ctx, agent):
        self.offers.append((ctx, agent))
        if self.quiet:
            return
        print("\n--- offer to %s: what the agent's desk shows ---" % agent)
        print("conversation %s, customer %s, %s, language %s" % (
            ctx.conv, ctx.customer, "/".join(ctx.channels), ctx.lang))
        print("handoff reason %s, queue %s, priority %d, intent %s" % (
            ctx.reason, ctx.queue, ctx.priority, ctx.intent))
        print("profile %s" % ctx.profile)
        print("collected %s" % ctx.fields)
        print("intents %s" % ", ".join("%s %.2f" % (i.label, i.confidence)
                                       for i in ctx.intents))
        for line in ctx.transcript:
            print("  [%s] %s" % (line.sender, line.text))
        print("---\n")

    def action(self, conv, action, args, agent):
        self.actions.append((conv, action, args, agent))
        self.say("host", "runs %s(%s) for %s" % (action, args,
                                                 agent or "the bot"))

    def state_change(self, conv, from_state, to_state, reason):
        self.states.append((conv, from_state, to_state, reason))
        if not self.quiet:
            print("%9s[%s -> %s, %s]" % ("", from_state, to_state, reason))

    def callbacks(self):
        return dict(on_send=self.send, on_offer=self.offer,
                    on_action=self.action, on_state_change=self.state_change,
                    on_event=self.journal.append)


def build_engine(model, host):
    e = Engine(model, **host.callbacks())
    r = e.router
    r.add_queue("billing", skills={"billing": 1}, auto_members=True, now=0)
    r.add_queue("general", skills={"general": 1}, auto_members=True, now=0)
    r.add_agent("dana", max_per_channel={"chat": 3, "whatsapp": 3},
                skills={"billing": 4, "general": 2, "he": 5}, now=0)
    r.set_agent_status("dana", "available", now=0)
    e.set_policy("greeting", "answer",
                 text={"en": "Hello! How can I help?",
                       "he": "שלום! במה אפשר לעזור?"})
    e.set_policy("billing_question", "collect", queue="billing",
                 text={"en": "Let me get an agent to look at your bill.",
                       "he": "אעביר את זה לנציג/ה שיבדקו את החשבון."},
                 fields=[FieldSpec("account",
                                   {"en": "What is your account number?",
                                    "he": "מה מספר החשבון?"},
                                   "digits", 6, 10)])
    e.set_policy("talk_to_human", "human", queue="general")
    e.set_policy("thanks_goodbye", "end",
                 text={"en": "Have a good day!", "he": "יום טוב!"})
    e.set_text("handoff", "en", "Connecting you to an agent.")
    e.set_text("handoff", "he", "מעביר/ה אותך לנציג/ה.")
    e.set_text("invalid", "en", "That doesn't look like an account number.")
    e.set_text("invalid", "he", "זה לא נראה כמו מספר חשבון.")
    return e


def expect(cond, what):
    if not cond:
        raise SystemExit("hybrid_conversation: expected " + what)


def run(model, lang="en", quiet=False):
    s = SCRIPT[lang]
    host = Host(quiet)
    t = 1795334400000  # Sunday 2026-11-22 08:00 UTC
    with build_engine(model, host) as e:
        def customer(text, dt):
            nonlocal t
            t += dt
            host.say("customer", text)
            e.customer_message("c1", text, customer="u17", channel="chat",
                               profile={"lang": lang, "tier": "gold"},
                               now=t)

        def agent(text, dt):
            nonlocal t
            t += dt
            e.reply("c1", "dana", text, now=t)  # on_send prints it

        # 1. the bot answers, recognises the intent and collects
        customer(s["hello"], 0)
        expect(e.conv_info("c1").state == "BOT", "the bot to answer")
        customer(s["bill"], 4000)
        expect(e.conv_info("c1").state == "COLLECT", "the bot to collect")
        customer(s["bad"], 6000)
        expect(e.conv_info("c1").fields == 0, "a bad value to be re-asked")
        customer(s["account"], 5000)
        # 2. handed off with the context; the router offered it to dana
        expect(len(host.offers) == 1 and host.offers[0][1] == "dana",
               "one offer to dana")
        ctx = host.offers[0][0]
        expect(ctx.reason == "COLLECTED" and ctx.queue == "billing" and
               ctx.fields == {"account": s["account"]},
               "the context to carry the collected account")
        expect(ctx.intent == "billing_question", "intent billing_question")
        # 3. dana accepts and talks to the customer
        t += 8000
        e.accept("c1", "dana", now=t)
        expect(e.conv_info("c1").state == "AGENT", "dana to have it")
        agent(s["agent_hi"], 15000)
        # 4. dana hands one step back to the bot: the host runs the action
        t += 20000
        e.step("c1", "dana", "send_invoice", {"month": "2026-10"}, now=t)
        expect(e.conv_info("c1").state == "BOTSTEP", "the bot step")
        conv, action, args, by = host.actions.pop()
        expect((action, args, by) == ("send_invoice", "month=2026-10",
                                      "dana"), "the step's action")
        t += 3000
        e.action_result(conv, True, s["sent"], now=t)
        expect(e.conv_info("c1").state == "AGENT", "dana to get it back")
        agent(s["agent_bye"], 30000)
        customer(s["thanks"], 20000)
        # 5. dana closes it resolved; the survey comes in afterwards
        t += 10000
        e.close_conversation("c1", "dana", resolved=True, now=t)
        expect(len(e) == 0, "the conversation to be over")
        t += 60000
        e.survey("c1", csat=5, nps=9, ces=6, now=t)
        k = e.kpis()
        d = e.kpis("agent", "dana")
        path = [x for x in host.states if x[0] == "c1"]
        if not quiet:
            print("\nstates: " + " -> ".join(
                [path[0][1]] + [x[2] for x in path]))
            print("journal: %d events, last: %s" % (
                len(host.journal), ", ".join(j.type for j in
                                             host.journal[-3:])))
            print("KPIs: %d contact, %d answered by an agent, ASA %.1f s, "
                  "AHT %.1f s, resolved %d, containment %.0f %%" % (
                      k.contacts, k.answered, k.asa_s, k.aht_s, k.resolved,
                      100 * k.containment))
            print("dana: CSAT %.1f (n=%d), NPS %+.0f, CES %.1f" % (
                d.csat_mean, d.csat_n, d.nps, d.ces_mean))
        expect((k.contacts, k.answered, k.resolved, k.escalated) ==
               (1, 1, 1, 1), "one escalated, answered, resolved contact")
        expect((d.csat_n, d.csat_mean) == (1, 5.0), "the survey on dana")
        expect([x[2] for x in path][-2:] == ["WRAPUP", "CLOSED"],
               "the conversation to end CLOSED")
        return host


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA,
                   help="directory with intents_en.tsv, intents_he.tsv, "
                        "intents_oos.tsv")
    p.add_argument("--lang", choices=sorted(SCRIPT), default="en")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    files = [os.path.join(a.data, f) for f in
             ("intents_en.tsv", "intents_he.tsv", "intents_oos.tsv")]
    with IntentModel.train_tsv(*files, oos_label="oos") as model:
        model.add_builtin_rules("talk_to_human", "emergency")
        run(model, a.lang, a.quiet)
    if not a.quiet:
        print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
