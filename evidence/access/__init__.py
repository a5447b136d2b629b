"""Who may do what: the policy table (pure), case and share codes with check characters
(pure), and :mod:`evidence.access.enforcement`, the one place that applies the policy to
institutions, tokens, cases and share codes stored in the database.
"""
