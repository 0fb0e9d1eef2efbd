"""The scikit-learn estimators' first import path: they live in nablanet.sklearn, re-exported here unchanged."""

from nablanet.sklearn import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor, Ridge

__all__ = ["MLPClassifier", "MLPRegressor", "LinearRegression", "Ridge", "LogisticRegression"]
