# Reference solution for house-price-mini: gradient boosting on log(price) with all
# features, the neighbourhood one-hot encoded.
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

home_data = pd.read_csv('train.csv')
test_data = pd.read_csv('test.csv')
y = home_data.SalePrice


def featurize(df):
    X = df.drop(columns=['Id', 'SalePrice'], errors='ignore').copy()
    X['CentralAir'] = (X['CentralAir'] == 'Y').astype(int)
    X['LogLiv'] = np.log(X['GrLivArea'])
    X['LogLot'] = np.log(X['LotArea'])
    X = pd.get_dummies(X, columns=['Neighborhood'], dtype=int)
    return X


X = featurize(home_data)
test_X = featurize(test_data).reindex(columns=X.columns, fill_value=0)

train_X, valid_X, train_y, valid_y = train_test_split(X, y, random_state=1)


def make_model():
    return GradientBoostingRegressor(n_estimators=600, learning_rate=0.05, max_depth=3,
                                     subsample=0.8, random_state=0)


model = make_model().fit(train_X, np.log(train_y))
train_mae = mean_absolute_error(train_y, np.exp(model.predict(train_X)))
valid_mae = mean_absolute_error(valid_y, np.exp(model.predict(valid_X)))
print("Train MAE: {:,.0f}".format(train_mae))
print("Validation MAE: {:,.0f}".format(valid_mae))

model = make_model().fit(X, np.log(y))
test_preds = np.exp(model.predict(test_X))
output = pd.DataFrame({'Id': test_data.Id, 'SalePrice': test_preds})
output.to_csv('submission.csv', index=False)
