"""``python -m embrec``: the same as the ``embrec`` command."""

from embrec.cli import run

if __name__ == "__main__":
    run()
