"""embrec: collaborative filtering on explicit ratings with neural networks."""

from embrec.data.idmap import IdMap
from embrec.data.ratings import RatingScale, Ratings
from embrec.errors import BundleError, ConfigError, DataError, EmbrecError, ModelError

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "ConfigError",
    "DataError",
    "EmbrecError",
    "IdMap",
    "ModelError",
    "RatingScale",
    "Ratings",
    "__version__",
]
