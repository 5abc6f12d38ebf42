import os
import sys

# `python -m glasscoder` puts the working folder first on sys.path; it is usually the
# workspace, which sandboxed commands write, so nothing may be imported from it
# (sandbox/hostpaths.py). glasscoder itself is already imported by now.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from glasscoder.cli.main import main

main()
