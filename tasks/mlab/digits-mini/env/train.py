import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

# Load the data
train = pd.read_csv('data/train.csv')
test = pd.read_csv('data/test.csv')
pixel_cols = [c for c in train.columns if c.startswith('p')]
X = train[pixel_cols].to_numpy(dtype=float)
y = train['label'].to_numpy()

# Hold out part of the training data to measure progress
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.2, random_state=0)

# Define the model
model = DecisionTreeClassifier(max_depth=6, random_state=0)
model.fit(X_train, y_train)
print(f"Train accuracy: {model.score(X_train, y_train):.4f}")
print(f"Validation accuracy: {model.score(X_valid, y_valid):.4f}")

# Refit on all the training data and predict the test set
model.fit(X, y)
probs = model.predict_proba(test[pixel_cols].to_numpy(dtype=float))

# Save the per class probabilities for the test set to submission.csv
submission = pd.DataFrame(probs, columns=list(range(10)), index=test['Id'])
submission.index.name = 'Id'
submission.to_csv('submission.csv')
