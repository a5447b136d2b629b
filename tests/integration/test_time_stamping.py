"""Time stamps from a real RFC 3161 authority (``openssl ts -reply`` behind HTTP, in its own
process): tokens over a signed checkpoint verify, and every way the authority can fail or lie
is told apart."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.errors import InputError
from evidence.formats.checkpoint import Checkpoint
from evidence.services.time_stamping import (
    MAX_ROOTS_FILE_BYTES,
    HttpTimeStampAuthority,
    TimeStampUnavailable,
    load_time_stamp_roots,
)
from evidence.verify.time_stamp_check import MAX_TIME_STAMP_BYTES, TimeStampError, verify_time_stamp
from tests.support.servers import free_port
from tests.support.tsa import (
    TEST_POLICY,
    LocalTimeStampAuthority,
    RunningAuthority,
    running_authority,
    time_stamp_authority,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.integration

#: A signed checkpoint's note, as the log stamps it (``formats.checkpoint``).
LOG_KEY = Ed25519PrivateKey.from_private_bytes(b"zhenglian test: time-stamped log".ljust(32, b"."))
CHECKPOINT = Checkpoint("zhenglian.example/documents", 4096, bytes(range(32))).sign(LOG_KEY)
NOTE = CHECKPOINT.to_bytes()


def authority_at(
    tsa: RunningAuthority, behaviour: str, timeout: float = 5.0
) -> HttpTimeStampAuthority:
    return HttpTimeStampAuthority(tsa.url(behaviour), [tsa.authority.root_der], timeout=timeout)


@pytest.fixture(scope="module")
def stamped(time_stamp_authority: RunningAuthority) -> tuple[bytes, datetime]:  # noqa: F811
    """A token over NOTE from the honest authority, and when it was asked for."""
    asked = datetime.now(UTC)
    return authority_at(time_stamp_authority, "honest").stamp(NOTE), asked


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> LocalTimeStampAuthority:
    """Another CA with its own authority (not served: its root is what matters)."""
    return LocalTimeStampAuthority.create(tmp_path_factory.mktemp("stranger"), name="Stranger TSA")


def test_a_token_over_a_checkpoint_verifies_and_openssl_agrees(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    stamped: tuple[bytes, datetime],
) -> None:
    token, asked = stamped
    facts = verify_time_stamp(token, NOTE, [time_stamp_authority.authority.root_der])
    # genTime is whole seconds (accuracy 1 s): within a few seconds of the request.
    assert asked - timedelta(seconds=2) <= facts.time <= datetime.now(UTC) + timedelta(seconds=2)
    assert facts.time.tzinfo is UTC
    assert facts.authority == "CN=Zhenglian test TSA,O=Zhenglian tests,C=CN"
    assert facts.certificate == time_stamp_authority.authority.certificate_der
    assert (facts.hash_algorithm, facts.policy) == ("sha256", TEST_POLICY)
    ok, output = time_stamp_authority.authority.openssl_verifies(token, NOTE)
    assert ok, output
    ok, output = time_stamp_authority.authority.openssl_verifies(token, NOTE + b"\n")
    assert not ok, output


def test_each_token_has_its_own_serial_and_nonce(
    time_stamp_authority: RunningAuthority,  # noqa: F811
) -> None:
    authority = authority_at(time_stamp_authority, "honest")
    tokens: list[bytes] = []
    errors: list[BaseException] = []

    def stamp() -> None:
        try:
            tokens.append(authority.stamp(NOTE))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=stamp) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and len(tokens) == 4
    roots = [time_stamp_authority.authority.root_der]
    assert len({verify_time_stamp(t, NOTE, roots).serial for t in tokens}) == 4


def test_a_token_for_another_message_is_not_over_this_checkpoint(
    time_stamp_authority: RunningAuthority,  # noqa: F811
) -> None:
    with pytest.raises(TimeStampError, match="not over this checkpoint") as caught:
        authority_at(time_stamp_authority, "other-message").stamp(NOTE)
    assert caught.value.reason == "not-over-message"


def test_roots_of_another_ca_do_not_trust_the_authority(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    stranger: LocalTimeStampAuthority,
    stamped: tuple[bytes, datetime],
) -> None:
    authority = HttpTimeStampAuthority(time_stamp_authority.url(), [stranger.root_der])
    with pytest.raises(TimeStampError, match="not by a trusted authority") as caught:
        authority.stamp(NOTE)
    assert caught.value.reason == "untrusted"
    with pytest.raises(TimeStampError, match="not by a trusted authority"):
        verify_time_stamp(stamped[0], NOTE, [stranger.root_der])


def test_a_nonce_mismatch_is_refused(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    stamped: tuple[bytes, datetime],
) -> None:
    with pytest.raises(TimeStampError, match="answers another request") as caught:
        authority_at(time_stamp_authority, "other-nonce").stamp(NOTE)
    assert caught.value.reason == "nonce"
    # A token replayed for a new request: its nonce is the old request's.
    with pytest.raises(TimeStampError, match="answers another request"):
        verify_time_stamp(stamped[0], NOTE, [time_stamp_authority.authority.root_der], nonce=7)


def test_a_byte_flipped_in_the_signature_is_refused(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    stamped: tuple[bytes, datetime],
) -> None:
    token = stamped[0]
    corrupted = token[:-1] + bytes([token[-1] ^ 0x01])  # the ECDSA signature ends the token
    with pytest.raises(TimeStampError, match="signature does not verify") as caught:
        verify_time_stamp(corrupted, NOTE, [time_stamp_authority.authority.root_der])
    assert caught.value.reason == "signature"
    ok, output = time_stamp_authority.authority.openssl_verifies(corrupted, NOTE)
    assert not ok, output


def test_an_oversize_token_or_answer_is_refused(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    stamped: tuple[bytes, datetime],
) -> None:
    padded = stamped[0] + b"\x00" * MAX_TIME_STAMP_BYTES
    with pytest.raises(TimeStampError, match="over the limit") as caught:
        verify_time_stamp(padded, NOTE, [time_stamp_authority.authority.root_der])
    assert caught.value.reason == "too-large"
    with pytest.raises(TimeStampError, match="answered more than") as caught:
        authority_at(time_stamp_authority, "oversize").stamp(NOTE)
    assert caught.value.reason == "too-large"


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("garbage", "malformed time-stamp reply"),
        ("wrong-content-type", "answered text/html, not application/timestamp-reply"),
    ],
)
def test_wrong_answers_are_time_stamp_errors(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    behaviour: str,
    words: str,
) -> None:
    with pytest.raises(TimeStampError, match=words) as caught:
        authority_at(time_stamp_authority, behaviour).stamp(NOTE)
    assert caught.value.reason == "malformed"


def test_a_slow_authority_times_out(time_stamp_authority: RunningAuthority) -> None:  # noqa: F811
    authority = authority_at(time_stamp_authority, "slow", timeout=0.5)
    with pytest.raises(TimeStampUnavailable, match=r"no answer within 0\.5 s"):
        authority.stamp(NOTE)


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("http-error", "could not get a time stamp from .*: HTTP 503$"),
        ("rejection", r"refused to time-stamp \(status rejection: Requested policy"),
    ],
)
def test_refusals_are_unavailable(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    behaviour: str,
    words: str,
) -> None:
    with pytest.raises(TimeStampUnavailable, match=words):
        authority_at(time_stamp_authority, behaviour).stamp(NOTE)


def test_an_authority_that_is_down_is_unavailable_with_one_clear_line(
    time_stamp_authority: RunningAuthority,  # noqa: F811
) -> None:
    port = free_port()
    authority = HttpTimeStampAuthority(
        f"http://127.0.0.1:{port}/tsa", [time_stamp_authority.authority.root_der], timeout=2
    )
    with pytest.raises(TimeStampUnavailable) as caught:
        authority.stamp(NOTE)
    assert str(caught.value) == (
        f"could not get a time stamp from http://127.0.0.1:{port}/tsa: cannot connect "
        "(ConnectionRefusedError: Connection refused)"
    )


def test_an_authority_that_goes_down_is_unavailable(tmp_path: Path) -> None:
    with running_authority(tmp_path) as tsa:
        authority = authority_at(tsa, "honest")
        assert verify_time_stamp(authority.stamp(NOTE), NOTE, [tsa.authority.root_der]).serial
        tsa.stop()
        with pytest.raises(TimeStampUnavailable, match="cannot connect"):
            authority.stamp(NOTE)


def test_credentials_in_the_url_stay_out_of_errors_and_logs(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    roots = [time_stamp_authority.authority.root_der]
    base = time_stamp_authority.url().replace("http://", "http://alice:s3cret@")
    # INFO and up: urllib3 logs request paths, query included, at DEBUG (docs/time-stamps.md).
    caplog.set_level(logging.INFO)
    HttpTimeStampAuthority(f"{base}?key=s3cret", roots).stamp(NOTE)
    assert "time stamp from http://127.0.0.1:" in caplog.text
    down = f"http://alice:s3cret@127.0.0.1:{free_port()}/?key=s3cret"
    with pytest.raises(TimeStampUnavailable) as caught:
        HttpTimeStampAuthority(down, roots, timeout=2).stamp(NOTE)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caplog.text


def test_the_adapter_refuses_nonsense_arguments() -> None:
    with pytest.raises(InputError, match="not http"):
        HttpTimeStampAuthority("ftp://tsa.example/", [b"x"])
    with pytest.raises(InputError, match="at least one trusted root"):
        HttpTimeStampAuthority("https://tsa.example/", [])
    with pytest.raises(InputError, match="message is empty"):
        HttpTimeStampAuthority("https://tsa.example/", [b"x"]).stamp(b"")


# --- the roots file ----------------------------------------------------------------------


def test_roots_are_read_from_a_pem_bundle(
    time_stamp_authority: RunningAuthority,  # noqa: F811
    stranger: LocalTimeStampAuthority,
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(
        b"# the roots the courts accept\n"
        + time_stamp_authority.authority.root_pem
        + stranger.root_pem
        + time_stamp_authority.authority.root_pem
    )
    assert load_time_stamp_roots(bundle) == (
        time_stamp_authority.authority.root_der,
        stranger.root_der,
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such file"),
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b"not a certificate\n", "not a PEM file of certificates"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM file"),
        (b"#" * (MAX_ROOTS_FILE_BYTES + 1), "over 1048576 bytes"),
    ],
)
def test_a_bad_roots_file_is_named(tmp_path: Path, content: bytes | None, words: str) -> None:
    path = tmp_path / "tsa-roots.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=words) as caught:
        load_time_stamp_roots(path)
    assert str(path) in str(caught.value)
