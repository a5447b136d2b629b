"""``zhenglian verify --bundle FILE.zip (--trust BUNDLE | --trust-from-bundle)``: check an
evidence bundle (docs/bundle.md) offline, with the same checks as
``verify FILE --receipt R --signature S --trust B`` and ``verify --custody PAGES``.

The bundle is read with :class:`~evidence.formats.evidence_bundle.EvidenceBundle` (its limits
refuse zip bombs and names that could escape a directory), unpacked into a private temporary
directory (mode 0700, files 0600, removed at the end), each member hashed as it is written
and compared with the manifest; then the commands' own functions run on the unpacked files:

1. the manifest: every member's SHA-256 and size as listed (``bundle member NAME``);
2. the document: :func:`zhenglian.commands.verify.verify_document` with the original, the
   receipt, the detached signature (if any), the bundle's current CRL and the trust;
3. the custody export, every page together: :func:`zhenglian.commands.verify.custody_checks`
   with the trust's validators and custody LogAnchor.

**Trust never comes from the bundle unless asked.** The bundle's ``trust.json`` is what the
server said about itself: whoever could alter the bundle (or run a rogue server) could put
their own validators, log key and PKI root there, and every proof in the bundle would then
check against them. So ``--trust`` (a bundle the verifier pinned from the bureau) is
required; ``--trust-from-bundle`` uses the bundle's own file, and says so in the output.

The result is ONE verification report (docs/report.md §6): the document's, with each member
against the manifest in its integrity section (a mismatch is ``altered``) and the custody
export's checks in its custody section (a broken proof ``receipt-invalid``, one by what is not
pinned ``untrusted``), printed as text or ``--json`` like any other report. Exit status as
``verify``: 0 intact, 1 any other verdict, 2 bad input (not a bundle, bad trust), 3 could not
check.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import click

from zhenglian.common import EXIT_BAD_INPUT, fail

__all__ = ["verify_bundle"]


def _unpack(
    bundle_path: Path, directory: Path
) -> tuple[dict[str, Path], list[tuple[str, bool, str]]]:
    """Members written under ``directory``; each member's check against the manifest (name,
    as listed, detail)."""
    from evidence.formats.evidence_bundle import BundleError, EvidenceBundle

    try:
        fh = bundle_path.open("rb")
    except OSError as exc:
        fail(f"cannot read {bundle_path}: {exc.strerror}", EXIT_BAD_INPUT)
    with fh:
        try:
            bundle = EvidenceBundle.from_zip(fh)
        except BundleError as exc:
            fail(f"{bundle_path}: {exc}", EXIT_BAD_INPUT)
        paths: dict[str, Path] = {}
        members: list[tuple[str, bool, str]] = []
        try:
            for member in bundle.manifest.members:
                # Names are relative, of [A-Za-z0-9._-] segments without "..": inside.
                target = directory.joinpath(*member.name.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                hasher = hashlib.sha256()
                size = 0
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(out, "wb") as sink:
                    for chunk in bundle.chunks(member.name):
                        hasher.update(chunk)
                        size += len(chunk)
                        sink.write(chunk)
                paths[member.name] = target
                ok = hasher.digest() == member.sha256 and size == member.size
                detail = (
                    f"{member.role}, {size} bytes, SHA-256 as the manifest says"
                    if ok
                    else f"{member.role}: {size} bytes with SHA-256 {hasher.hexdigest()}, the "
                    f"manifest says {member.size} bytes with {member.sha256.hex()}"
                )
                members.append((member.name, ok, detail))
        except BundleError as exc:
            fail(f"{bundle_path}: {exc}", EXIT_BAD_INPUT)
        except OSError as exc:
            fail(f"cannot unpack {bundle_path}: {exc.strerror or exc}", EXIT_BAD_INPUT)
        finally:
            bundle.close()
    return paths, members


def _custody_trust(trust_path: Path) -> tuple[str, str | None]:
    """The validators (comma-separated) and the custody LogAnchor a trust bundle pins."""
    from evidence.errors import InputError
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle

    try:
        with trust_path.open("rb") as fh:
            trust = TrustBundle.from_json_bytes(fh.read(MAX_TRUST_BUNDLE_BYTES + 1))
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad trust bundle {trust_path}: {exc}", EXIT_BAD_INPUT)
    validators = ",".join("0x" + v.address.hex() for v in trust.validators)
    if not validators:
        fail(f"the trust bundle {trust_path} names no validator", EXIT_BAD_INPUT)
    contract = "0x" + trust.custody_contract.hex() if trust.custody_contract else None
    return validators, contract


def verify_bundle(
    ctx: click.Context,
    bundle_path: Path,
    trust_path: Path | None,
    trust_from_bundle: bool,
    as_json: bool,
) -> None:
    """Check the bundle at ``bundle_path`` (see the module's docstring); exits with the worst
    status of its parts."""
    from evidence.formats.evidence_bundle import (
        CRL_NOW_NAME,
        RECEIPT_NAME,
        SIGNATURE_NAME,
        TRUST_NAME,
    )
    from evidence.verify.verification_report import (
        bundle_member_check,
        custody_check,
        with_checks,
    )
    from zhenglian.commands.verify import _print, custody_checks, verify_document

    if trust_path is None and not trust_from_bundle:
        fail(
            "--bundle needs --trust BUNDLE (pinned from the bureau): a bundle cannot vouch for "
            "itself; --trust-from-bundle uses the bundle's own trust.json anyway",
            EXIT_BAD_INPUT,
        )
    if trust_path is not None and trust_from_bundle:
        fail("give --trust or --trust-from-bundle, not both", EXIT_BAD_INPUT)
    with tempfile.TemporaryDirectory(prefix="zhenglian-bundle-") as tmp:
        directory = Path(tmp)
        directory.chmod(0o700)
        paths, members = _unpack(bundle_path, directory)
        notices: list[str] = []
        if trust_path is None:
            if TRUST_NAME not in paths:
                fail("--trust-from-bundle: the bundle has no trust.json", EXIT_BAD_INPUT)
            trust_path = paths[TRUST_NAME]
            notices.append(
                "trust taken from the bundle itself (--trust-from-bundle): the verdict holds "
                "only as far as the server that made it is trusted"
            )
        original = next(p for name, p in paths.items() if name.startswith("original/"))
        report = verify_document(
            original,
            paths[RECEIPT_NAME],
            trust_path=trust_path,
            signature_path=paths.get(SIGNATURE_NAME),
            crl_paths=[paths[CRL_NOW_NAME]] if CRL_NOW_NAME in paths else [],
        )
        extra = [bundle_member_check(name, ok, detail) for name, ok, detail in members]
        pages = tuple(path for name, path in sorted(paths.items()) if name.startswith("custody/"))
        if pages:
            validators, contract = _custody_trust(trust_path)
            checks, summary, _, _ = custody_checks(pages, validators, contract)
            extra += [custody_check(c.name, c.ok, c.detail, trust=c.trust) for c in checks]
            notices.append(f"custody: {summary}")
        else:
            notices.append("custody: the bundle holds no custody export (the server records none)")
    _print(with_checks(report, extra, notices), as_json)
