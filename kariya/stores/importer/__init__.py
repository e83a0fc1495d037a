"""Importing the city's store list from Excel (S-1, P-7; DESIGN.md section 5).

The city sends a workbook: the first sheet, headings in its first row (the canonical ones are
`columns.HEADERS`; spaces, full-width characters, brackets and a few other names are accepted,
columns in any order), one store a row. `planning.preview` reads it and says, per row, whether the
store would be created, updated (with the differences) or left unchanged, or what is wrong with it,
per column, in Japanese; it writes nothing. `applying.apply` writes it all in the caller's
transaction, or nothing at all when any row has an error: stores are matched by their code (an
upsert), so importing the same file again changes nothing. Files that are not plain .xlsx
workbooks of a sensible size are refused before any row is read (`reading.ImportRefused`).

The modules, one job each:
- `columns`: the columns, their headings and aliases, the lookups and normalisers per column;
- `reading`: checking the file and reading its first sheet (every refusal);
- `report`: what a row would do and the report (the CLI's text);
- `planning`: comparing the rows with the stores (the dry run);
- `applying`: creating and updating the stores, `--activate`;
- `workbooks`: the template and the error workbook;
- `uploads` (and its table in `models`): an upload kept in the database between the preview and
  the confirmation;
- `upload_flow`: the secretariat's screens as a service (upload, preview, confirm, cancel).
"""
