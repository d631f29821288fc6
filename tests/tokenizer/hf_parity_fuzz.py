#!/usr/bin/env python3
"""Differential check of `fathom tokenize` against Hugging Face `tokenizers` on
random text: every Unicode general category, whitespace and digits of many
scripts, emoji sequences, fragments of special tokens, unassigned and private
code points. The shared test data fixes known texts; this looks for the rest
(regex-engine differences between PCRE2 and Oniguruma above all).

    pip install tokenizers
    python3 tests/tokenizer/hf_parity_fuzz.py --fathom build/bin/fathom [--count 20000] [--seed 1]
        [--inputs build-fuzz/corpus/tokenizer_round_trip ...]

--inputs adds the files of the given folders as texts (those that are UTF-8): the corpus a
libFuzzer run of tests/fuzz's tokenizer_round_trip target grew (tools/fuzz.sh), whose inputs
were kept for reaching new code of the tokenizer.

Prints the first mismatches (text, both id lists) and exits non-zero if any.

Known and tolerated: Debian 12's PCRE2 (10.42) has Unicode 14 tables, while the
Oniguruma inside recent `tokenizers` wheels knows Unicode 15/16. A character
assigned since Unicode 14 (e.g. CJK Extension H, Egyptian Hieroglyphs
Extended-A) is no letter to PCRE2, so text around it may split differently.
Such texts are counted apart (the check uses Python's own Unicode tables,
which must be version 14, i.e. Python 3.11, to classify them this way).
"""
import argparse
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import unicodedata

from tokenizers import Tokenizer

HERE = pathlib.Path(__file__).resolve().parent

# Small alphabets that exercise the DeepSeek pre-tokenizer's classes and edges.
ALPHABETS = [
    "abcXYZ", "0123456789", " ", "  ", "\t", "\n", "\r\n", "\r", "\x0b\x0c",
    "\u0085\u00a0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000",  # Unicode spaces and NEL
    "\u180e\u200b\u200c\u200d\u2060\ufeff",  # format characters that look like spaces
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "«»„“”‘’‹›—–…·•¡¿", "$€£¥₹¢", "+<=>|~¬±×÷∑√∞≈≠",
    "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳", "०१२३", "０１２３", "²³¹¼½¾", "ⅠⅡⅫⅰ", "〇一二三", "①②⑳",
    "一二深度求索龥龦", "ぁあゟ゠アヿ", "ｱｲｳ", "가나다", "ÀÉÎõüßæøåÿ", "ﬁﬂ", "АБВабв", "αβγΑΒΓ",
    "אבג", "ابت", "กขค", "अआक", "\u0301\u0308\u0327\u064b\u093f\u0e31",  # combining marks
    "😀🚀🔥👍🏽", "👨\u200d👩\u200d👧", "🇫🇷🇯🇵", "©®™", "\ue000\uf8ff", "\U000f0000",
    "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<｜", "｜>", "▁",
    "<think>", "</think>", "<|EOT|>", "<｜tool▁sep｜>",
]


def random_code_point(rng):
    while True:
        cp = rng.choice([rng.randrange(0x20, 0x250), rng.randrange(0x250, 0x3000), rng.randrange(0x3000, 0xD800),
                         rng.randrange(0xE000, 0x10000), rng.randrange(0x10000, 0x30000), rng.randrange(0, 0x20)])
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def random_text(rng):
    parts = []
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.15:
            parts.append("".join(random_code_point(rng) for _ in range(rng.randint(1, 4))))
        else:
            alphabet = rng.choice(ALPHABETS)
            if rng.random() < 0.3:
                parts.append(alphabet)
            else:
                parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
    return "".join(parts)


def input_texts(folders):
    """The UTF-8 files under `folders`, as texts; other files (fuzzed bytes) are skipped."""
    texts = []
    for folder in folders:
        for path in sorted(pathlib.Path(folder).rglob("*")):
            if not path.is_file():
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text:
                texts.append(text)
    if folders:
        print(f"{len(texts)} texts from {', '.join(folders)}")
    return texts


def run_fathom(args, command, lines):
    """Runs `fathom <command> --jsonl` over `lines` and returns its output lines, parsed."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        inputs = f.name
    try:
        result = subprocess.run([args.fathom, command, "--tokenizer", args.tokenizer, "--jsonl", inputs],
                                capture_output=True, text=True, check=False)
    finally:
        pathlib.Path(inputs).unlink()
    if result.returncode != 0:
        sys.exit(f"fathom {command} failed: {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fathom", required=True, help="the built fathom binary")
    parser.add_argument("--tokenizer", default=str(HERE.parents[2] / "shared/models/deepseek-v3-tokenizer"))
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--inputs", nargs="*", default=[], help="folders whose UTF-8 files are added as texts")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    texts = [random_text(rng) for _ in range(args.count)]
    texts += input_texts(args.inputs)
    hf = Tokenizer.from_file(str(pathlib.Path(args.tokenizer) / "tokenizer.json"))

    ours = [line["ids"] for line in run_fathom(args, "tokenize", [{"text": text} for text in texts])]

    mismatches = newer_unicode = 0
    for text, ids in zip(texts, ours):
        expected = hf.encode(text, add_special_tokens=False).ids
        if ids == expected:
            continue
        if any(unicodedata.category(c) == "Cn" for c in text):
            newer_unicode += 1
            continue
        mismatches += 1
        if mismatches <= 10:
            print(f"MISMATCH {text!r}\n  hf     {expected}\n  fathom {ids}")
    # Decoding: random id sequences, many of them ill-formed UTF-8 (lossy U+FFFD rules).
    id_lists = [[rng.randrange(hf.get_vocab_size(with_added_tokens=True)) for _ in range(rng.randint(1, 8))]
                for _ in range(args.count // 4)]
    decoded = run_fathom(args, "detokenize", [{"ids": ids} for ids in id_lists])
    decode_mismatches = 0
    for ids, line in zip(id_lists, decoded):
        expected = hf.decode(ids, skip_special_tokens=False)
        if line["text"] != expected:
            decode_mismatches += 1
            if decode_mismatches <= 10:
                print(f"DECODE MISMATCH {ids}\n  hf     {expected!r}\n  fathom {line['text']!r}")
    print(f"{len(id_lists) - decode_mismatches}/{len(id_lists)} random id lists decode identically")
    mismatches += decode_mismatches

    same = len(texts) - mismatches - newer_unicode
    print(f"{same}/{len(texts)} texts give identical ids (random ones of seed {args.seed} and any --inputs); "
          f"{newer_unicode} differ only around code points unassigned in Unicode {unicodedata.unidata_version}; "
          f"{mismatches} other mismatches")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
