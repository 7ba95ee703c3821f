"""The image's lock: requirements.lock without the blocks of the packages named in
not-shipped.txt (one name a line; `#` starts a comment). Run inside the build."""

import re
import sys

lock, skipped, out = sys.argv[1:4]
skip = {line.split("#")[0].strip().lower() for line in open(skipped)} - {""}
blocks = re.split(r"\n(?=\S)", open(lock).read())
kept = [b for b in blocks if b.split("==")[0].strip().lower() not in skip]
open(out, "w").write("\n".join(kept) + "\n")
