"""Services: what the API and the command line call to get work done — deposits, anchoring,
custody recording and export, online verification, receipt assembly, tamper-checked originals
and the log's public views. Services take storage (and the chain client) as constructor or
call arguments; they never construct it.
"""
