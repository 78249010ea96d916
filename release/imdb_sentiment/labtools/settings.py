"""Where labtools finds its data: the course's settings where they are installed, else a laptop's.

On the course machine and in the grader's kernel `course_config` is importable and is used as is
(read at call time, so overriding its attributes works). A student running the release folder on
a laptop has labtools alone: the same environment variables apply, with defaults in the home folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

try:
    import course_config as config
except ModuleNotFoundError as error:
    if error.name != "course_config":
        raise
    config = SimpleNamespace(
        DATA_DIR=Path(os.environ.get("COURSE_DATA_DIR", Path.home() / "dl-course-data")),
        CACHE_DIR=Path(os.environ.get("COURSE_CACHE_DIR", Path.home() / ".cache" / "dl-course")),
        IMDB_ARCHIVE="aclImdb_v1_labeled.tar.gz",
        # "auto": Keras's download where there is internet, else the archives in DATA_DIR.
        IMDB_SOURCE=os.environ.get("COURSE_IMDB_SOURCE", "auto"),
        MNIST_SOURCE=os.environ.get("COURSE_MNIST_SOURCE", "auto"),
        KERAS_DOWNLOAD_TIMEOUT_S=20,
    )
