"""Pure offline checks of institution certificates (trust, time and revocation data are
arguments)."""
