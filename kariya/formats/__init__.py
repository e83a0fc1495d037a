"""File formats shared by the domains (part of the kernel): the fonts the PDFs embed, and the
rules for writing what people typed into spreadsheets."""
