#!/usr/bin/python3
"""Writes a corpus of raw messages with the dedup fingerprint Python gives each one.

    fingerprint_corpus.py --count N --seed S --out FILE

Each line of FILE is `<hex fingerprint>\t<base64 of the raw message bytes>`. The raw text is
written here token by token rather than with json.dumps, so it can hold what real producers
send: duplicate keys, \\u escapes, odd number spellings, irregular whitespace. The expected
fingerprint is computed from those exact bytes the way the reference DuplicateDetector does
it: json.loads, drop the volatile fields, json.dumps(sort_keys=True, default=str), SHA-256.

Every message is one JSON object that sluice's parser must accept (valid UTF-8, no NaN or
Infinity literals, no lone surrogate escapes, nesting well under 64 levels).
"""

import argparse
import base64
import hashlib
import json
import random
import sys

VOLATILE_MESSAGE_FIELDS = ("timestamp", "processed_at", "correlation_id", "sequence_number")
VOLATILE_PAYLOAD_FIELDS = ("timestamp", "received_at")


def python_fingerprint(raw):
    """The reference detector's fingerprint of the message whose bytes are `raw`."""
    message = json.loads(raw.decode("utf-8"))
    content = {k: v for k, v in message.items() if k not in VOLATILE_MESSAGE_FIELDS}
    if "payload" in content and isinstance(content["payload"], dict):
        content["payload"] = {k: v for k, v in content["payload"].items()
                              if k not in VOLATILE_PAYLOAD_FIELDS}
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Obj:
    """An object as written: a list of (key, value) pairs, so keys may repeat."""

    def __init__(self, pairs):
        self.pairs = list(pairs)


class Num:
    """A number written exactly as spelled."""

    def __init__(self, text):
        self.text = text


WORDS = ["invoice", "meeting", "hello", "order", "shipped", "refund", "status", "update",
         "please", "confirm", "tomorrow", "urgent", "thanks", "ticket", "delivery", "account"]
NON_ASCII = ["café", "résumé", "naïve", "Ærøskøbing", "Straße", "Ñandú", "ça va",
             "你好世界", "日本語のテキスト", "한국어", "مرحبا بالعالم", "שלום עולם", "Привет",
             "Ελληνικά", "हिन्दी", "ภาษาไทย", "e\u0301", "\u200bzero\u200dwidth",
             "\u2028line\u2029para", "\ufeffbom", "\uffff", "\ue000private"]
EMOJI = ["😀", "🎉", "👍🏽", "👨‍👩‍👧", "🇫🇷", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010ffff", "\U00010000", "🀄"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x09", "\x0a", "\x0b", "\x0c", "\x0d", "\x1b",
           "\x1f", "\x7f", "\x80", "\x9f", '"', "\\", "/", "</script>"]
ODD_KEYS = ["", " ", "ключ", "キー", "a\x00b", "é", "e", "z", "Z", "😀", "\ufb01", "\x7f",
            "key with spaces", "Timestamp", "timestamp ", "payload2", "_", "~", "\U0010ffff"]
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                 "\r": "\\r", "\t": "\\t"}


class RawWriter:
    def __init__(self, rng):
        self.rng = rng

    def ws(self):
        r = self.rng.random()
        if r < 0.7:
            return ""
        return self.rng.choice([" ", "  ", "\n", "\t", "\r\n", " \n\t ", "\n    "])

    def u_escape(self, unit):
        text = "\\u%04x" % unit
        return text.upper().replace("\\U", "\\u") if self.rng.random() < 0.3 else text

    def char(self, c):
        cp = ord(c)
        rng = self.rng
        if c in SHORT_ESCAPES:
            return SHORT_ESCAPES[c] if rng.random() < 0.7 else self.u_escape(cp)
        if cp < 0x20:
            return self.u_escape(cp)
        if c == "/":
            return "\\/" if rng.random() < 0.3 else "/"
        if cp < 0x7F:
            return self.u_escape(cp) if rng.random() < 0.02 else c
        if rng.random() < 0.6:
            return c  # raw UTF-8 (DEL too: JSON allows it unescaped)
        if cp >= 0x10000:
            v = cp - 0x10000
            return self.u_escape(0xD800 | (v >> 10)) + self.u_escape(0xDC00 | (v & 0x3FF))
        return self.u_escape(cp)

    def string(self, s):
        return '"' + "".join(self.char(c) for c in s) + '"'

    def value(self, v):
        if isinstance(v, Obj):
            if not v.pairs:
                return "{" + self.ws() + "}"
            items = [self.ws() + self.string(k) + self.ws() + ":" + self.ws() + self.value(x) + self.ws()
                     for k, x in v.pairs]
            return "{" + ",".join(items) + "}"
        if isinstance(v, list):
            if not v:
                return "[" + self.ws() + "]"
            return "[" + ",".join(self.ws() + self.value(x) + self.ws() for x in v) + "]"
        if isinstance(v, Num):
            return v.text
        if v is True:
            return "true"
        if v is False:
            return "false"
        if v is None:
            return "null"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return float_spelling(self.rng, v)
        if isinstance(v, str):
            return self.string(v)
        raise TypeError(type(v))

    def message(self, obj):
        return (self.ws() + self.value(obj) + self.ws()).encode("utf-8")


