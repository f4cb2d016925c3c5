import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB

train = pd.read_csv('train.csv')
test = pd.read_csv('test.csv')

train_text, valid_text, train_y, valid_y = train_test_split(
    train['text'], train['label'], test_size=0.2, random_state=0)

# Bag of words with a small vocabulary
vectorizer = CountVectorizer(max_features=50)
X_train = vectorizer.fit_transform(train_text)
X_valid = vectorizer.transform(valid_text)

model = MultinomialNB()
model.fit(X_train, train_y)
print(f"Validation accuracy: {model.score(X_valid, valid_y):.4f}")

# Predict the test set and save the per class probabilities to submission.csv
probs = model.predict_proba(vectorizer.transform(test['text']))
submission = pd.DataFrame(probs, columns=[0, 1], index=test['idx'])
submission.index.name = 'idx'
submission.to_csv('submission.csv')
