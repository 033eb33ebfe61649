"""A Zuul-sized service (benchmark app): zuul's own locked requirements."""

import zuul


def main() -> None:
    print(zuul.__name__)
