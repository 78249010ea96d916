from labtools.imdb import load_imdb, get_word_index, DataUnavailableError
