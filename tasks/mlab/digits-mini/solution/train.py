# Reference solution for digits-mini: RBF support vector machine on scaled pixels.
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

train = pd.read_csv('data/train.csv')
test = pd.read_csv('data/test.csv')
pixel_cols = [c for c in train.columns if c.startswith('p')]
X = train[pixel_cols].to_numpy(dtype=float) / 16.0
y = train['label'].to_numpy()

X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.2, random_state=0)
model = SVC(C=10, gamma=0.02 * 16 ** 2 / 64, probability=True, random_state=0)
model.fit(X_train, y_train)
print(f"Validation accuracy: {model.score(X_valid, y_valid):.4f}")

model.fit(X, y)
probs = model.predict_proba(test[pixel_cols].to_numpy(dtype=float) / 16.0)
submission = pd.DataFrame(probs, columns=list(range(10)), index=test['Id'])
submission.index.name = 'Id'
submission.to_csv('submission.csv')
