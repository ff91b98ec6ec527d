"""A worker's life in its group: static membership, leaving on SIGTERM, a bounded shutdown (lifecycle.py).

Why (issue 16): a SIGKILLed worker that was restarted took 56-94 s to process again (its group waited for the
dead member's 60 s session), and a SIGTERMed worker whose broker was gone never exited.  These tests pin the
pieces; tests/integration/test_shutdown.py and test_faults.py measure them on the real broker.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.types import Array, Int16, Int32, String
from prometheus_client import CollectorRegistry

from services.common.lifecycle import (
    FORCED_EXIT_CODE,
    LeaveGroupRequest_v3,
    LeaveGroupResponse_v3,
    StaticLeaveGroupRequest,
    group_instance_id,
    leave_on_close,
)
from services.common.settings import CommonSettings, NormalizerSettings
from services.common.worker import make_app


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("", None),  # the default: dynamic membership
        ("  ", None),
        ("{service}{tag}", "normalizer-a"),  # what rasd run's workers get
        ("rasd-{hostname}{tag}", f"rasd-{socket.gethostname()}-a"),  # a pod or a container
        ("fixed", "fixed"),
    ],
)
def test_the_instance_id_fills_in_service_tag_and_hostname(template: str, expected: str | None) -> None:
    assert group_instance_id(template, service="normalizer", tag="-a") == expected


def test_the_defaults_are_a_ten_second_session_and_an_eight_second_shutdown() -> None:
    settings = CommonSettings()
    assert (settings.group_instance_id, settings.session_timeout_ms, settings.shutdown_timeout) == ("", 10_000, 8.0)


async def test_the_worker_consumer_joins_as_a_static_member_with_a_short_session(tmp_path: Path) -> None:
    settings = NormalizerSettings(
        bootstrap_servers="127.0.0.1:9", data_dir=tmp_path, group_instance_id="{service}{tag}", session_timeout_ms=9000
    )
    app = make_app(settings, CollectorRegistry(), worker_tag="-b")
    assert app.conf.consumer_group_instance_id == "normalizer-b"
    thread = cast(Any, app.consumer)._thread
    consumer = thread._create_worker_consumer(app.transport)
    consumer._closed = True  # never started
    assert consumer._group_instance_id == "normalizer-b"
    assert consumer._session_timeout_ms == 9000
    assert consumer._heartbeat_interval_ms == 1000  # a third of the session at most: rebalances are seen fast


def test_without_an_instance_id_the_member_is_dynamic(tmp_path: Path) -> None:
    app = make_app(NormalizerSettings(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path), CollectorRegistry())
    assert app.conf.consumer_group_instance_id is None


def test_leave_group_v3_names_the_member_and_its_instance_id() -> None:
    """KIP-345's LeaveGroup v3: group id, then an array of (member id, group instance id)."""
    request = StaticLeaveGroupRequest("rasd-normalizer", "normalizer-1f2e", "normalizer-a")
    struct = request.prepare({13: (0, 5)})  # what the broker offers; aiokafka's own request stops at v1
    assert isinstance(struct, LeaveGroupRequest_v3)
    expected = (
        String("utf-8").encode("rasd-normalizer")
        + Int32.encode(1) + String("utf-8").encode("normalizer-1f2e") + String("utf-8").encode("normalizer-a")
    )
    assert struct.encode() == expected
    body = (Int32.encode(0) + Int16.encode(0)
            + Array(("m", String("utf-8")), ("i", String("utf-8")), ("e", Int16)).encode(
                [("normalizer-1f2e", "normalizer-a", 0)]))
    response = LeaveGroupResponse_v3.decode(BytesIO(body))
    assert (response.error_code, response.members) == (0, [("normalizer-1f2e", "normalizer-a", 0)])


@dataclass
class FakeCoordinator:
    """The parts of aiokafka's GroupCoordinator the leave uses."""

    _group_instance_id: str | None
    generation: int = 5
    group_id: str = "rasd-normalizer"
    member_id: str = "normalizer-1f2e"
    member_error: int = 0
    fail: bool = False
    sent: list[Any] = field(default_factory=list)
    dynamic_leaves: int = 0

    async def _send_req(self, request: Any) -> Any:
        if self.fail:
            raise KafkaConnectionError("broker away")
        self.sent.append(request.prepare({13: (0, 5)}))
        return LeaveGroupResponse_v3(0, 0, [(self.member_id, self._group_instance_id, self.member_error)])

    async def _maybe_leave_group(self) -> None:
        self.dynamic_leaves += 1


@dataclass
class FakeConsumer:
    _coordinator: FakeCoordinator


async def test_a_static_member_leaves_its_group_when_the_consumer_closes() -> None:
    coordinator = FakeCoordinator("normalizer-a")
    leave_on_close(FakeConsumer(coordinator))
    await coordinator._maybe_leave_group()  # what AIOKafkaConsumer.stop() -> GroupCoordinator.close() calls
    [sent] = coordinator.sent
    assert (sent.group_id, sent.members) == ("rasd-normalizer", [("normalizer-1f2e", "normalizer-a")])
    assert coordinator.dynamic_leaves == 1  # aiokafka's own step still runs: it resets the generation


async def test_a_dynamic_member_is_left_to_aiokafka() -> None:
    coordinator = FakeCoordinator(None)
    leave_on_close(FakeConsumer(coordinator))
    await coordinator._maybe_leave_group()
    assert (coordinator.sent, coordinator.dynamic_leaves) == ([], 1)


@pytest.mark.parametrize("case", ["broker away", "refused", "never joined"])
async def test_a_failed_leave_does_not_stop_the_shutdown(case: str) -> None:
    coordinator = FakeCoordinator(
        "normalizer-a", fail=case == "broker away", member_error=25 if case == "refused" else 0,
        generation=-1 if case == "never joined" else 5,
    )
    leave_on_close(FakeConsumer(coordinator))
    await coordinator._maybe_leave_group()
    assert coordinator.dynamic_leaves == 1


def test_the_watchdog_ends_a_shutdown_that_hangs() -> None:
    """A stop that never finishes (the broker is gone, a flush waits forever) ends at the timeout, exit code 3."""
    script = (
        "import time\n"
        "from services.common.lifecycle import BoundedWorker\n"
        "worker = BoundedWorker.__new__(BoundedWorker)\n"
        "worker.shutdown_timeout, worker._watchdog = 0.5, None\n"
        "worker.arm_watchdog()\n"
        "worker.arm_watchdog()  # a second signal does not re-arm it\n"
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == FORCED_EXIT_CODE, proc.stderr
    assert elapsed < 15, elapsed  # the interpreter's start-up, then 0.5 s
