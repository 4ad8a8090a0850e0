#!/usr/bin/env python3
"""Generate the benchmark source tree, deterministically.

    python3 Benchmarks/gen_tree.py OUT_DIR

Writes exactly FILES files (default 10,000) totalling about TOTAL bytes
(default 165,000,000) under OUT_DIR: 100 top folders of 100 files each, some of
them nested two and four levels deeper. About 75% of the bytes are text-like and
compressible (source code, log lines, JSON lines, built from a fixed vocabulary
with a seeded RNG), about 25% are incompressible random bytes. File sizes run
from a few bytes to a few MB. The same seed gives the same bytes, names, modes
and mtimes on every machine (Python's Mersenne Twister is stable across
versions for random(), getrandbits() and randbytes()).
"""

import math
import os
import random
import sys

SEED = 20240601
FILES = 10_000
TOP_DIRS = 100
TOTAL = 165_000_000
BINARY_SHARE = 0.25
MAX_SIZE = 4 * 1024 * 1024
FIXED_MTIME = 1_600_000_000

# Bump when the generator's output changes; layer.sh regenerates on mismatch.
VERSION = "1"


def make_vocabulary(rng):
    """A few thousand pseudo-words plus programming keywords, Zipf-weighted."""
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vi", "dor", "ex", "qui",
                 "pla", "nor", "tin", "bu", "ges", "al", "or", "han", "ze", "fu",
                 "stra", "con", "per", "ment", "ion", "ser", "vic", "dat", "ab", "ul"]
    words = set()
    while len(words) < 3000:
        n = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(syllables) for _ in range(n)))
    words = sorted(words)
    rng.shuffle(words)
    keywords = ["let", "var", "func", "return", "if", "else", "for", "in", "while",
                "struct", "class", "import", "self", "nil", "true", "false", "guard",
                "try", "throw", "case", "switch", "default", "public", "private",
                "static", "init", "String", "Int", "Data", "error", "value", "count",
                "name", "path", "size", "index", "result", "config", "request", "user"]
    vocab = keywords + words
    weights = [1.0 / (i + 1) ** 1.05 for i in range(len(vocab))]
    cum = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return vocab, cum


