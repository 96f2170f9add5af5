"""``python -m sweep`` and the ``sweep`` console script: a Ctrl-C even during the imports
(numba, pyarrow: a second or two) ends with one line and exit code 130, never a traceback."""
import sys


def main() -> None:
    try:
        from sweep.cli import entrypoint
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    entrypoint()


if __name__ == "__main__":
    main()
