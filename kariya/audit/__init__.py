"""audit domain: what the auditors read across the domains: the ledger check
(kariya.audit.ledger_check) and the access log of DESIGN.md section 2 (kariya.audit.access: every
look-up of a resident's data and every export writes a record). It sits above the domains it
checks; the access log itself imports only the kernel, and the call centre, which writes to it,
sits above it."""
