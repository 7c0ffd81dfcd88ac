"""Production settings: `check --deploy` passes, and a bad environment fails loudly at start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "kq8v3Zp0rN7sT2wX5yB9cE4fH6jL1mQ8uA3dG7kP0sV2xZ5bN9eR4tW6yC1hJ3mL",
    "ALLOWED_HOSTS": "homevisits.example.org",
    "SITE_URL": "https://homevisits.example.org",
    "ENV_FILE": "/nonexistent/.env",
}


# Test-only switches that a production environment never has.
NEVER_IN_PRODUCTION = {"DJANGO_ALLOW_ASYNC_UNSAFE"}


def manage(*args, env_overrides, drop=()):
    unwanted = {*drop, *PRODUCTION_ENV, *NEVER_IN_PRODUCTION}
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_at_warning_level():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL"])
def test_production_start_fails_naming_a_missing_required_variable(variable):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != variable}
    result = manage("check", env_overrides=env, drop=[variable])
    assert result.returncode != 0
    assert f"{variable} must be set when DEBUG is off" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = manage("check", env_overrides={**PRODUCTION_ENV, "SECRET_KEY": "too-short"})
    assert result.returncode != 0
    assert "SECRET_KEY must be a random value of at least 50 characters" in result.stderr


def test_a_malformed_database_url_fails_naming_the_variable():
    result = manage("check", env_overrides={**PRODUCTION_ENV, "DATABASE_URL": "nonsense"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_notify_backend_without_an_api_key_fails_naming_the_key():
    result = manage(
        "check",
        env_overrides={**PRODUCTION_ENV, "NOTIFICATION_BACKEND": "notify"},
        drop=["NOTIFY_API_KEY"],
    )
    assert result.returncode != 0
    assert "NOTIFY_API_KEY must be set" in result.stderr


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    import re

    read = set(
        re.findall(
            r'env\.(?:str|int|bool|list|float|db)\(\s*"([A-Z_]+)"',
            (PROJECT_DIR / "homevisits" / "settings.py").read_text(),
        )
    )
    documented = set(
        re.findall(r"^#? ?([A-Z_]+)=", (PROJECT_DIR / ".env.example").read_text(), re.M)
    )
    assert read, "the settings read nothing from the environment?"
    assert read - documented == set()


def test_a_bare_checkout_runs_manage_py_with_development_defaults():
    if (PROJECT_DIR / ".env").exists():
        pytest.skip("this checkout has a .env, so it is configured on purpose")
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ENV_FILE", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def site_url_of_a_process_started_by_make(*make_args, env_overrides=None):
    """SITE_URL as a process of `make run` reads it. Honcho gives each process its own PORT
    (web 8000, worker 8100, beat 8200), so the process here gets a PORT of its own too."""
    show = (
        f"@PORT=$$(( $(PORT) + 200 )) {sys.executable} -c "
        "'import homevisits.settings as s; print(s.SITE_URL)'"
    )
    unwanted = {"SITE_URL", "PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update({"ENV_FILE": "/nonexistent/.env", **(env_overrides or {})})
    result = subprocess.run(
        ["make", "--no-print-directory", "--eval", f"show-site-url: ; {show}", "show-site-url"]
        + list(make_args),
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_make_run_on_another_port_puts_that_port_in_message_links():
    assert site_url_of_a_process_started_by_make("PORT=8123") == "http://127.0.0.1:8123"
    port_from_environment = site_url_of_a_process_started_by_make(env_overrides={"PORT": "8124"})
    assert port_from_environment == "http://127.0.0.1:8124"


def test_make_run_links_use_port_8000_by_default():
    assert site_url_of_a_process_started_by_make() == "http://127.0.0.1:8000"


def test_a_site_url_set_in_the_environment_wins_over_the_port():
    site_url = site_url_of_a_process_started_by_make(
        "PORT=8123", env_overrides={"SITE_URL": "https://tunnel.example.org"}
    )
    assert site_url == "https://tunnel.example.org"


MICROSOFT_SIGN_IN_ENV = {
    "OIDC_RP_CLIENT_ID": "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    "OIDC_RP_CLIENT_SECRET": "a-secret",
    "ENTRA_TENANT_ID": "0b5c3d1e-2f40-4a6b-8c7d-9e0f1a2b3c4d",
}


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        (
            {**MICROSOFT_SIGN_IN_ENV, "ENTRA_TENANT_ID": "common"},
            "ENTRA_TENANT_ID must be the Directory (tenant) ID",
        ),
        ({"PASSWORD_SIGN_IN": "false"}, "PASSWORD_SIGN_IN=false needs Sign in with Microsoft"),
    ],
    ids=["any-tenant", "no-way-to-sign-in"],
)
def test_a_sign_in_setup_that_would_let_strangers_or_nobody_in_fails_at_start(overrides, complaint):
    result = manage("check", env_overrides={**PRODUCTION_ENV, **overrides})
    assert result.returncode != 0
    assert complaint in result.stderr


def test_outlook_sync_refuses_to_start_with_part_of_the_app_registration():
    result = manage(
        "check", env_overrides={"DEBUG": "true", "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c"}
    )
    assert result.returncode != 0
    assert "GRAPH_CLIENT_SECRET must be set too" in result.stderr
