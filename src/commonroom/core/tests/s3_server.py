"""A real S3 server on a free loopback port for tests: moto's standalone server (``python -m
moto.server``), a process of its own speaking the S3 protocol over HTTP, so the storage code
talks to it exactly as it talks to a trust's object store (boto3, signed requests, real
sockets). ``stop()`` and ``start()`` may be called any number of times on the same port (an
outage); what the server held is lost when it stops (moto keeps buckets in memory)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from commonroom.live.tests.servers import free_port

ACCESS_KEY = "commonroom-test"
SECRET_KEY = "commonroom-test-secret"
REGION = "eu-west-2"


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's S3 server exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto's S3 server did not answer on {self.url} in {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def environment(self, bucket: str) -> dict[str, str]:
        """What a ``commonroom`` process needs to keep its files in ``bucket`` here."""
        return {
            "COMMONROOM_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def make_bucket(self, bucket: str) -> None:
        self.client().create_bucket(  # type: ignore[attr-defined]
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )


@contextmanager
def s3_server_started() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def environment_applied(env: dict[str, str]) -> dict[str, str]:
    """``os.environ`` with ``env`` over it, for a child process."""
    return {**os.environ, **env}
