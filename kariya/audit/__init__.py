"""audit domain: what the auditors read across the domains: the access log of DESIGN.md
section 2 (kariya.audit.access; every look-up of a resident and every export writes one
record). It imports only the kernel, so any domain that shows personal data can write to it."""
