#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the zip is unpacked in
# /autograder/source; the build has internet, grading need not). Any base image with apt works;
# Gradescope's default, Ubuntu 22.04, is the one documented (autograder/platforms/gradescope.py).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends "$@" > /dev/null; }
apt-get update -qq
# bwrap: the student kernel's sandbox; setpriv (util-linux): its unprivileged user.
apt_install bubblewrap util-linux ca-certificates

# requirements.txt is pinned for Python 3.11: the image's own (Debian 12), else the deadsnakes PPA
# (Ubuntu 22.04, 24.04), else a standalone build installed by uv, readable by the sandbox user.
python=python3.11
if ! apt_install python3.11 python3.11-venv 2> /dev/null; then
  if ! { apt_install software-properties-common gpg-agent && add-apt-repository -y ppa:deadsnakes/ppa > /dev/null &&
         apt-get update -qq && apt_install python3.11 python3.11-venv; }; then
    apt_install python3 python3-venv
    python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet uv
    export UV_PYTHON_INSTALL_DIR=/opt/python
    /opt/uv/bin/uv python install 3.11
    python=$(/opt/uv/bin/uv python find 3.11)
  fi
fi
$python -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --quiet --no-cache-dir -r "$SOURCE/requirements.txt"
# course_config and labtools are imported from the source folder (the kernel needs them); the
# grader is installed nowhere else, so the chmod below hides it from student code.
echo "$SOURCE" > "$("$ROOT/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dl_course.pth"

# The lab's data caches, built once here (the same settings as run_autograder's).
cd "$SOURCE"
COURSE_DATA_DIR="$SOURCE/data" COURSE_IMDB_SOURCE=archive COURSE_MNIST_SOURCE=archive \
  "$ROOT/venv/bin/python" -m autograder.platforms.gradescope prepare --assignment {assignment}

# Student code runs as another user: it may read course_config.py, labtools, the data and the
# caches (share_cache opened those), not the grader, its checks, the release or the calibration.
chmod 755 "$SOURCE"
chmod -R a+rX course_config.py labtools data
for folder in autograder {release} calibration; do
  [ ! -e "$folder" ] || chmod -R go-rwx "$folder"
done
