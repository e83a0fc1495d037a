"""audit domain: what the auditors read across the domains: the ledger check
(kariya.audit.ledger_check) and the access log of DESIGN.md section 2 (kariya.audit.access: every
look-up of a resident's data and every export writes a record), and the audit log of staff
actions (kariya.audit.actions: who did what to which record, from where, when, with what
outcome; kariya.audit.commands for the CLI). It sits above the domains it checks; the access log
itself imports only the kernel, and the call centre, which writes to it, sits above it."""
