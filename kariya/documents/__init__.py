"""Documents the city approves before use (C-4, Q-3, S-3, I-1, D-1; DESIGN.md sections 2, 3,
5.1, 5.2): the store manual, the call-centre answer manual and the residents' terms and privacy
notice, each a series of numbered versions moved by workflows.document.

- models: Document, DocumentVersion, TermsConsent
- kinds: the kinds of document, who may read them, their shipped text (texts/*.md)
- markdown: what a body may hold, and its rendering (markdown-it-py, raw HTML off)
- placeholders: the campaign's numbers in a text ({face}, {rounds_table}, ...)
- versions: writing, submitting, approving (four eyes), publishing
- reading: a version as read (filled in, HTML, sections, search); diff: what a version changes
- consent: residents' agreement to the terms (asked again when they change)
- seed: version 1 of each, published by `kariya initdb`

It sits above stores (a new store manual is a notice to every store), residents and campaign,
and below coupons (an acquisition asks consent.satisfied) and materials (which prints the
published store manual).
"""
