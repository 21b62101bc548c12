"""Render Debian's colour emoji font into an image folder: a few thousand
real colour pictures anyone can get, for the --channels 3 demonstrations
(docs/sizes.md).

    sudo apt-get install fonts-noto-color-emoji
    python benchmarks/make_emoji.py ~/data/emoji

Each emoji the font draws as one picture becomes DIR/<group>/<codepoints>.png,
136x128 RGB on a white ground: the single code points of the emoji blocks,
the people among them in the five skin tones and as a woman or a man,
people at work (the profession sequences), and the flags (pairs of
regional indicators the font draws as a country's flag). Sequences the
font does not join (drawn as two pictures side by side, or as its flag of
no country) are left out. The groups
(the Unicode blocks, roughly) are the classes the evaluator learns.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
STRIKE = 109                  # the font's one bitmap size (CBDT)
GROUPS = {                    # group -> ranges of single code points
    "smileys": [(0x1F600, 0x1F64F)],
    "nature-objects": [(0x1F300, 0x1F5FF)],
    "transport": [(0x1F680, 0x1F6FF)],
    "supplemental": [(0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF)],
    "symbols": [(0x2600, 0x27BF), (0x2B00, 0x2BFF)],
}
SKIN_TONES = range(0x1F3FB, 0x1F400)
REGIONAL = range(0x1F1E6, 0x1F200)
ZWJ, VS16 = "\u200d", "\ufe0f"
GENDERS = ("\u2640", "\u2642")         # woman, man: "person running" -> "woman running"
PERSONS = ("\U0001F9D1", "\U0001F468", "\U0001F469")     # person, man, woman, for the jobs
JOBS = "\u2695\u2696\u2708\U0001F33E\U0001F373\U0001F393\U0001F3A4\U0001F3A8\U0001F3EB" \
       "\U0001F3ED\U0001F4BB\U0001F4BC\U0001F527\U0001F52C\U0001F680\U0001F692\U0001F9AF" \
       "\U0001F9BC\U0001F9BD\U0001F37C\U0001F384"


def render(font, text):
    """The RGB picture of `text` on white, or None when the font has no one
    picture for it (nothing drawn, or two pictures side by side)."""
    canvas = Image.new("RGBA", (STRIKE * 3, STRIKE * 2), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((4, 4), text, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None or box[2] - box[0] > 1.3 * 136:
        return None
    glyph = canvas.crop((4, 4, 4 + 136, 4 + 128))
    if np.asarray(glyph)[:, :, 3].max() < 128:
        return None
    white = Image.new("RGBA", glyph.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, glyph).convert("RGB")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("output", help="the folder to fill (must not exist)")
    args = ap.parse_args(argv)
    if os.path.exists(args.output):
        ap.error(f"{args.output} exists; choose a new folder")
    if not os.path.exists(FONT):
        ap.error(f"{FONT} is missing: sudo apt-get install fonts-noto-color-emoji")
    font = ImageFont.truetype(FONT, STRIKE)
    blank = np.asarray(render(font, "\U0010FFFD") or Image.new("RGB", (136, 128)))   # .notdef
    counts = {}

    def keep(group, text, picture):
        if picture is None or np.array_equal(np.asarray(picture), blank):
            return False
        folder = os.path.join(args.output, group)
        os.makedirs(folder, exist_ok=True)
        picture.save(os.path.join(folder, "-".join(f"{ord(c):x}" for c in text) + ".png"))
        counts[group] = counts.get(group, 0) + 1
        return True

    def keep_if_new(text, plain):
        """`text` into people/ when the font draws it as one picture other than `plain`."""
        picture = render(font, text)
        return (picture is not None and not np.array_equal(np.asarray(picture), plain)
                and keep("people", text, picture))

    for group, ranges in GROUPS.items():
        for start, stop in ranges:
            for code in range(start, stop + 1):
                if code in SKIN_TONES:
                    continue
                base = chr(code)
                if not keep(group, base, render(font, base)):
                    continue
                plain = np.asarray(render(font, base))
                tones = [chr(tone) for tone in SKIN_TONES          # people: the five skin tones
                         if keep_if_new(base + chr(tone), plain)]
                if tones:                                          # and as a woman, a man
                    for gender in GENDERS:
                        for tone in [""] + tones:
                            keep_if_new(base + tone + ZWJ + gender + VS16, plain)
    for person in PERSONS:                                         # at work
        for job in JOBS:
            for tone in [""] + [chr(t) for t in SKIN_TONES]:
                keep_if_new(person + tone + ZWJ + job + ("" if ord(job) > 0xFFFF else VS16),
                            np.asarray(render(font, person)))
    unknown = np.asarray(render(font, "\U0001F1E6\U0001F1E6"))   # "AA": the font's flag of no country
    for a in REGIONAL:
        for b in REGIONAL:
            flag = render(font, chr(a) + chr(b))
            if flag is not None and not np.array_equal(np.asarray(flag), unknown):
                keep("flags", chr(a) + chr(b), flag)
    for group, count in sorted(counts.items()):
        print(f"{group:16s} {count:5,}")
    print(f"{'all':16s} {sum(counts.values()):5,} pictures in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
