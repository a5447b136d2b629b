"""Offline verification: pure functions that take already-fetched data and the verifier's
trust (validators, contract) as arguments, and return a typed result or raise.

Nothing here fetches: the command line and the API fetch receipts, exports and blocks, then
call these. Pure like :mod:`evidence.formats`.
"""
