"""A worker's life in its consumer group: static membership, leaving the group, and a bounded shutdown.

Why (issue 16): a SIGKILLed worker that was restarted took 56-94 s to process again.  Its consumer group
still counted the dead member until its session expired (Faust's default 60 s), and a SIGTERMed worker
whose broker was gone hung in shutdown until it was killed.  Here:

* **Static membership** (KIP-345, ``group.instance.id``): a worker started with ``RASD_GROUP_INSTANCE_ID``
  rejoins under the same instance id, so the broker hands it the dead member's place (and partitions) at
  once instead of waiting for the session to expire and rebalancing twice.  aiokafka sends the id in
  JoinGroup v5, Faust passes ``consumer_group_instance_id`` through.
* **Leaving on SIGTERM**: aiokafka never sends LeaveGroup for a static member (its LeaveGroup v0/v1
  cannot name one), so a stopped static member would hold its partitions until its session expired.
  :func:`leave_on_close` makes the consumer send LeaveGroup v3 with the member's instance id when it
  closes, after Faust's last commit; a dynamic member leaves as before.
* **A bounded shutdown**: :class:`BoundedWorker` arms a watchdog on the first SIGTERM/SIGINT; if Faust's
  orderly stop (finish the current event, commit, leave the group, flush) is not over within
  ``RASD_SHUTDOWN_TIMEOUT`` seconds — typically because the broker is unreachable — the process exits
  anyway.  Nothing is lost that way: what was not committed is delivered again (at-least-once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from typing import Any

import faust
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Int16, Int32, Schema, String

log = logging.getLogger(__name__)

FORCED_EXIT_CODE = 3  # the orderly stop ran out of time (a supervisor's log shows it apart from a crash)


def group_instance_id(template: str, *, service: str, tag: str = "") -> str | None:
    """The static member id of one worker: ``template`` with ``{service}``, ``{tag}`` and ``{hostname}``
    filled in; None (dynamic membership) when the template is empty.

    It must be unique among the live members of the service's group and the same across restarts of one
    worker: ``{hostname}{tag}`` suits a pod or a container (a restarted container keeps its hostname);
    ``rasd run`` gives each of its workers ``{service}{tag}``.
    """
    template = template.strip()
    if not template:
        return None
    return template.format(service=service, tag=tag, hostname=socket.gethostname())


# ------------------------------------------------------------------------------- LeaveGroup v3


class LeaveGroupResponse_v3(Response):  # type: ignore[misc]  # aiokafka is untyped; its names for versions
    API_KEY = 13
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")),
                          ("error_code", Int16))),
    )


class LeaveGroupRequest_v3(RequestStruct):  # type: ignore[misc]
    API_KEY = 13
    API_VERSION = 3
    RESPONSE_TYPE = LeaveGroupResponse_v3
    SCHEMA = Schema(
        ("group_id", String("utf-8")),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")))),
    )


class StaticLeaveGroupRequest(Request[LeaveGroupRequest_v3]):  # type: ignore[misc]
    """LeaveGroup naming a static member (KIP-345: version 3 carries the members' instance ids)."""

    API_KEY = 13

    def __init__(self, group: str, member_id: str, instance_id: str) -> None:
        self._group = group
        self._member = (member_id, instance_id)

    def build(self, request_struct_class: type[LeaveGroupRequest_v3]) -> LeaveGroupRequest_v3:
        return request_struct_class(self._group, [self._member])


async def leave_static_group(coordinator: Any) -> bool:
    """Send LeaveGroup v3 for the coordinator's static member; True when the broker let it go."""
    instance_id = coordinator._group_instance_id
    if instance_id is None or coordinator.generation <= 0:
        return False
    request = StaticLeaveGroupRequest(coordinator.group_id, coordinator.member_id, instance_id)
    try:
        response = await coordinator._send_req(request)
    except (KafkaError, NotImplementedError) as exc:  # broker away, or too old for v3: the session expires
        log.warning("could not leave group %s as %s: %s", coordinator.group_id, instance_id, exc)
        return False
    errors = [code for code in (response.error_code, *(m[2] for m in response.members)) if code]
    if errors:
        log.warning("group %s refused to let %s leave: %s", coordinator.group_id, instance_id, for_code(errors[0]))
        return False
    log.info("left group %s as static member %s", coordinator.group_id, instance_id)
    return True


def leave_on_close(consumer: Any) -> None:
    """Make a started aiokafka consumer leave its group on close, as a static member too."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or getattr(coordinator, "_group_instance_id", None) is None:
        return  # no group, or a dynamic member: aiokafka's own LeaveGroup
    dynamic_leave = coordinator._maybe_leave_group

    async def maybe_leave_group() -> None:
        await leave_static_group(coordinator)
        await dynamic_leave()  # resets the generation (and sends nothing for a static member)

    coordinator._maybe_leave_group = maybe_leave_group


# ----------------------------------------------------------------------------- bounded shutdown


def _forced_exit(timeout: float) -> None:
    log.warning("shutdown not finished %.0f s after the signal: exiting now (what was not committed is "
                "delivered again)", timeout)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # exiting anyway
            handler.flush()
    sys.stderr.flush()
    os._exit(FORCED_EXIT_CODE)


class BoundedWorker(faust.Worker):
    """Faust's worker, except that the process exits at the latest ``shutdown_timeout`` s after SIGTERM/SIGINT."""

    def __init__(self, app: faust.App, *args: Any, shutdown_timeout: float = 8.0, **kwargs: Any) -> None:
        super().__init__(app, *args, **kwargs)
        self.shutdown_timeout = shutdown_timeout
        self._watchdog: threading.Timer | None = None

    def arm_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.shutdown_timeout, _forced_exit, args=(self.shutdown_timeout,))
            self._watchdog.daemon = True
            self._watchdog.name = "rasd-shutdown-watchdog"
            self._watchdog.start()

    def _schedule_shutdown(self, signal: Any) -> None:
        self.arm_watchdog()
        super()._schedule_shutdown(signal)
