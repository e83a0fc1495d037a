"""State machines (transitions library), one module per entity, and the binding that applies
them to database rows. Imports nothing from the web or from Celery."""
