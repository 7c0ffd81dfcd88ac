"""Helpers shared by tests and benchmarks that start real Celery processes."""

from django.db import connection


def current_database_url() -> str:
    """The URL of the database this process is using (the test database during tests), so that
    a Celery subprocess works on the same rows."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_celery_worker_with_beat(*, schedule_path, sweep_every: float, quiet: bool = False):
    """A real `celery worker -B` on this process's database and broker, as a subprocess."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "SWEEP_INTERVAL_SECONDS": str(sweep_every),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by browser tests; never in a real worker
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "homevisits",
            "worker",
            "-B",
            "--pool=solo",
            "--loglevel=WARNING",
            f"--schedule={schedule_path}",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process) -> None:
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
