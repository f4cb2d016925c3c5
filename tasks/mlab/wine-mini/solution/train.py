# Reference solution for wine-mini: the measurements have very different scales, so the
# distance-based starter is dominated by proline and magnesium. Standardise, then fit a
# regularised logistic regression.
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv('train.csv')
test = pd.read_csv('test.csv')

features = [c for c in train.columns if c != 'cultivar']
X = train[features]
y = train['cultivar']

model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
scores = cross_val_score(model, X, y, cv=5)
print(f"Cross-validated accuracy: {scores.mean():.4f}")

model.fit(X, y)
submission = pd.DataFrame({'Id': test['Id'], 'cultivar': model.predict(test[features])})
submission.to_csv('submission.csv', index=False)
