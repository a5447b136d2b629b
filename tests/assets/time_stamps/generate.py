"""Generate the RFC 3161 time-stamp vectors in this folder with OpenSSL's own authority.

    python tests/assets/time_stamps/generate.py [--out DIR]

Needs ``openssl`` (``openssl ts``). Makes two test authorities in a temporary directory
(:class:`tests.support.tsa.LocalTimeStampAuthority`: a root CA each, a time-stamping
certificate it issued), stamps ``message.txt`` (a checkpoint's signed note) with
``openssl ts -query`` / ``-reply``, cuts the tokens out with ``-token_out``, corrupts some, and
writes here:

* ``root.pem``, ``other-root.pem`` — the two roots (no private key leaves the temporary
  directory);
* ``message.txt``, ``message-altered.txt`` — the note, and the note with one byte changed;
* ``<case>.tst`` — DER TimeStampTokens; ``whole-response.tsr``, a whole granted
  TimeStampResp (a token is expected: refused), ``rejection.tsr``, the reply refusing a
  request for a policy the authority does not serve;
* ``cases.json`` — one entry per case: ``token``, ``message``, ``roots`` (files), ``nonce``
  (the one to check, or null), ``wantErr``, ``reason`` (the expected
  ``TimeStampError.reason``) and for valid cases ``want``, the values as ``openssl ts -reply
  -text`` prints them (not as the code under test reads them).

Independent of ``evidence``: only OpenSSL and ``cryptography`` (for the certificates). Not
byte-for-byte reproducible — ``genTime`` is the clock's and ECDSA signatures are randomised —
so the outputs are committed and the unit tests check them as they are; the tokens stay valid
forever (certificates are checked at ``genTime``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.support.tsa import TEST_POLICY, UNSERVED_POLICY, LocalTimeStampAuthority  # noqa: E402

MESSAGE = (
    "zhenglian.example/documents\n"
    "4096\n"
    "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "\n"
    "— zhenglian.example/documents Ab3dNQrq7m+WcKqXO2gRdHG0m3c4E8wqQ0XzW4aQ0Qm6bJqV1f9E=\n"
).encode()


def reply_text(authority: LocalTimeStampAuthority, reply: bytes) -> dict[str, str]:
    """``openssl ts -reply -in R -text``, as a dict of its 'Key: value' lines."""
    with tempfile.NamedTemporaryFile(dir=authority.directory, suffix=".tsr") as file:
        file.write(reply)
        file.flush()
        text = subprocess.run(
            ["openssl", "ts", "-reply", "-in", file.name, "-text"],
            check=True,
            capture_output=True,
            timeout=10,
        ).stdout.decode()
    return {
        k.strip(): v.strip()
        for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)
    }


def want_of(authority: LocalTimeStampAuthority, reply: bytes) -> tuple[dict[str, Any], int | None]:
    """The facts openssl reads in ``reply``, and its nonce (None when it has none)."""
    fields = reply_text(authority, reply)
    when = dt.datetime.strptime(re.sub(r"\s+", " ", fields["Time stamp"]), "%b %d %H:%M:%S %Y GMT")
    tsa = fields["TSA"].removeprefix("DirName:")  # /C=CN/O=Zhenglian tests/CN=...
    rfc4514 = ",".join(reversed([part for part in tsa.split("/") if part]))
    nonce = fields.get("Nonce", "unspecified")
    want = {
        "time": when.replace(tzinfo=dt.UTC).isoformat(),
        "authority": rfc4514,
        "serial": int(fields["Serial number"], 16),
        "hash_algorithm": fields["Hash Algorithm"],
        "policy": fields["Policy OID"],
    }
    return want, None if nonce == "unspecified" else int(nonce, 16)


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def altered_gen_time(token: bytes) -> bytes:
    """``token`` with the last digit of its TSTInfo's genTime (GeneralizedTime) changed."""
    at = token.index(b"\x18\x0f")  # the only GeneralizedTime: certificates use UTCTime
    last = at + 2 + 13  # YYYYMMDDHHMMSSZ: the seconds' second digit
    digit = token[last] - 0x30
    return token[:last] + bytes([0x30 + (digit + 1) % 10]) + token[last + 1 :]


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cases: dict[str, dict[str, Any]] = {}

    def case(
        name: str,
        token: str,
        *,
        message: str = "message.txt",
        roots: tuple[str, ...] = ("root.pem",),
        nonce: int | None = None,
        reason: str | None = None,
        want: dict[str, Any] | None = None,
        comment: str,
    ) -> None:
        cases[name] = {
            "comment": comment,
            "token": token,
            "message": message,
            "roots": list(roots),
            "nonce": nonce,
            "wantErr": reason is not None,
            "reason": reason,
            "want": want,
        }

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tsa = LocalTimeStampAuthority.create(work / "tsa", name="Zhenglian vector TSA")
        other = LocalTimeStampAuthority.create(work / "other", name="Zhenglian other TSA")
        early = LocalTimeStampAuthority.create(
            work / "early",
            name="Zhenglian vector TSA (not yet valid)",
            issuer=tsa,
            valid_from=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        )
        (out / "root.pem").write_bytes(tsa.root_pem)
        (out / "other-root.pem").write_bytes(other.root_pem)
        (out / "message.txt").write_bytes(MESSAGE)
        (out / "message-altered.txt").write_bytes(flip(MESSAGE, len(MESSAGE) - 10))

        def stamp(
            name: str, authority: LocalTimeStampAuthority = tsa, **query: Any
        ) -> tuple[bytes, bytes]:
            chain = query.pop("include_chain", None)
            reply = authority.reply(authority.query(MESSAGE, **query), include_chain=chain)
            token = authority.token(reply)
            (out / name).write_bytes(token)
            return reply, token

        reply, token = stamp("valid-sha256-chain.tst")
        want, nonce = want_of(tsa, reply)
        assert nonce is not None
        case(
            "valid-sha256-chain",
            "valid-sha256-chain.tst",
            nonce=nonce,
            want=want,
            comment="SHA-256, nonce, the TSA certificate and the root in OpenSSL's order",
        )
        case(
            "valid-nonce-not-checked",
            "valid-sha256-chain.tst",
            want=want,
            comment="the same token, the caller checking no nonce",
        )
        case(
            "valid-among-roots",
            "valid-sha256-chain.tst",
            roots=("other-root.pem", "root.pem"),
            nonce=nonce,
            want=want,
            comment="the same token, its root second of two",
        )
        case(
            "wrong-nonce",
            "valid-sha256-chain.tst",
            nonce=nonce + 1,
            reason="nonce",
            comment="the same token, checked against another request's nonce",
        )
        case(
            "other-root",
            "valid-sha256-chain.tst",
            roots=("other-root.pem",),
            nonce=nonce,
            reason="untrusted",
            comment="the same token, only another CA trusted",
        )
        case(
            "message-altered",
            "valid-sha256-chain.tst",
            message="message-altered.txt",
            nonce=nonce,
            reason="not-over-message",
            comment="one byte of the note changed",
        )

        reply, _ = stamp("valid-sha512.tst", digest="sha512", nonce=False, include_chain=False)
        want, _ = want_of(tsa, reply)
        case(
            "valid-sha512",
            "valid-sha512.tst",
            want=want,
            comment="SHA-512, no nonce, only the TSA certificate",
        )

        stamp("sha384.tst", digest="sha384")
        case("sha384", "sha384.tst", reason="hash-algorithm", comment="imprint by SHA-384")
        stamp("sha1.tst", digest="sha1")
        case("sha1", "sha1.tst", reason="hash-algorithm", comment="imprint by SHA-1")
        stamp("no-certificate.tst", certificate=False)
        case(
            "no-certificate",
            "no-certificate.tst",
            reason="certificate",
            comment="requested without certReq: the token carries no certificate",
        )
        stamp("not-yet-valid.tst", early)
        case(
            "not-yet-valid",
            "not-yet-valid.tst",
            reason="untrusted",
            comment="the TSA certificate is valid only from 30 days after genTime",
        )
        stamp("other-authority.tst", other)
        case(
            "other-authority",
            "other-authority.tst",
            reason="untrusted",
            comment="a valid token of another authority, whose root is not trusted",
        )

        (out / "signature-bit-flipped.tst").write_bytes(flip(token, len(token) - 1))
        case(
            "signature-bit-flipped",
            "signature-bit-flipped.tst",
            reason="signature",
            comment="the last bit of the ECDSA signature flipped",
        )
        (out / "gen-time-altered.tst").write_bytes(altered_gen_time(token))
        case(
            "gen-time-altered",
            "gen-time-altered.tst",
            reason="signature",
            comment="genTime moved by a second inside the signed TSTInfo",
        )
        (out / "truncated.tst").write_bytes(token[:-16])
        case("truncated", "truncated.tst", reason="malformed", comment="the last 16 bytes cut")
        (out / "trailing-byte.tst").write_bytes(token + b"\x00")
        case("trailing-byte", "trailing-byte.tst", reason="malformed", comment="a byte appended")
        rejection = tsa.reply(tsa.query(MESSAGE, policy=UNSERVED_POLICY))
        (out / "rejection.tsr").write_bytes(rejection)
        whole = tsa.reply(tsa.query(MESSAGE))
        (out / "whole-response.tsr").write_bytes(whole)
        case(
            "whole-response",
            "whole-response.tsr",
            reason="malformed",
            comment="a whole TimeStampResp where the token is expected",
        )

    (out / "cases.json").write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases in {out} (policy {TEST_POLICY})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
