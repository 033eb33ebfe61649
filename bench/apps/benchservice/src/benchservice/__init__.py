"""A Flask + gunicorn + SQLAlchemy + psycopg2 + pydantic service (benchmark app)."""

import flask
import pydantic
import sqlalchemy

app = flask.Flask(__name__)


class Item(pydantic.BaseModel):
    name: str


@app.get("/")
def index() -> dict[str, str]:
    return Item(name=sqlalchemy.__version__).model_dump()


def main() -> None:
    from gunicorn.app.wsgiapp import run

    run()
