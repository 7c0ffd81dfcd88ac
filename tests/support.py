"""Helpers shared by tests and benchmarks: real Celery processes, and two-factor sign-in."""

from django.db import connection
from django.test import Client


def current_database_url() -> str:
    """The URL of the database this process is using (the test database during tests), so that
    a Celery subprocess works on the same rows."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_celery_worker_with_beat(
    *, schedule_path, sweep_every: float, quiet: bool = False, extra_env: dict | None = None
):
    """A real `celery worker -B` on this process's database and broker, as a subprocess."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "SWEEP_INTERVAL_SECONDS": str(sweep_every),
        **(extra_env or {}),
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


# Two-factor sign-in, shared by the test client, the browser tests and the benchmarks.


def authenticator_app_for(user):
    """The person's confirmed authenticator app, set up now if they have none."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "Test app"}
    )
    return device


def app_code(device) -> str:
    """What the app shows now. A code is accepted once, so when this step's code has been used
    it gives the next step's, which django-otp still accepts."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if device.last_t >= totp.t():
        totp.time = totp.time + device.step
    return f"{totp.token():06d}"


class SignedInClient(Client):
    """A test client whose force_login signs in completely: for managers and designated persons
    that includes the second factor, as if they had typed a code from their app. Tests of the
    two-factor step itself use a plain Client."""

    def force_login(self, user, backend=None):
        from django_otp import DEVICE_ID_SESSION_KEY

        from homevisits.selectors import needs_two_factor

        super().force_login(user, backend)
        if needs_two_factor(user):
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = authenticator_app_for(user).persistent_id
            session.save()
