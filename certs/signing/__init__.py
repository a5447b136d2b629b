"""Signing documents on the institution's side (pyHanko): detached CAdES, embedded PAdES."""
