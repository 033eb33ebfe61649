"""The venvrpm example application."""

import configparser
import sys

import click

CONFIG = "/etc/hello/hello.conf"


@click.command()
@click.option("--name", help="who to greet (default: from the config file)")
def main(name=None):
    """Greet someone, from a virtualenv shipped as an RPM."""
    config = configparser.ConfigParser()
    config.read(CONFIG)
    who = name or config.get("hello", "name", fallback="world")
    click.echo(f"Hello, {who}! (python {sys.version.split()[0]} at {sys.prefix})")
