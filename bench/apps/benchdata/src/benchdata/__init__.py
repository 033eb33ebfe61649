"""A numpy + pandas tool (benchmark app)."""

import sys

import numpy
import pandas


def main() -> None:
    frame = pandas.DataFrame({"x": numpy.arange(int(sys.argv[1]) if len(sys.argv) > 1 else 10)})
    print(frame.describe())
