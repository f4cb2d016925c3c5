# Reference solution for sentiment-mini. Two classic tricks on top of a linear model:
# - negation marking: the word right after a negator ("not", "never", "hardly", "far from",
#   "anything but") is rewritten NOT_<word>, so "not good" and "good" get separate weights;
# - contrast marking: words before ", but" are prefixed PRE_, since the verdict is the part
#   after "but".
# Then binary bag of words + logistic regression.
import re

import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

NEGATORS = ("not", "never", "hardly", "far from", "anything but")


def mark(text):
    text = text.lower().rstrip('.')
    for neg in NEGATORS:
        text = re.sub(r'\b%s (\w+)' % neg, r'NOT_\1', text)
    if ', but ' in text:
        before, after = text.split(', but ', 1)
        before = ' '.join('PRE_' + w for w in before.split())
        text = before + ' ' + after
    return text


def make_model():
    return make_pipeline(CountVectorizer(preprocessor=mark, token_pattern=r'[A-Za-z_]+',
                                         lowercase=False, binary=True),
                         LogisticRegression(C=1.0, max_iter=2000))


train = pd.read_csv('train.csv')
test = pd.read_csv('test.csv')

train_text, valid_text, train_y, valid_y = train_test_split(
    train['text'], train['label'], test_size=0.2, random_state=0)
model = make_model().fit(train_text, train_y)
print(f"Validation accuracy: {model.score(valid_text, valid_y):.4f}")

model = make_model().fit(train['text'], train['label'])
probs = model.predict_proba(test['text'])
submission = pd.DataFrame(probs, columns=[0, 1], index=test['idx'])
submission.index.name = 'idx'
submission.to_csv('submission.csv')
