"""convroute.IntentModel / IntentTrainer / normalize over the demo intent set
(examples/data): every wrapped C function, its errors, save/load, rules and
the Hebrew talk-to-human path a live bot depends on."""
import gc
import os
import tempfile
import unittest

import convroute
from convroute import ConvrouteError, IntentMatch, IntentModel, IntentTrainer
from convroute.intent import read_tsv_pairs

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "..", "examples", "data")


def data(name):
    return os.path.join(DATA, name)


HE_TRAIN = list(read_tsv_pairs(data("intents_he.tsv")))
HE_TEST = list(read_tsv_pairs(data("intents_he_test.tsv")))
OOS_TRAIN = list(read_tsv_pairs(data("intents_oos.tsv")))
OOS_TEST = list(read_tsv_pairs(data("intents_oos_test.tsv")))


def hebrew(text):
    return any("\u05d0" <= ch <= "\u05ea" for ch in text)


HE_OOS_TRAIN = [r for r in OOS_TRAIN if hebrew(r[1])]
HE_OOS_TEST = [r for r in OOS_TEST if hebrew(r[1])]

# Asking for a human in Hebrew, none of them in the training file: the
# model alone must route them (the bot's most important intent).
HE_HUMAN = [
    "אפשר בבקשה לדבר עם נציג?",
    "תעבירי אותי לנציגה",
    "אני רוצה לדבר עם בן אדם אמיתי",
    "נמאס לי מהבוט, תנו לי לדבר עם מישהו",
    "לנציג שירות בבקשה",
]


def accuracy(model, rows):
    return sum(model.classify(t).label == l for l, t in rows) / len(rows)


class NormalizeTest(unittest.TestCase):
    def test_hebrew_and_latin(self):
        # niqqud stripped, final letters mapped, case folded, punctuation
        # and emoji are separators.
        self.assertEqual(convroute.normalize("שָׁלוֹם"),
                         convroute.normalize("שלום"))
        self.assertEqual(convroute.normalize("שלום"), "שלומ")
        self.assertEqual(convroute.normalize("WiFi לא עובד!! 🙁"),
                         "wifi לא עובד")
        self.assertEqual(convroute.normalize(""), "")
        self.assertEqual(convroute.normalize(b"Hello"), "hello")

    def test_invalid_utf8(self):
        for bad in (b"\xff", b"abc\xc3", b"\xed\xa0\x80", "\udc80"):
            with self.assertRaises(ConvrouteError) as cm:
                convroute.normalize(bad)
            self.assertEqual(cm.exception.name, "EUTF8")
        with self.assertRaises(TypeError):
            convroute.normalize(42)


