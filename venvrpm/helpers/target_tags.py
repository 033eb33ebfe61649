"""Print the wheel tags this interpreter accepts, best first, one a line, as the pip given as
the first argument (a directory holding pip) computes them. pip picks wheels by these tags, so
a pylock.toml's file chosen by them is one pip installs."""

import sys

sys.path.insert(0, sys.argv[1])

from pip._vendor.packaging.tags import sys_tags

sys.stdout.write("".join(f"{tag}\n" for tag in sys_tags()))
