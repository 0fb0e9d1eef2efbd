"""Preprocessing: feature scaling, one-hot and label encoding in NumPy, the whole preprocessing a model is
saved with, and splits built on scikit-learn.

The scalers and the encoders are small and every model needs them, so they are written here in
NumPy and work without scikit-learn; their parameters, fitted attributes (``mean_``, ``scale_``,
``categories_``, ``classes_``, ...) and results are scikit-learn's (the tests compare them), so code
moves between the two unchanged. One difference: :class:`OneHotEncoder` always returns a dense array
(as scikit-learn's ``sparse_output=False``), since our layers take dense inputs.

:class:`Preprocessor` puts them together, as scikit-learn's ``ColumnTransformer`` of a scaler and a
one-hot encoder would, with the column names and class names of the training data; it is what
``nablanet.save(path, model, preprocessing=...)`` stores in a model file (as plain JSON: every fitted
transformer has ``to_dict`` and ``from_dict``), so that ``nablanet evaluate`` and ``predict`` prepare
new data as the training data were.

Splitting is what scikit-learn does well and NumPy code gets subtly wrong (stratification with
rare classes, fold sizes that differ by one), so :func:`train_val_test_split` and :func:`k_fold`
call ``sklearn.model_selection`` and need the ``data`` extra (``pip install 'nablanet[data]'``).

Every input is checked once, on the way in: a 2-D numeric array without NaN or infinity, with the
number of features the transformer was fitted on. Mistakes raise ``ValueError`` saying what was
expected and what was got; using a transformer before ``fit`` raises :class:`NotFittedError`.

The modules, in the order data flows through them: ``base.py`` (what the transformers share),
``scalers.py``, ``encoders.py``, ``preprocessor.py``, ``splits.py``.
"""

from nablanet.preprocessing.base import NotFittedError
from nablanet.preprocessing.encoders import LabelEncoder, OneHotEncoder
from nablanet.preprocessing.preprocessor import Preprocessor
from nablanet.preprocessing.scalers import MinMaxScaler, StandardScaler
from nablanet.preprocessing.splits import k_fold, train_val_test_split

__all__ = ["StandardScaler", "MinMaxScaler", "OneHotEncoder", "LabelEncoder", "Preprocessor", "NotFittedError",
           "train_val_test_split", "k_fold"]
