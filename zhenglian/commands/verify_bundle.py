"""``zhenglian verify --bundle FILE.zip (--trust BUNDLE | --trust-from-bundle)``: check an
evidence bundle (docs/bundle.md) offline, with the same checks as
``verify FILE --receipt R --signature S --trust B`` and ``verify --custody PAGES``.

The bundle is read with :class:`~evidence.formats.evidence_bundle.EvidenceBundle` (its limits
refuse zip bombs and names that could escape a directory), unpacked into a private temporary
directory (mode 0700, files 0600, removed at the end), each member hashed as it is written
and compared with the manifest; then the commands' own functions run on the unpacked files:

1. the manifest: every member's SHA-256 and size as listed (``bundle-member``);
2. the document: :func:`zhenglian.commands.verify.verify` with the original, the receipt,
   the detached signature (if any) and the trust — intact, altered, receipt-invalid,
   untrusted or signature-invalid;
3. the custody export, every page together: :func:`zhenglian.commands.verify._verify_custody`
   with the trust's validators and custody LogAnchor.

**Trust never comes from the bundle unless asked.** The bundle's ``trust.json`` is what the
server said about itself: whoever could alter the bundle (or run a rogue server) could put
their own validators, log key and PKI root there, and every proof in the bundle would then
check against them. So ``--trust`` (a bundle the verifier pinned from the bureau) is
required; ``--trust-from-bundle`` uses the bundle's own file, and says so in the output.

Exit status: the worst of the parts — 2 bad input (not a bundle, bad trust), 3 could not
check, 1 a check failed (a member unlike the manifest, or the document's or custody's
verdict), 0 every part intact.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Final

import click

from zhenglian.common import EXIT_BAD_INPUT, EXIT_CANNOT_CHECK, EXIT_FAILED, fail

__all__ = ["verify_bundle"]

_SEVERITY: Final = (EXIT_BAD_INPUT, EXIT_CANNOT_CHECK, EXIT_FAILED)
"""Exit statuses from worst to least bad."""


def _worst(codes: list[int]) -> int:
    for code in _SEVERITY:
        if code in codes:
            return code
    return max(codes, default=0)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else EXIT_FAILED


def _unpack(bundle_path: Path, directory: Path) -> tuple[dict[str, Path], list[str], list[str]]:
    """Members written under ``directory``; lines of the manifest check; failures."""
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
        lines: list[str] = []
        failed: list[str] = []
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
                lines.append(f"{'ok  ' if ok else 'FAIL'} bundle-member {member.name}: {detail}")
                if not ok:
                    failed.append(f"bundle-member {member.name}: {detail}")
        except BundleError as exc:
            fail(f"{bundle_path}: {exc}", EXIT_BAD_INPUT)
        except OSError as exc:
            fail(f"cannot unpack {bundle_path}: {exc.strerror or exc}", EXIT_BAD_INPUT)
        finally:
            bundle.close()
    return paths, lines, failed


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
    from zhenglian.commands.verify import _verify_custody, verify

    if as_json:
        fail("--bundle prints lines only (no --json yet)", EXIT_BAD_INPUT)
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
        paths, lines, failed = _unpack(bundle_path, directory)
        for line in lines:
            click.echo(line)
        if trust_path is None:
            if TRUST_NAME not in paths:
                fail("--trust-from-bundle: the bundle has no trust.json", EXIT_BAD_INPUT)
            trust_path = paths[TRUST_NAME]
            click.echo(
                "note: trust taken from the bundle itself (--trust-from-bundle): the verdict "
                "holds only as far as the server that made it is trusted"
            )
        original = next(p for name, p in paths.items() if name.startswith("original/"))
        codes = [EXIT_FAILED] if failed else [0]
        click.echo("document:")
        given = {
            "file": original,
            "receipt_path": paths[RECEIPT_NAME],
            "trust_path": trust_path,
            "signature_path": paths.get(SIGNATURE_NAME),
        }
        if CRL_NOW_NAME in paths and any(p.name == "crl_path" for p in verify.params):
            given["crl_path"] = paths[CRL_NOW_NAME]  # revocation, where verify judges it
        try:
            ctx.invoke(verify, **given)
            codes.append(0)
        except SystemExit as exc:
            codes.append(_exit_code(exc))
        pages = tuple(path for name, path in sorted(paths.items()) if name.startswith("custody/"))
        if pages:
            click.echo("custody:")
            validators, contract = _custody_trust(trust_path)
            try:
                _verify_custody(pages, validators, contract, False)
                codes.append(0)
            except SystemExit as exc:
                codes.append(_exit_code(exc))
        else:
            click.echo("custody: the bundle holds no custody export (the server records none)")
    for line in failed:
        click.echo(f"zhenglian: altered: {line}", err=True)
    code = _worst(codes)
    click.echo(f"bundle: {'intact' if code == 0 else 'NOT intact'} (exit {code})")
    if code:
        raise SystemExit(code)
