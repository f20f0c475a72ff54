"""cr-chat driven from a pipe: scripted Hebrew and English sessions.

Usage: python3 test_cr_chat.py PATH/TO/cr-chat

Each test feeds a session on standard input and checks the lines a person
would look for: the intent the model found, the bot's answers, the
handoff with the context as the agent sees it, the agent's step handed
back to the bot, a VIP served before an earlier regular customer, the
clock (/wait) firing the maximum-wait escalation, and bad input refused
without ending the session.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

EXE = None
TMP = None
MODEL = None


def setUpModule():
    # Train the demo model once (the training path, checked here) and hand
    # the saved file to every session: fast under the sanitizers too.
    global TMP, MODEL
    TMP = tempfile.mkdtemp()
    MODEL = os.path.join(TMP, "demo.model")
    p = subprocess.run([EXE, "--save-model", MODEL], input="/quit\n",
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and os.path.getsize(MODEL) > 0, p.stderr


def tearDownModule():
    shutil.rmtree(TMP)


def chat(lines, *args):
    p = subprocess.run([EXE, "--model", MODEL, *args],
                       input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr))
    return p.stdout


class English(unittest.TestCase):
    def test_contained_by_self_service(self):
        out = chat(["I never got my invoice for October", "thanks, bye",
                    "/kpi"])
        self.assertRegex(out, r"ACTION +c1 BOT -> ACTION +intent="
                              r"invoice_copy \((0\.[5-9]\d|1\.00)\)")
        self.assertIn("host runs action send_invoice for c1", out)
        self.assertIn("ACTION_OK   c1 ACTION -> BOT", out)
        self.assertIn("bot [whatsapp]> Your last invoice is on its way", out)
        self.assertRegex(out, r"BOT_END +c1 BOT -> RESOLVED")
        self.assertIn("contained 1 (containment 100 %)", out)

    def test_quit_is_a_whole_word(self):
        # '/quitter' is not '/quit': the session goes on until '/quit'
        out = chat(["/quitter", "hello", "/quit", "I want a human"])
        self.assertIn("! unknown command /quitter", out)
        self.assertRegex(out, r"ANSWER +c1 BOT -> BOT +intent=greeting")
        self.assertNotIn("I want a human", out)

    def test_failed_action_escalates(self):
        out = chat(["/fail", "I forgot my password and can't log in"],
                   "--channel", "chat")
        self.assertIn("action reset_password FAILED", out)
        self.assertRegex(out, r"ACTION_FAIL +c1 ACTION -> QUEUED")
        self.assertIn("reason ACTION_FAILED", out)

    def test_unknown_command_and_missing_agent(self):
        out = chat(["/frobnicate", "agent> hello?", "/agent accept",
                    "/wait soon", "hello"])
        self.assertIn("! unknown command /frobnicate", out)
        self.assertIn("! no agent has c1", out)
        self.assertIn("! /wait SECONDS", out)
        # the session went on after the errors
        self.assertRegex(out, r"ANSWER +c1 BOT -> BOT +intent=greeting")


class Hebrew(unittest.TestCase):
    SESSION = [
        "/new whatsapp lang=he customer=u17",
        "חייבו אותי פעמיים החודש, יש לי שאלה על החשבון",
        "12345678",
        "/agent accept",
        "agent> שלום, אני רואה את החיוב הכפול",
        "/agent step send_invoice",
        "agent> שלחתי לך חשבונית מתוקנת",
        "/agent close",
        "/survey 5 9",
        "/kpi",
    ]

    def test_collect_handoff_step_back(self):
        out = chat(self.SESSION)
        # collected by the bot in Hebrew
        self.assertRegex(out, r"COLLECT +c2 BOT -> COLLECT +intent="
                              r"(billing_question|payment_failed)")
        self.assertIn("מה מספר החשבון שלך?", out)
        self.assertRegex(out, r"HANDOFF +c2 COLLECT -> QUEUED .*"
                              r"reason=COLLECTED +queue=billing")
        # the context as the agent sees it: Hebrew skill rule, field,
        # transcript in order
        ctx = out[out.index("+-- offer to agent dana: conversation c2"):]
        ctx = ctx[:ctx.index("+----")]
        self.assertIn("queue billing, priority 0, reason COLLECTED", ctx)
        self.assertIn("customer u17, language he, channel whatsapp", ctx)
        self.assertIn("field account_number = 12345678", ctx)
        lines = [l for l in ctx.splitlines() if l.startswith("  |   ")]
        self.assertEqual(len(lines), 5)
        self.assertIn("customer חייבו אותי פעמיים", lines[0])
        self.assertIn("customer 12345678", lines[3])
        # the agent takes it, hands one step to the bot, gets it back
        self.assertRegex(out, r"ACCEPT +c2 OFFERED -> AGENT .*agent=dana")
        self.assertIn("agent dana [whatsapp]> שלום, אני רואה את החיוב הכפול",
                      out)
        self.assertRegex(out, r"STEP +c2 AGENT -> BOTSTEP")
        self.assertIn("(a step handed to the bot by agent dana)", out)
        self.assertRegex(out, r"ACTION_OK +c2 BOTSTEP -> AGENT")
        self.assertIn("bot [whatsapp]> החשבונית האחרונה נשלחה", out)
        self.assertRegex(out, r"WRAPUP_END +c2 WRAPUP -> CLOSED")
        self.assertIn("survey recorded for c2", out)
        self.assertIn("answered 1", out)
        self.assertIn("CSAT 5.00 (n=1)", out)

    def test_human_request_any_time(self):
        out = chat(["/new whatsapp lang=he", "אני רוצה לדבר עם נציג"])
        self.assertRegex(out, r"HUMAN +c2 BOT -> QUEUED +intent="
                              r"talk_to_human \(1\.00\) +reason=REQUESTED")
        # Hebrew customers need an agent with he:3 (demo_bot.conf rule):
        # dana (he:5), not lee (no Hebrew)
        self.assertIn("offer to agent dana: conversation c2", out)


class Queueing(unittest.TestCase):
    def test_vip_jumps_the_queue(self):
        out = chat(["/agent dana away", "/agent omer away", "/agent lee away",
                    "I want to talk to a human",
                    "/vip", "אני רוצה לדבר עם נציג",
                    "/agent dana available",
                    "/agent dana accept", "/to c1", "/convs"],
                   "--capacity", "1")
        self.assertIn("c1 enters queue general, priority 0", out)
        self.assertIn("c2 enters queue vip, priority 50", out)
        offers = re.findall(r"OFFER +(c\d) QUEUED -> OFFERED", out)
        self.assertEqual(offers, ["c2"])  # c1 came first, c2 is served
        self.assertRegex(out, r"ACCEPT +c2 OFFERED -> AGENT .*agent=dana")
        self.assertRegex(out, r"\* c1 +customer u1 +whatsapp +QUEUED")

    def test_wait_fires_max_wait(self):
        out = chat(["/agent dana logout", "/agent omer logout",
                    "/agent lee logout", "I want to talk to a human",
                    "/wait 400"])
        self.assertRegex(out, r"\[10:05:\d\d\] MAXWAIT +c1 QUEUED -> QUEUED"
                              r" +reason=MAX_WAIT +queue=general "
                              r"+\"escalate\"")
        self.assertIn("!! ALERT", out)
        self.assertRegex(out, r"\[10:06:\d\d\] MAXWAIT .*\"maxwait\"")

    def test_auto_accept(self):
        out = chat(["/new chat lang=en", "I need to speak to a person",
                    "agent> Hi, this is Lee", "/agent close"],
                   "--auto-accept")
        self.assertRegex(out, r"agent \w+ accepts c2 \(auto\)")
        self.assertRegex(out, r"agent \w+ \[chat\]> Hi, this is Lee")
        self.assertRegex(out, r"CLOSE +c2 AGENT -> WRAPUP")


class BadInput(unittest.TestCase):
    def run_bytes(self, data):
        p = subprocess.run([EXE, "--model", MODEL], input=data,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(b"Sanitizer", p.stderr)
        self.assertNotIn(b"runtime error", p.stderr)
        return p.stdout.decode("utf-8")

    def test_empty_stdin(self):
        out = self.run_bytes(b"")
        self.assertIn("new conversation c1", out)
        self.assertIn("KPIs: no conversation has ended yet", out)

    def test_invalid_utf8_is_ignored_and_the_session_goes_on(self):
        out = self.run_bytes(b"\xff\xfe hello\n/agent \xc3\n"
                             b"I never got my invoice for October\n")
        self.assertEqual(out.count("! not UTF-8; ignored"), 2)
        self.assertIn("host runs action send_invoice for c1", out)

    def test_garbage_commands(self):
        out = self.run_bytes(
            "/new \"unterminated\n/agent dana frobnicate\n/agent\n"
            "/agent dana step\n/to\n/to c99\n/switch fax\n"
            "/survey x y\n/wait -1\n/\n".encode())
        self.assertIn("! unterminated string", out)
        self.assertIn("! /agent: unknown command frobnicate", out)
        self.assertIn("! /agent step: missing argument", out)
        self.assertIn("! /to CONV", out)
        self.assertIn("! no conversation c99", out)
        self.assertIn("! unknown channel fax", out)
        self.assertIn("! /wait SECONDS", out)


class Usage(unittest.TestCase):
    def test_bad_option(self):
        p = subprocess.run([EXE, "--capacity", "0"], input="",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--capacity", p.stderr)

    def test_missing_data(self):
        p = subprocess.run([EXE, "--data", "/nonexistent"], input="",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        p = subprocess.run([EXE, "--model", "/nonexistent.model"], input="",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("/nonexistent.model", p.stderr)


if __name__ == "__main__":
    EXE = sys.argv.pop(1)
    unittest.main(verbosity=2)
