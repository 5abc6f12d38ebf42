"""The command-line entry points: the click group in main.py (`glasscoder.cli.main:main`),
one module per command beside it."""
