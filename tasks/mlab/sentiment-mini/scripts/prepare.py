"""Prepare the sentiment-mini task (deterministic, offline).

Builds short movie-review sentences from fixed templates and word lists. Each review
has a sentiment word that may be negated ("not", "never", "hardly"), contrasted
("... but ...") or softened, so a bag of single words only gets part of the way.
Training labels carry 6 % label noise; the hidden test labels are clean.
Run with cwd = scripts/. Writes ../env/train.csv (idx,text,label),
../env/test.csv (idx,text), scripts/answer.csv (idx,label) and scripts/prepared.
"""
import csv
import os

import numpy as np

SEED = 31337
N_TRAIN = 2000
N_TEST = 600
LABEL_NOISE = 0.06

POS = ["good", "great", "superb", "wonderful", "brilliant", "moving", "charming",
       "delightful", "gripping", "clever", "beautiful", "funny", "touching", "fresh",
       "engaging", "stunning", "memorable", "enjoyable", "solid", "witty", "powerful",
       "heartfelt", "thrilling", "elegant", "smart", "warm", "inventive", "excellent"]
NEG = ["bad", "awful", "boring", "dull", "terrible", "clumsy", "tedious", "bland",
       "predictable", "weak", "messy", "painful", "lifeless", "forgettable", "silly",
       "annoying", "shallow", "flat", "poor", "pointless", "stale", "slow", "tiresome",
       "confusing", "dreadful", "cheap", "hollow", "mediocre"]
NOUNS = ["movie", "film", "plot", "script", "story", "acting", "cast", "soundtrack",
         "ending", "dialogue", "direction", "pacing", "sequel", "premise", "lead actor",
         "cinematography", "screenplay", "finale", "villain", "humour"]
NEGATORS = ["not", "never", "hardly", "far from", "anything but"]
INTENS = ["", "", "", "really ", "certainly ", "just ", "simply ", "definitely "]
OPENERS = ["", "", "", "honestly, ", "to be fair, ", "overall, ", "in my opinion, ",
           "i have to say ", "frankly, ", "all in all, "]
FILLERS = ["", "", "", " from start to finish", " for most of its running time",
           " in every scene", " if you ask me", " for a sunday afternoon",
           " compared to the book", " by any standard"]


def clause(rng, noun, polarity):
    """A clause about `noun` whose meaning has the given polarity (+1 or -1)."""
    negated = rng.rand() < 0.4
    word_pol = -polarity if negated else polarity
    word = (POS if word_pol > 0 else NEG)[rng.randint(len(POS))]
    inten = INTENS[rng.randint(len(INTENS))]
    verb = "is" if rng.rand() < 0.5 else "was"
    if negated:
        neg = NEGATORS[rng.randint(len(NEGATORS))]
        return "the %s %s %s%s %s" % (noun, verb, inten, neg, word)
    return "the %s %s %s%s" % (noun, verb, inten, word)


def review(rng):
    label = int(rng.rand() < 0.5)
    pol = 1 if label else -1
    nouns = rng.choice(len(NOUNS), 2, replace=False)
    opener = OPENERS[rng.randint(len(OPENERS))]
    filler = FILLERS[rng.randint(len(FILLERS))]
    main = clause(rng, NOUNS[nouns[0]], pol)
    r = rng.rand()
    if r < 0.35:
        # contrast: a minor clause with the opposite meaning, then the main verdict
        text = "%s%s, but %s%s" % (opener, clause(rng, NOUNS[nouns[1]], -pol), main, filler)
    elif r < 0.55:
        text = "%s%s%s and %s" % (opener, main, filler, clause(rng, NOUNS[nouns[1]], pol))
    else:
        text = "%s%s%s" % (opener, main, filler)
    return text + ".", label


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.path.join(here, "..", "env")
    rng = np.random.RandomState(SEED)
    data = [review(rng) for _ in range(N_TRAIN + N_TEST)]
    noisy = rng.rand(N_TRAIN) < LABEL_NOISE
    train = [[i, t, (1 - l) if noisy[i] else l] for i, (t, l) in enumerate(data[:N_TRAIN])]
    test = [[i, t, l] for i, (t, l) in enumerate(data[N_TRAIN:])]
    write_csv(os.path.join(env, "train.csv"), ["idx", "text", "label"], train)
    write_csv(os.path.join(env, "test.csv"), ["idx", "text"], [r[:2] for r in test])
    write_csv(os.path.join(here, "answer.csv"), ["idx", "label"], [[r[0], r[2]] for r in test])
    with open(os.path.join(here, "prepared"), "w") as fh:
        fh.write("success")


if __name__ == "__main__":
    main()
