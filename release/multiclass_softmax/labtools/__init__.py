"""Student-side helpers for the course's labs: data loaders that work offline."""

from labtools.imdb import get_word_index, load_imdb
from labtools.mnist import load_mnist
from labtools.sources import DataUnavailableError

__all__ = ["DataUnavailableError", "get_word_index", "load_imdb", "load_mnist"]
