"""audit domain: the auditors' checks across the domains (the ledger check; later the access
log of DESIGN.md section 2). It sits above the domains it checks and nothing imports it but the
CLI, the views and the city's reports (kariya.reports, which shows the ledger check's figures)."""