def float_spelling(rng, f):
    """A JSON spelling of float `f` (some spellings round, which is fine: the expectation is
    computed from the text)."""
    choices = [repr(f), "%.17g" % f, "%.17e" % f, "%e" % f, "%.3E" % f, repr(f).upper()]
    text = rng.choice(choices)
    if text.startswith(("inf", "-inf", "nan")):
        return repr(1.0)
    return text


SPECIAL_NUMBERS = [
    "0", "-0", "1", "-1", "100", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "18446744073709551615", "18446744073709551616",
    "-9223372036854775809", "123456789012345678901234567890", "-98765432109876543210987654321",
    "0.0", "-0.0", "-0e0", "0e-5", "1.0", "100.0", "100.000", "1e2", "1E2", "1e+2", "1.5e300",
    "1e16", "1e15", "9999999999999998", "9999999999999998.0", "1e-4", "1e-5", "0.0001",
    "0.00001", "0.000123", "5e-324", "4.9e-324", "2.2250738585072014e-308",
    "1.7976931348623157e308", "1e308", "1e22", "1e21", "0.1", "0.3333333333333333",
    "3.141592653589793238462643383279", "123456789.123456789123456789", "1e999", "-1e999",
    "1e400", "1e-999", "-1e-999", "2e-400", "12345678901234567890e-10",
    "0.000000000000000000000000000000000000001e350", "1" + "0" * 400 + "e-390",
    "7" * 320, "-" + "3" * 350, "1" + "0" * 330 + ".5", "1.0e+309", "1.7976931348623159e308",
    "9007199254740993", "9007199254740993.0", "-2.5E-7", "6.02214076e23", "1e-7",
]


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.writer = RawWriter(self.rng)

    def text(self, words=6):
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, words)):
            r = rng.random()
            if r < 0.6:
                parts.append(rng.choice(WORDS))
            elif r < 0.8:
                parts.append(rng.choice(NON_ASCII))
            elif r < 0.9:
                parts.append(rng.choice(EMOJI))
            else:
                parts.append(rng.choice(CONTROL))
        return " ".join(parts)

    def email(self):
        rng = self.rng
        user = rng.choice(["alice", "bob", "carol", "dave", "eve", "o'brien", "j.smith", "ops+alerts"])
        return "%s%d@%s" % (user, rng.randint(1, 999), rng.choice(["example.com", "mail.test", "corp.example"]))

    def timestamp(self):
        rng = self.rng
        text = "2026-%02d-%02dT%02d:%02d:%02d" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                                                 rng.randint(0, 59), rng.randint(0, 59))
        if rng.random() < 0.5:
            text += ".%03d" % rng.randint(0, 999)
        return text + rng.choice(["Z", "+00:00", "+05:30", "-08:00"])

    def uuid(self):
        return "%08x-%04x-4%03x-a%03x-%012x" % tuple(self.rng.getrandbits(b) for b in (32, 16, 12, 12, 48))

    def number(self):
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return Num(rng.choice(SPECIAL_NUMBERS))
        if r < 0.55:
            return rng.randint(-10 ** 6, 10 ** 6)
        if r < 0.65:
            return rng.choice([1, -1]) * rng.randint(2 ** 63, 10 ** rng.randint(20, 60))
        if r < 0.85:
            return rng.uniform(-1, 1) * 10.0 ** rng.randint(-330, 308)
        return round(rng.uniform(-1e6, 1e6), rng.randint(0, 6))

    def scalar(self):
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return self.text()
        if r < 0.75:
            return self.number()
        return rng.choice([True, False, None, "", "null", "true", "0"])

    def key(self):
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            return rng.choice(WORDS) + rng.choice(["", "_id", "_at", "Count", "2"])
        if r < 0.8:
            return rng.choice(ODD_KEYS)
        return self.text(2)

    def value(self, depth):
        rng = self.rng
        r = rng.random()
        if depth >= 6 or r < 0.6:
            return self.scalar()
        if r < 0.8:
            return self.obj(depth + 1, rng.randint(0, 6))
        return [self.value(depth + 1) for _ in range(rng.randint(0, 5))]

    def obj(self, depth, size):
        pairs = [(self.key(), self.value(depth)) for _ in range(size)]
        return Obj(self.with_duplicates(pairs, depth))

    def with_duplicates(self, pairs, depth):
        """Sometimes repeats a key with another value; json.loads keeps the last."""
        rng = self.rng
        if pairs and rng.random() < 0.25:
            for _ in range(rng.randint(1, 3)):
                key, _ = rng.choice(pairs)
                pairs.insert(rng.randint(0, len(pairs)), (key, self.value(depth + 1)))
        return pairs

    def volatile_top(self):
        rng = self.rng
        pairs = []
        if rng.random() < 0.8:
            pairs.append(("timestamp", self.timestamp() if rng.random() < 0.8 else self.number()))
        if rng.random() < 0.6:
            pairs.append(("correlation_id", self.uuid()))
        if rng.random() < 0.5:
            pairs.append(("sequence_number", rng.randint(0, 10 ** 9)))
        if rng.random() < 0.4:
            pairs.append(("processed_at", self.timestamp()))
        return pairs

    def envelope(self, channel, message_type, payload_pairs):
        rng = self.rng
        if rng.random() < 0.7:
            payload_pairs.append(("timestamp", self.timestamp()))
        if rng.random() < 0.3:
            payload_pairs.append(("received_at", self.timestamp()))
        if rng.random() < 0.3:
            payload_pairs.append(("metadata", self.obj(2, rng.randint(0, 4))))
        rng.shuffle(payload_pairs)
        pairs = [("channel", channel), ("message_type", message_type),
                 ("message_id", self.uuid()), ("payload", Obj(self.with_duplicates(payload_pairs, 2)))]
        pairs += self.volatile_top()
        if rng.random() < 0.3:
            pairs.append(("retry_count", rng.randint(0, 5)))
        if rng.random() < 0.3:
            pairs.append(("source", rng.choice(["imap", "webhook", "api", "replay"])))
        rng.shuffle(pairs)
        return Obj(self.with_duplicates(pairs, 1))

    def email_event(self):
        rng = self.rng
        payload = [("from_email", self.email()), ("to_email", self.email()),
                   ("subject", self.text(5)), ("body", self.text(30))]
        if rng.random() < 0.3:
            payload.append(("cc", [self.email() for _ in range(rng.randint(0, 3))]))
        if rng.random() < 0.3:
            payload.append(("attachments", [Obj([("name", self.text(1) + ".pdf"), ("size", rng.randint(0, 10 ** 7)),
                                                 ("score", self.number())]) for _ in range(rng.randint(0, 3))]))
        return self.envelope("email", "email_received", payload)

    def whatsapp_event(self):
        rng = self.rng
        payload = [("sender_id", "+%d" % rng.randint(10 ** 9, 10 ** 12)),
                   ("recipient_id", "+%d" % rng.randint(10 ** 9, 10 ** 12)),
                   ("message_text", self.text(20))]
        if rng.random() < 0.3:
            payload.append(("media", Obj([("type", rng.choice(["image", "audio", "video"])),
                                          ("duration", self.number()), ("caption", self.text(3))])))
        if rng.random() < 0.2:
            payload.append(("location", Obj([("lat", rng.uniform(-90, 90)), ("lon", rng.uniform(-180, 180))])))
        return self.envelope("whatsapp", "whatsapp_received", payload)

    def odd_message(self):
        """Anything goes: payload of another type or repeated, odd keys, deep values."""
        rng = self.rng
        pairs = [(self.key(), self.value(1)) for _ in range(rng.randint(0, 8))]
        r = rng.random()
        if r < 0.4:
            pairs.append(("payload", self.obj(1, rng.randint(0, 6))))
            if rng.random() < 0.5:
                pairs[-1][1].pairs += [("timestamp", self.scalar()), ("received_at", self.scalar())]
        elif r < 0.7:
            pairs.append(("payload", self.value(5)))
        elif r < 0.85:
            # Two payloads: only the last counts, and only it is stripped when an object.
            first = rng.choice([self.obj(1, 3), self.scalar()])
            last = rng.choice([Obj([("timestamp", self.timestamp()), ("x", self.scalar())]), self.scalar()])
            pairs += [("payload", first), ("payload", last)]
        pairs += self.volatile_top()
        if rng.random() < 0.2:
            pairs.append(("timestamp", self.scalar()))  # a repeated volatile field
        if rng.random() < 0.2:
            pairs.append(("nested", Obj([("timestamp", 1), ("correlation_id", "kept below the top level")])))
        rng.shuffle(pairs)
        return Obj(pairs)

    def message(self):
        r = self.rng.random()
        if r < 0.3:
            obj = self.email_event()
        elif r < 0.6:
            obj = self.whatsapp_event()
        else:
            obj = self.odd_message()
        return self.writer.message(obj)


def generate(count, seed):
    """[(raw bytes, expected hex)] for `count` messages; the same seed gives the same corpus."""
    generator = Generator(seed)
    corpus = []
    for _ in range(count):
        raw = generator.message()
        corpus.append((raw, python_fingerprint(raw)))
    return corpus


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w", encoding="ascii", newline="\n") as out:
        for raw, expected in generate(args.count, args.seed):
            out.write("%s\t%s\n" % (expected, base64.b64encode(raw).decode("ascii")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