class TextGen:
    def __init__(self, rng, vocab, cum):
        self.rng = rng
        self.vocab = vocab
        self.cum = cum

    def words(self, k):
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=k)

    def code(self, size):
        rng = self.rng
        out = []
        n = 0
        depth = 0
        while n < size:
            w = self.words(rng.randint(2, 9))
            r = rng.random()
            ind = "    " * depth
            if r < 0.12:
                line = f"{ind}func {w[0]}({w[1]}: {w[-1].capitalize()}) -> {w[0].capitalize()} {{"
                depth = min(depth + 1, 5)
            elif r < 0.22 and depth > 0:
                depth -= 1
                line = "    " * depth + "}"
            elif r < 0.32:
                line = f"{ind}// {' '.join(w)}"
            elif r < 0.45:
                line = f"{ind}let {w[0]} = {w[1]}.{w[-1]}({rng.randint(0, 4096)})"
            elif r < 0.55:
                line = f"{ind}if {w[0]} == \"{' '.join(w[1:])}\" {{ return {w[-1]} }}"
            else:
                line = f"{ind}{w[0]}.{w[1]}({', '.join(w[2:])})"
            out.append(line)
            n += len(line) + 1
        return ("\n".join(out) + "\n").encode()

    def log(self, size):
        rng = self.rng
        out = []
        n = 0
        t = rng.randint(1_600_000_000, 1_700_000_000)
        levels = ["INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR"]
        while n < size:
            t += rng.randint(0, 3)
            ms = rng.randint(0, 999)
            hh, mm, ss = (t // 3600) % 24, (t // 60) % 60, t % 60
            w = self.words(rng.randint(3, 12))
            line = (f"2023-{(t // 86400) % 12 + 1:02d}-{(t // 3600) % 28 + 1:02d}T"
                    f"{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}Z {rng.choice(levels)} "
                    f"[{w[0]}-{rng.randint(1, 64)}] {' '.join(w[1:])} "
                    f"id={rng.getrandbits(32):08x} took={rng.randint(0, 5000)}ms")
            out.append(line)
            n += len(line) + 1
        return ("\n".join(out) + "\n").encode()

    def jsonl(self, size):
        rng = self.rng
        out = []
        n = 0
        while n < size:
            w = self.words(8)
            line = (f'{{"id": {rng.randint(1, 10**7)}, "{w[0]}": "{w[1]} {w[2]}", '
                    f'"{w[3]}": {rng.random() * 1000:.3f}, "tags": ["{w[4]}", "{w[5]}"], '
                    f'"{w[6]}": {str(rng.random() < 0.5).lower()}, "ref": "{w[7]}/{rng.getrandbits(24):06x}"}}')
            out.append(line)
            n += len(line) + 1
        return ("\n".join(out) + "\n").encode()


def plan_sizes(rng):
    """FILES sizes, log-normal, clipped to [1, MAX_SIZE], scaled to about TOTAL."""
    raw = [min(max(int(rng.lognormvariate(8.6, 1.6)), 1), MAX_SIZE) for _ in range(FILES)]
    # A handful of big files, as real trees have (bundles, archives, data dumps).
    for i in rng.sample(range(FILES), 24):
        raw[i] = rng.randint(1 * 1024 * 1024, MAX_SIZE)
    # Scale the small and medium files so the total lands near TOTAL.
    big = sum(s for s in raw if s >= 1024 * 1024)
    small = sum(s for s in raw if s < 1024 * 1024)
    factor = max((TOTAL - big) / small, 0.01)
    return [s if s >= 1024 * 1024 else max(1, int(s * factor)) for s in raw]


def plan_paths(rng):
    """100 top folders of 100 files each; some files two and four levels deeper."""
    paths = []
    for d in range(TOP_DIRS):
        top = f"pkg{d:02d}-{rng.choice(['core', 'web', 'data', 'tools', 'vendor', 'docs'])}"
        for f in range(FILES // TOP_DIRS):
            if f < 55:
                folder = top
            elif f < 85:
                folder = f"{top}/src/mod{f % 3}"
            else:
                folder = f"{top}/src/internal/deep/level{f % 2}"
            paths.append((folder, f"file{f:03d}"))
    return paths


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_tree.py OUT_DIR")
    out = sys.argv[1]
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"gen_tree.py: {out} exists and is not empty")
    rng = random.Random(SEED)
    vocab, cum = make_vocabulary(rng)
    text = TextGen(rng, vocab, cum)
    sizes = plan_sizes(rng)
    paths = plan_paths(rng)

    # Pick binary files in a seeded order until they hold BINARY_SHARE of the bytes.
    total = sum(sizes)
    order = list(range(FILES))
    rng.shuffle(order)
    binary = set()
    acc = 0
    for i in order:
        if acc >= total * BINARY_SHARE:
            break
        if acc + sizes[i] <= total * BINARY_SHARE * 1.02:
            binary.add(i)
            acc += sizes[i]

    text_kinds = [("swift", text.code), ("py", text.code), ("log", text.log),
                  ("jsonl", text.jsonl), ("txt", text.code)]
    bin_exts = ["bin", "png", "gz", "so"]
    made = set()
    written = 0
    for i, ((folder, stem), size) in enumerate(zip(paths, sizes)):
        if i in binary:
            name = f"{stem}.{rng.choice(bin_exts)}"
            data = rng.randbytes(size)
        else:
            ext, gen = text_kinds[rng.randrange(len(text_kinds))]
            name = f"{stem}.{ext}"
            data = gen(size)[:size]
        d = os.path.join(out, folder)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        p = os.path.join(d, name)
        with open(p, "wb") as fh:
            fh.write(data)
        os.chmod(p, 0o755 if name.endswith(".py") and i % 7 == 0 else 0o644)
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))
        written += size
    for d in sorted(made, key=len, reverse=True):
        while d != out and d.startswith(out):
            os.utime(d, (FIXED_MTIME, FIXED_MTIME))
            d = os.path.dirname(d)
    print(f"gen_tree: {FILES} files, {written} bytes "
          f"({sum(sizes[i] for i in binary) / written:.1%} random binary) in {out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
