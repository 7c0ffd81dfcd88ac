#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
from pathlib import Path


def use_development_defaults_in_a_bare_checkout():
    """With no configuration at all (no DEBUG, no .env, no ENV_FILE), this is a developer's
    checkout: behave as `make run` and `make test` do. Any production setup sets DEBUG=false
    in the environment or in .env, and then this does nothing."""
    configured = "DEBUG" in os.environ or "ENV_FILE" in os.environ
    if not configured and not Path(__file__).with_name(".env").exists():
        os.environ["DEBUG"] = "true"


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homevisits.settings")
    use_development_defaults_in_a_bare_checkout()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
