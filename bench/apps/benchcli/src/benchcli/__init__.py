"""A click + requests CLI (benchmark app)."""

import click
import requests


@click.command()
@click.argument("url")
def main(url: str) -> None:
    """Print the status of URL."""
    click.echo(requests.head(url, timeout=10).status_code)
