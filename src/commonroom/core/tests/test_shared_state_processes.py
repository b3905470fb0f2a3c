"""State several server processes must share, with real ``commonroom serve`` processes: failed
sign-ins spread over two servers sharing Redis meet the limit at the configured count, a TOTP
code used on one is refused on the other, and the scheduled jobs of two servers' workers run
once per due time. Without a shared cache, several processes (or production) refuse to start."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.models import ScheduledJob
from commonroom.core.scheduling import jobs_all
from commonroom.core.tests.processes import wait_for
from commonroom.core.tests.serving import Browser, serve_env, serving_many, shared_redis, stop
from commonroom.live.tasks import prune_events
from commonroom.live.tests import servers
from commonroom.notifications.tasks import send_digests

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

TOO_MANY = "Too many failed sign-ins"
PER_ACCOUNT = 4  # failed sign-ins allowed per account at one client (COMMONROOM_LOGIN_RATE_LIMIT)
GUESSER, OWNER = "198.51.100.66", "203.0.113.20"
# The reverse proxy's address; connections from 127.0.0.1, which uvicorn itself would once have
# believed, are not through it.
PROXY = "127.0.0.2"
WAITS = "each try now waits its turn"


def guess(url: str, client: str) -> str:
    """A wrong password for Tom from ``client``, through the proxy to the server at ``url``."""
    with Browser(url, forwarded_for=client, local_address=PROXY) as browser:
        return browser.sign_in("tom@example.org", "wrong-password").text


@pytest.mark.one_run("postgres")  # state in Redis, as in the production topology
def test_failed_sign_ins_over_two_servers_meet_the_limit_at_the_configured_count(
    tmp_path: Path,
) -> None:
    """Wrong passwords from one client, behind the reverse proxy both servers trust, sent to
    each server in turn: refused from the (limit + 1)th attempt, as on one server; with a cache
    in each process it would take twice the attempts. The account's owner, another client of
    the same proxy, signs in on either server all the while. A connection from an address
    nobody named, whatever X-Forwarded-For it sends, is recorded as itself."""
    redis = shared_redis()
    person = UserFactory.create(email="tom@example.org")
    env = {
        **redis.env,
        "COMMONROOM_LOGIN_RATE_LIMIT": f"50/m/ip,{PER_ACCOUNT}/5m/key",
        "COMMONROOM_TRUSTED_PROXIES": PROXY,
        "COMMONROOM_LOGIN_ACCOUNT_BACKOFF": f"{PER_ACCOUNT + 2}/1h/5m",
    }
    try:
        with (
            serving_many(tmp_path, 2, "--no-worker", **env) as (one, two),
            Browser(one.url, forwarded_for=GUESSER, local_address=PROXY) as first,
            Browser(two.url, forwarded_for=GUESSER, local_address=PROXY) as second,
            Browser(one.url, forwarded_for=OWNER, local_address=PROXY) as owner_one,
            Browser(two.url, forwarded_for=OWNER, local_address=PROXY) as owner_two,
            Browser(two.url, forwarded_for=OWNER, local_address="127.0.0.1") as forger,
        ):
            browsers = [first, second]
            refused_at = None
            for attempt in range(1, 2 * PER_ACCOUNT + 2):
                answer = browsers[attempt % 2].sign_in(person.email, "wrong-password")
                assert answer.status_code == 200
                if TOO_MANY in answer.text:
                    refused_at = attempt
                    break
            # The right password, from the guesser's client on either server, is refused too.
            assert TOO_MANY in browsers[0].sign_in(person.email, PASSWORD).text
            assert TOO_MANY in browsers[1].sign_in(person.email, PASSWORD).text
            assert not browsers[0].signed_in() and not browsers[1].signed_in()
            # The owner is not locked out, on either server.
            for owner in (owner_one, owner_two):
                assert owner.sign_in(person.email, PASSWORD).status_code == 302
                assert owner.signed_in()
            # Not through the proxy: its forged header is not believed.
            assert forger.sign_in(person.email, "wrong-password").status_code == 200
            # The account's count from everywhere is shared too: past it (the guesser's 4, the
            # forger's 1, one more), an attempt takes the account's turn on one server, and an
            # attempt at once from yet another client on the other server is told to wait. A
            # turn is held 1 s, then 2, 4...: on a loaded machine it may run out before the
            # next attempt is looked at, which then takes the next, longer turn itself, and
            # the one after it, on the other server again, is tried.
            assert WAITS not in guess(one.url, "192.0.2.1")
            assert WAITS not in guess(two.url, "192.0.2.2")
            told_to_wait = None
            for n in range(3, 9):
                if WAITS in guess((one.url, two.url)[n % 2], f"192.0.2.{n}"):
                    told_to_wait = n
                    break
            counted_in_redis = [k for k in redis.stored() if ":allauth:rl:" in k]
            slowed_in_redis = [k for k in redis.stored() if ":login-backoff:" in k]
    finally:
        redis.forget()
    print(f"two servers: refused at attempt {refused_at} (limit {PER_ACCOUNT} per account)")
    assert refused_at == PER_ACCOUNT + 1
    print(f"two servers: told to wait at the account's attempt from 192.0.2.{told_to_wait}")
    assert told_to_wait is not None, "no attempt was told to wait for the account's turn"
    assert counted_in_redis and slowed_in_redis
    failed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED)
    assert set(failed.values_list("ip", flat=True)) == {
        GUESSER,
        "127.0.0.1",
        *(f"192.0.2.{n}" for n in range(1, told_to_wait + 1)),
    }
    assert list(AuditEvent.objects.filter(action=Action.LOGIN).values_list("ip", flat=True)) == [
        OWNER,
        OWNER,
    ]


def current_code(secret: str) -> str:
    """The code an authenticator app shows now (never one about to roll over)."""
    period = mfa_settings.TOTP_PERIOD
    if period - time.time() % period < 3:
        time.sleep(3)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


@pytest.mark.one_run("postgres")  # state in Redis, as in the production topology
def test_a_totp_code_used_on_one_server_is_refused_on_the_other(tmp_path: Path) -> None:
    redis = shared_redis()
    person = UserFactory.create(email="priya@example.org")
    secret = generate_totp_secret()
    TOTP.activate(person, secret)
    try:
        with (
            serving_many(tmp_path, 2, "--no-worker", **redis.env) as (one, two),
            Browser(one.url) as first,
            Browser(two.url) as second,
        ):
            asked = first.sign_in(person.email, PASSWORD)
            assert asked.status_code == 302 and "/2fa/authenticate" in asked.headers["location"]
            assert second.sign_in(person.email, PASSWORD).status_code == 302
            code = current_code(secret)

            used = first.post_form("/accounts/2fa/authenticate/", {"code": code})
            again = second.post_form("/accounts/2fa/authenticate/", {"code": code})

            assert used.status_code == 302 and first.signed_in()
            assert again.status_code == 200  # the form again, with its error
            assert not second.signed_in()
            # The next code the app shows works on the second server.
            time.sleep(mfa_settings.TOTP_PERIOD - time.time() % mfa_settings.TOTP_PERIOD + 0.5)
            later = second.post_form("/accounts/2fa/authenticate/", {"code": current_code(secret)})
            assert later.status_code == 302 and second.signed_in()
    finally:
        redis.forget()


LINE = re.compile(r"schedule: ran (\S+) due (\S+) \((claimed|claimed at start|at start)\)")


def runs(output: str) -> list[tuple[str, str, str]]:
    return LINE.findall(output)


def test_two_servers_run_each_scheduled_job_once_per_due_time(tmp_path: Path) -> None:
    """Two servers (each with its worker) started at the same moment, after every job last ran
    long ago: the daily jobs are due, and both workers race for them at their start; the
    housekeeping, every 3 s here, is raced for at each worker's tick (every 10 s) for half a
    minute. Each due time of each job is run by one worker: the daily ones enqueue one task
    each, made once."""
    redis = shared_redis()
    keys = {job.key for job in jobs_all()}
    long_ago = timezone.now() - timedelta(days=3)
    ScheduledJob.objects.bulk_create(ScheduledJob(name=key, due_at=long_ago) for key in keys)
    env = {
        **redis.env,
        "COMMONROOM_HOUSEKEEPING_SECONDS": "3",
        "LOG_LEVEL": "INFO",
        # The worker sends the digest: any SMTP setting would do, none is needed (no one has
        # a notification), so emails would only be printed.
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    }
    daily_tasks = DBTaskResult.objects.filter(
        task_path__in=[send_digests.module_path, prune_events.module_path]
    )
    try:
        with serving_many(tmp_path, 2, **env) as served:

            def housekeeping_due_times() -> int:
                claimed = [r for s in served for r in runs(s.output) if r[2] != "at start"]
                return len({due for key, due, _ in claimed if key == "tasks-requeue-abandoned"})

            wait_for(
                lambda: (
                    housekeeping_due_times() >= 3
                    and daily_tasks.filter(status="SUCCESSFUL").count() >= 2
                ),
                timeout=90,
                message="the workers did not run the schedule",
            )
            time.sleep(2)  # any second run would have shown by now
            assert [stop(s) for s in served] == [0, 0]
            per_server = [runs(s.output) for s in served]
    finally:
        redis.forget()

    claimed = Counter(
        (key, due) for lines in per_server for key, due, how in lines if how != "at start"
    )
    twice = [run for run, count in claimed.items() if count > 1]
    assert not twice, f"run more than once: {twice}"
    by_job = Counter(key for key, _ in claimed)
    by_server = [Counter(key for key, _, how in lines if how != "at start") for lines in per_server]
    print(f"due times run per job (two servers): {dict(by_job)}; per server: {by_server}")
    daily = {"notification-digests", "live-events-prune", "approval-reminders"}
    assert all(by_job[key] == 1 for key in daily), by_job
    assert all(by_job[key] >= 2 for key in keys if key not in daily)
    assert sorted(daily_tasks.values_list("task_path", "status")) == sorted(
        [(prune_events.module_path, "SUCCESSFUL"), (send_digests.module_path, "SUCCESSFUL")]
    )
    # Each worker also kept house when it started, whoever held the claim.
    for lines in per_server:
        assert any(k == "tasks-requeue-abandoned" and h.endswith("at start") for k, _, h in lines)


# --- Refusing to start without a shared cache ---------------------------------------------------


def run_refused(tmp_path: Path, command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = serve_env(tmp_path, **env)
    full.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", *command],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_several_server_processes_without_a_shared_cache_refuse_to_start(tmp_path: Path) -> None:
    port = str(servers.free_port())
    result = run_refused(tmp_path, ["commonroom", "serve", "--workers", "2", "--port", port])
    assert result.returncode != 0
    assert "will not start 2 server processes without a shared cache" in result.stderr
    assert "Set REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


PRODUCTION = {
    "COMMONROOM_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "commonroom.example.nhs.uk",
}


def test_production_without_a_shared_cache_refuses_to_start(tmp_path: Path) -> None:
    port = str(servers.free_port())
    serve = run_refused(tmp_path, ["commonroom", "serve", "--port", port], **PRODUCTION)
    assert serve.returncode != 0
    assert "will not start in production (COMMONROOM_ENV=production)" in serve.stderr
    assert "Set REDIS_URL" in serve.stderr
    # Nor does the application load in uvicorn started some other way.
    uvicorn = run_refused(
        tmp_path,
        ["uvicorn", "commonroom.asgi:application", "--port", port, "--lifespan", "off"],
        **PRODUCTION,
    )
    assert uvicorn.returncode != 0
    assert "Set REDIS_URL" in uvicorn.stderr


def test_several_server_processes_with_a_shared_cache_start(tmp_path: Path) -> None:
    redis = shared_redis()
    try:
        with serving_many(tmp_path, 1, "--workers", "2", "--no-worker", **redis.env) as (one,):
            assert httpx.get(one.url + "/healthz").status_code == 200
            assert stop(one) == 0
    finally:
        redis.forget()
