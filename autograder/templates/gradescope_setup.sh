#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (the zip is in /autograder/source).
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
/autograder/venv/bin/pip install --quiet --no-deps /autograder/source
