"""The audit log: off by default, one line to turn on, and records with a fixed set of
attributes (event, peer, local_port, reason) from each helper."""

from __future__ import annotations

import ipaddress
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from dsexec.security import (
    audit,
    audit_accept,
    audit_denied,
    audit_limit,
    audit_tls_failure,
    disable_audit_log,
    enable_audit_log,
)
from dsexec.security._audit import _OFF

V4 = ipaddress.ip_address("203.0.113.9")
V6 = ipaddress.ip_address("2001:db8::7")


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def fields(record: logging.LogRecord) -> tuple[Any, ...]:
    attributes = vars(record)
    return (
        attributes["event"],
        attributes["peer"],
        attributes["local_port"],
        attributes["reason"],
    )


@pytest.fixture(autouse=True)
def restore_audit_logger() -> Iterator[None]:
    level, handlers, disabled = audit.level, list(audit.handlers), audit.disabled
    yield
    disable_audit_log()
    audit.setLevel(level)
    audit.handlers[:] = handlers
    audit.disabled = disabled


def emit_one_of_each() -> None:
    audit_accept(V6, 8080)
    audit_denied(V4, 8080, "blocked by access list")
    audit_tls_failure(V6, 8443, "TlsError: wrong version number")
    audit_limit(V4, 8060, "max_connections")


def test_audit_is_the_dsexec_audit_logger() -> None:
    assert audit is logging.getLogger("dsexec.audit")
    assert audit.propagate


def test_nothing_is_emitted_by_default_even_when_the_app_logs_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: everything else would show
    logging.getLogger("dsexec").setLevel(logging.DEBUG)
    try:
        emit_one_of_each()
    finally:
        logging.getLogger("dsexec").setLevel(logging.NOTSET)
    assert audit.level == _OFF
    assert caplog.records == []


def test_when_off_the_helpers_build_no_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_record(*args: object, **kwargs: object) -> logging.LogRecord:
        raise AssertionError("a record was built while the audit log is off")

    monkeypatch.setattr(audit, "makeRecord", no_record)
    emit_one_of_each()
    audit_tls_failure(V4, 443, ValueError("never formatted"))


def test_setting_the_level_turns_it_on_and_records_carry_the_attributes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dsexec.audit")
    emit_one_of_each()
    assert [fields(record) for record in caplog.records] == [
        ("accept", V6, 8080, "accepted"),
        ("deny", V4, 8080, "blocked by access list"),
        ("tls_failure", V6, 8443, "TlsError: wrong version number"),
        ("limit", V4, 8060, "max_connections"),
    ]
    assert [record.levelno for record in caplog.records] == [
        logging.INFO,
        logging.WARNING,
        logging.WARNING,
        logging.WARNING,
    ]
    assert {record.name for record in caplog.records} == {"dsexec.audit"}


def test_messages_read_as_sentences(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dsexec.audit")
    emit_one_of_each()
    assert [record.getMessage() for record in caplog.records] == [
        "accept 2001:db8::7 on port 8080",
        "deny 203.0.113.9 on port 8080: blocked by access list",
        "tls_failure 2001:db8::7 on port 8443: TlsError: wrong version number",
        "limit 203.0.113.9 on port 8060: max_connections",
    ]


def test_enable_audit_log_sends_records_to_the_handler_given() -> None:
    handler = ListHandler()
    assert enable_audit_log(handler) is handler
    emit_one_of_each()
    assert [fields(record)[0] for record in handler.records] == [
        "accept",
        "deny",
        "tls_failure",
        "limit",
    ]


def test_enable_at_warning_keeps_everything_but_accepts() -> None:
    handler = ListHandler()
    enable_audit_log(handler, level=logging.WARNING)
    emit_one_of_each()
    assert [fields(record)[0] for record in handler.records] == ["deny", "tls_failure", "limit"]


def test_enable_takes_a_level_name() -> None:
    handler = ListHandler()
    enable_audit_log(handler, level="WARNING")
    assert audit.level == logging.WARNING


def test_enable_without_a_handler_writes_one_line_per_record_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = enable_audit_log()
    assert enable_audit_log() is first  # once, however often called
    audit_denied("198.51.100.4", 8080, "blocked by access list")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        "dsexec.audit WARNING deny 198.51.100.4 on port 8080: blocked by access list"
    )


def test_disable_turns_it_off_and_removes_the_handlers_it_added() -> None:
    handler = ListHandler()
    enable_audit_log(handler)
    enable_audit_log()
    disable_audit_log()
    audit_accept(V4, 80)
    assert handler.records == []
    assert audit.handlers == []
    assert audit.level == _OFF


def test_enable_turns_on_a_logger_that_dict_config_disabled() -> None:
    audit.disabled = True
    handler = ListHandler()
    enable_audit_log(handler)
    audit_accept(V4, 80)
    assert len(handler.records) == 1


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        (ipaddress.ip_address("::ffff:192.0.2.1"), ipaddress.ip_address("192.0.2.1")),
        ("::ffff:192.0.2.1", ipaddress.ip_address("192.0.2.1")),
        ("2001:db8::1", ipaddress.ip_address("2001:db8::1")),
        ("10.0.0.1", ipaddress.ip_address("10.0.0.1")),
        ("unix:/run/app.sock", "unix:/run/app.sock"),
        (None, None),
    ],
    ids=["mapped", "mapped-str", "v6-str", "v4-str", "not-an-ip", "unknown"],
)
def test_peers_are_normalised_mapped_ipv4_unmapped(
    caplog: pytest.LogCaptureFixture, peer: Any, expected: object
) -> None:
    caplog.set_level(logging.INFO, logger="dsexec.audit")
    audit_accept(peer, 8080)
    assert fields(caplog.records[0])[1] == expected


def test_a_tls_failure_reason_may_be_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dsexec.audit")
    audit_tls_failure(V6, 8443, TimeoutError("handshake took longer than 10 s"))
    assert fields(caplog.records[0])[3] == "TimeoutError: handshake took longer than 10 s"
    assert caplog.records[0].exc_info is None  # no traceback in an audit log


def test_enable_rejects_a_bad_handler_or_level() -> None:
    with pytest.raises(TypeError, match=r"handler must be a logging\.Handler"):
        enable_audit_log(sys.stderr)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="level must be an int or a level name"):
        enable_audit_log(level=True)
    with pytest.raises(TypeError, match="level must be an int or a level name"):
        enable_audit_log(level=20.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown level name 'LOUD'"):
        enable_audit_log(level="LOUD")
    assert audit.level == _OFF


def test_a_level_configured_before_import_is_kept() -> None:
    code = (
        "import logging\n"
        "logging.getLogger('dsexec.audit').setLevel(logging.WARNING)\n"
        "import dsexec.security\n"
        "assert dsexec.security.audit.level == logging.WARNING, dsexec.security.audit.level\n"
        "logging.getLogger('dsexec.audit').setLevel(logging.NOTSET)\n"
        "import importlib, dsexec.security._audit as m\n"
        "importlib.reload(m)\n"
        "assert m.audit.level > logging.CRITICAL\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