class TrainerTest(unittest.TestCase):
    def test_add_count_errmsg(self):
        with IntentTrainer() as t:
            self.assertEqual(len(t), 0)
            self.assertEqual(t.errmsg, "")
            t.add("greeting", "hi")
            t.add("greeting", "")           # empty text is allowed
            t.add(b"thanks_goodbye", b"thanks")
            self.assertEqual(t.add_many([("a", "x"), ("b", "y")]), 2)
            self.assertEqual(len(t), 5)
            for label in ("", "bad\tlabel", "bad\nlabel", "x" * 256):
                with self.assertRaises(ConvrouteError) as cm:
                    t.add(label, "text")
                self.assertEqual(cm.exception.name, "EINVAL")
            with self.assertRaises(ConvrouteError) as cm:
                t.add("greeting", b"caf\xe9")
            self.assertEqual(cm.exception.name, "EUTF8")
            with self.assertRaises(ConvrouteError) as cm:
                t.add(b"\xff", "text")
            self.assertEqual(cm.exception.name, "EUTF8")
            self.assertEqual(len(t), 5)     # failed calls added nothing

    def test_add_tsv_path_bytes_and_bad_line(self):
        with IntentTrainer() as t:
            self.assertEqual(t.add_tsv(data("intents_he.tsv")), len(HE_TRAIN))
            self.assertEqual(t.add_tsv(b"greeting\thi\r\n\nthanks_goodbye\tbye\n"),
                             2)
            n = len(t)
            # All or nothing: line 3 has no TAB, so lines 1-2 are not added.
            with self.assertRaises(ConvrouteError) as cm:
                t.add_tsv(b"a\tone\nb\ttwo\nno tab here\n")
            self.assertIn("3", str(cm.exception))
            self.assertIn("3", t.errmsg)
            with self.assertRaises(ConvrouteError) as cm:
                t.add_tsv(b"a\tok\nb\t\xfe\xff\n")
            self.assertEqual(cm.exception.name, "EUTF8")
            self.assertEqual(len(t), n)
            with self.assertRaises(FileNotFoundError):
                t.add_tsv(data("no_such_file.tsv"))

    def test_options_and_ranges(self):
        with IntentTrainer() as t:
            t.configure(seed=7, hash_bits=16, word_ngrams=1,
                        char_ngrams=(2, 4), min_df=1, c=1.0,
                        solver=(100, 0.01), calibration=0.2, oos_label="oos")
            t.configure(char_ngrams=(0, 0), oos_label="")
            bad = [dict(hash_bits=11), dict(hash_bits=25), dict(word_ngrams=0),
                   dict(word_ngrams=4), dict(char_ngrams=(3, 2)),
                   dict(char_ngrams=(1, 9)), dict(min_df=0), dict(c=0.0),
                   dict(c=1e5), dict(solver=(0, 0.1)), dict(solver=(10, 2.0)),
                   dict(calibration=0.01), dict(calibration=0.9)]
            for opts in bad:
                with self.assertRaises(ConvrouteError, msg=opts) as cm:
                    t.configure(**opts)
                self.assertEqual(cm.exception.name, "ERANGE", opts)
            with self.assertRaises(ConvrouteError) as cm:
                t.configure(oos_label="o\to")
            self.assertEqual(cm.exception.name, "EINVAL")
            with self.assertRaises(ValueError):
                t.configure(seed=-1)
        with self.assertRaises(ConvrouteError):
            IntentTrainer(c=-1.0)           # bad option in the constructor

    def test_empty_training_set(self):
        with IntentTrainer() as t:
            with self.assertRaises(ConvrouteError) as cm:
                t.train()
            self.assertEqual(cm.exception.name, "ENODATA")
        with self.assertRaises(ConvrouteError) as cm:
            IntentModel.train([])
        self.assertEqual(cm.exception.name, "ENODATA")

    def test_single_label(self):
        with IntentModel.train([("greeting", "hi"), ("greeting", "hello")]) as m:
            best = m.classify("something else entirely")
            self.assertEqual(best.label, "greeting")
            self.assertAlmostEqual(best.confidence, 1.0)
            m.threshold = 1.0
            self.assertEqual(m.classify("hi").label, "greeting")

    def test_same_seed_same_model(self):
        rows = HE_TRAIN[:200]
        with IntentModel.train(rows, seed=3) as a, \
                IntentModel.train(rows, seed=3) as b:
            self.assertEqual(a.save(), b.save())

    def test_closed(self):
        t = IntentTrainer()
        t.close()
        t.close()                           # idempotent
        for call in (lambda: t.add("a", "b"), lambda: len(t), t.train,
                     lambda: t.errmsg):
            with self.assertRaises(ValueError):
                call()


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = IntentModel.train(HE_TRAIN + HE_OOS_TRAIN,
                                      oos_label="oos", seed=1)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_labels(self):
        m = self.model
        labels = m.labels
        self.assertEqual(len(labels), 28)
        self.assertEqual(len(m), 28)
        self.assertEqual(labels[0], HE_TRAIN[0][0])  # first-seen order
        self.assertIn("talk_to_human", labels)
        self.assertEqual(m.oos_label, "oos")
        with IntentModel.train([("a", "x"), ("b", "y")]) as plain:
            self.assertIsNone(plain.oos_label)
        self.assertGreater(m.temperature, 0)
        self.assertIn("28 labels", repr(m))

    def test_predict_topk(self):
        m = self.model
        out = m.predict("שכחתי את הסיסמה לאפליקציה", k=5)
        self.assertEqual(len(out), 5)
        self.assertIsInstance(out[0], IntentMatch)
        self.assertEqual(out[0].label, "password_reset")
        self.assertFalse(out[0].out_of_scope)
        self.assertFalse(out[0].from_rule)
        confs = [x.confidence for x in out]
        self.assertEqual(confs, sorted(confs, reverse=True))
        self.assertLessEqual(sum(confs), 1.0 + 1e-9)
        self.assertTrue(all(m.labels[x.label_index] == x.label for x in out))
        self.assertEqual(len({x.label for x in out}), 5)
        self.assertEqual(m.predict("hi", k=0), [])
        self.assertEqual(len(m.predict("hi", k=100)), 28)  # capped
        self.assertEqual(m("שלום", 2), m.predict("שלום", 2))
        self.assertEqual(len(m.predict("")), 3)             # empty is fine
        self.assertEqual(len(m.predict("x" * 100000, k=1)), 1)
        with self.assertRaises(ValueError):
            m.predict("hi", k=-1)

    def test_predict_invalid_utf8(self):
        before = self.model.predict("איפה החבילה שלי")
        for bad in (b"\xc3\x28", b"\xf8\x88\x80\x80\x80", "\ud800x"):
            with self.assertRaises(ConvrouteError) as cm:
                self.model.predict(bad)
            self.assertEqual(cm.exception.name, "EUTF8")
        self.assertEqual(self.model.predict("איפה החבילה שלי"), before)

    def test_hebrew_held_out(self):
        # Defaults of the library; the floor is below the measured value
        # (0.769 with min_df 2 at the time of writing) by a noise margin.
        with IntentModel.train(HE_TRAIN, seed=1) as m:
            self.assertGreaterEqual(accuracy(m, HE_TEST), 0.70)
        # min_df=1 was better on the validation split (every 5th training
        # line) for a set this small: 0.742 vs 0.715 on val, 0.806 on test.
        with IntentModel.train(HE_TRAIN, seed=1, min_df=1) as m:
            self.assertGreaterEqual(accuracy(m, HE_TEST), 0.74)

    def test_hebrew_talk_to_human_model(self):
        for text in HE_HUMAN:
            self.assertEqual(self.model.classify(text).label, "talk_to_human",
                             text)

    def test_rules(self):
        with IntentModel.load(self.model.save()) as m:
            self.assertEqual(m.rule_count, 0)
            added = m.add_builtin_rules(human_label="talk_to_human",
                                        emergency_label="emergency")
            self.assertGreater(added, 10)
            self.assertEqual(m.rule_count, added)
            for text in HE_HUMAN[:2] + ["representative please"]:
                best = m.classify(text)
                self.assertEqual(best.label, "talk_to_human", text)
                self.assertTrue(best.from_rule, text)
                self.assertEqual(best.confidence, 1.0)
                self.assertEqual(best.score, 0.0)
            # A custom rule, with a label the model was never trained on.
            idx = m.add_rule("sim_swap", "החליפו לי את הסים", priority=300)
            self.assertEqual(idx, added)
            self.assertEqual(m.rule_count, added + 1)
            self.assertIn("sim_swap", m.labels)
            out = m.predict("ומישהו החליפו לי את הסים אתמול", k=3)
            self.assertEqual((out[0].label, out[0].rule), ("sim_swap", idx))
            self.assertNotIn("sim_swap", [x.label for x in out[1:]])
            with self.assertRaises(ConvrouteError) as cm:
                m.add_rule("x", "!!! ...")          # no words
            self.assertEqual(cm.exception.name, "EINVAL")
            with self.assertRaises(ConvrouteError) as cm:
                m.add_rule("", "hello")
            self.assertEqual(cm.exception.name, "EINVAL")
            self.assertEqual(m.rule_count, added + 1)
            # Rules travel with the saved model.
            with IntentModel.load(m.save()) as again:
                self.assertEqual(again.rule_count, added + 1)
                self.assertEqual(again.classify("החליפו לי את הסים").label,
                                 "sim_swap")
        with IntentModel.load(self.model.save()) as m:
            self.assertEqual(m.add_builtin_rules(None, "emergency") +
                             m.add_builtin_rules("talk_to_human", None),
                             m.rule_count)

    def test_threshold(self):
        with IntentModel.load(self.model.save()) as m:
            self.assertEqual(m.threshold, 0.0)
            m.threshold = 0.5
            self.assertEqual(m.threshold, 0.5)
            for bad in (-0.1, 1.5, float("nan")):
                with self.assertRaises(ConvrouteError) as cm:
                    m.threshold = bad
                self.assertEqual(cm.exception.name, "ERANGE")
            self.assertEqual(m.threshold, 0.5)
            m.threshold = 1.0
            self.assertTrue(m.classify("שכחתי את הסיסמה").out_of_scope)
            # An out-of-scope example is flagged by the oos class.
            m.threshold = 0.0
            self.assertTrue(m.classify("מי זכה בליגה בשנה שעברה").out_of_scope)

    def test_tune_threshold(self):
        val = HE_TEST[::2] + HE_OOS_TEST[::2]
        with IntentModel.load(self.model.save()) as m:
            t = m.tune_threshold(val)
            self.assertTrue(0.0 <= t <= 1.0)
            self.assertEqual(m.threshold, t)
            blob = "".join("%s\t%s\n" % r for r in val).encode()
            self.assertEqual(m.tune_threshold(blob), t)
            with tempfile.NamedTemporaryFile("wb", suffix=".tsv",
                                             delete=False) as f:
                f.write(blob)
            try:
                self.assertEqual(m.tune_threshold(f.name), t)
            finally:
                os.unlink(f.name)
            # Only in-scope rows: nothing to balance against.
            with self.assertRaises(ConvrouteError) as cm:
                m.tune_threshold(HE_TEST[:20])
            self.assertEqual(cm.exception.name, "ENODATA")
            with self.assertRaises(ConvrouteError) as cm:
                m.tune_threshold([("bad\tlabel", "x")])
            self.assertEqual(cm.exception.name, "EINVAL")
            with self.assertRaises(ConvrouteError) as cm:
                m.tune_threshold(b"password_reset\tok\nno tab\n")
            self.assertIn("line 2", str(cm.exception))
            self.assertIn("line 2", m.errmsg)
            self.assertEqual(m.threshold, t)          # failures changed nothing
            # A later error must not carry that stale message along.
            with self.assertRaises(ConvrouteError) as cm:
                m.predict(b"\xff")
            self.assertNotIn("line 2", str(cm.exception))
            m.add_rule("talk_to_human", "נציג")       # resets the message
            self.assertEqual(m.errmsg, "")

    def test_save_load_round_trip(self):
        blob = self.model.save()
        self.assertIsInstance(blob, bytes)
        with IntentModel.load(blob) as m:
            self.assertEqual(m.labels, self.model.labels)
            self.assertEqual(m.temperature, self.model.temperature)
            for _, text in HE_TEST + HE_OOS_TEST:
                # dataclass equality: labels, confidences, scores bit-equal
                self.assertEqual(m.predict(text, 5),
                                 self.model.predict(text, 5), text)
            self.assertEqual(m.save(), blob)
        with IntentModel.load(bytearray(blob)) as m:
            self.assertEqual(len(m), 28)

    def test_load_corrupt(self):
        blob = self.model.save()
        for bad in (b"", blob[:10], blob[:-1], blob[:len(blob) // 2],
                    b"\0" * 64):
            with self.assertRaises(ConvrouteError) as cm:
                IntentModel.load(bad)
            self.assertEqual(cm.exception.name, "ECORRUPT")
        flipped = bytearray(blob)
        flipped[len(blob) // 2] ^= 0x40
        with self.assertRaises(ConvrouteError) as cm:
            IntentModel.load(flipped)
        self.assertEqual(cm.exception.name, "ECORRUPT")

    def test_close_and_context(self):
        m = IntentModel.load(self.model.save())
        with m as same:
            self.assertIs(same, m)
            self.assertFalse(m.closed)
        self.assertTrue(m.closed)
        m.close()                                   # idempotent
        self.assertIn("closed", repr(m))
        for call in (lambda: m.predict("hi"), lambda: m.labels, m.save,
                     lambda: m.threshold, lambda: m.add_rule("a", "b")):
            with self.assertRaises(ValueError):
                call()
        with self.assertRaises(TypeError):
            IntentModel()
        # Dropping models without close() frees them (no crash, no leak of
        # handles under repeated use).
        for _ in range(20):
            IntentModel.load(self.model.save())
        gc.collect()

    def test_train_tsv_many_sources(self):
        with open(data("intents_oos.tsv"), "rb") as f:
            oos = f.read()
        with IntentModel.train_tsv(data("intents_he.tsv"), oos,
                                   oos_label="oos", seed=1) as m:
            self.assertEqual(len(m), 28)
            self.assertTrue(m.classify("מה מזג האוויר מחר").out_of_scope)


if __name__ == "__main__":
    unittest.main()
