"""The demo intent set as a test: train cr-intent on one language's training
half, evaluate on its held-out half, and check the accuracy is sensible.

Issue 3 asks for the Hebrew half of examples/data to stand in for the Hebrew
benchmark nobody has published; English runs alongside. Each language is
evaluated twice through the `cr-intent eval --json` contract:

  1. in scope only: intents_<lang>.tsv -> intents_<lang>_test.tsv;
  2. with out-of-scope: the training and test files plus that language's
     lines of intents_oos*.tsv, and a validation split taken out of the
     training file (every 5th line, examples/data/README.md) on which
     cr-intent chooses the out-of-scope threshold.

The floors are below what was measured when the set was written (see the
MEASURED table) by a margin for seed/solver noise, so a real regression in
the normaliser, features or trainer fails the test while a one-example
wobble does not. Run: test_demo_intents.py PATH/TO/cr-intent [DATA_DIR]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HEBREW = re.compile("[\u05d0-\u05ea]")

# Measured 2026-11-23 with cr-intent defaults (seed 1) on this machine:
# in-scope accuracy he 0.769, en 0.856 (test 1) when the set was written;
# with the defaults of the fourth round (docs/intent.md: first-word
# feature) he 0.843, en 0.875, and with oos and the val-chosen threshold
# (test 2) he 0.796 / 0.80, en 0.847 / 0.80 (in-scope / oos recall).
# A TF-IDF + LinearSVC (sklearn, word 1-2 + char_wb 2-5, C=1) gets
# he 0.810, en 0.875 on test 1.
FLOOR = {
    # lang: (in-scope accuracy only, in-scope acc. with oos, oos recall)
    "he": (0.70, 0.66, 0.60),
    "en": (0.78, 0.72, 0.60),
}
N_INTENTS = 27


def read(path):
    with open(path, encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line.strip()]


def write(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def is_lang(line, lang):
    hebrew = bool(HEBREW.search(line.partition("\t")[2]))
    return hebrew == (lang == "he")


def run_eval(tool, *args):
    cmd = [tool, "eval", *args, "--seed", "1", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        sys.exit("FAIL: %s exited %d\n%s" % (" ".join(cmd), res.returncode,
                                              res.stderr))
    return json.loads(res.stdout)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    return bool(cond)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tool = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "examples", "data")
    oos_train = read(os.path.join(data, "intents_oos.tsv"))
    oos_test = read(os.path.join(data, "intents_oos_test.tsv"))
    good = True
    with tempfile.TemporaryDirectory() as tmp:
        for lang in ("he", "en"):
            train_path = os.path.join(data, "intents_%s.tsv" % lang)
            test_path = os.path.join(data, "intents_%s_test.tsv" % lang)
            train, test = read(train_path), read(test_path)
            labels = {line.partition("\t")[0] for line in train}
            good &= check(len(labels) == N_INTENTS and
                          {line.partition("\t")[0] for line in test} == labels,
                          "%s: %d intents in train and test" % (lang,
                                                                len(labels)))

            r = run_eval(tool, "--train", train_path, "--test", test_path)
            print("%s in-scope: %s" % (lang, json.dumps(r)))
            good &= check(r["n_train"] == len(train) and
                          r["n_test"] == len(test) and
                          r["n_labels"] == N_INTENTS, "%s counts" % lang)
            good &= check(r["accuracy"] >= FLOOR[lang][0],
                          "%s held-out accuracy %.3f >= %.2f"
                          % (lang, r["accuracy"], FLOOR[lang][0]))
            ece = r.get("expected_calibration_error")
            good &= check(ece is not None and 0 <= ece <= 1,
                          "%s ECE %s in [0, 1]" % (lang, ece))

            # With out-of-scope rows and a threshold chosen on validation.
            fit = [l for i, l in enumerate(train, 1) if i % 5]
            val = [l for i, l in enumerate(train, 1) if i % 5 == 0]
            oos_tr = [l for l in oos_train if is_lang(l, lang)]
            oos_te = [l for l in oos_test if is_lang(l, lang)]
            oos_fit = [l for i, l in enumerate(oos_tr, 1) if i % 5]
            oos_val = [l for i, l in enumerate(oos_tr, 1) if i % 5 == 0]
            paths = {}
            for name, lines in (("train", fit + oos_fit), ("val", val + oos_val),
                                ("test", test + oos_te)):
                paths[name] = os.path.join(tmp, "%s_%s.tsv" % (lang, name))
                write(paths[name], lines)
            r = run_eval(tool, "--train", paths["train"], "--val", paths["val"],
                         "--test", paths["test"], "--oos-label", "oos")
            print("%s with oos: %s" % (lang, json.dumps(r)))
            good &= check(r["n_test"] == len(test) + len(oos_te),
                          "%s oos test rows counted" % lang)
            good &= check(0 <= r["threshold"] <= 1,
                          "%s threshold %.3f in [0, 1]" % (lang,
                                                           r["threshold"]))
            good &= check(r["in_scope_accuracy"] >= FLOOR[lang][1],
                          "%s in-scope accuracy with oos %.3f >= %.2f"
                          % (lang, r["in_scope_accuracy"], FLOOR[lang][1]))
            good &= check(r["oos_recall"] is not None and
                          r["oos_recall"] >= FLOOR[lang][2],
                          "%s out-of-scope recall %s >= %.2f"
                          % (lang, r["oos_recall"], FLOOR[lang][2]))
    # a refused command line names what it refused, then the usage (exit 2)
    for args, want in ((["train", "--bogus", "x"], "--bogus is unknown"),
                       (["predict", "--top", "2x"], "--top needs a number"),
                       (["eval", "--train"], "--train needs a value"),
                       (["frobnicate"], "unknown command frobnicate")):
        res = subprocess.run([tool, *args], capture_output=True, text=True)
        good &= check(res.returncode == 2 and want in res.stderr and
                      "usage:" in res.stderr, "%s: %r" % (args, want))
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
