"""gunicorn's settings for serving the app: DESIGN §5 serves it as `gunicorn --paste INI -w 2 -b
HOST:PORT` from the project root, and gunicorn reads this file from there (the README's
production section does the same). Before this file, that command ran gunicorn's default sync
workers, though the README and the fault tests described gthread workers as production's.

Threads, not sync workers: a sync worker serves one connection at a time from start to end, so
a resident on a slow mobile connection holds one of the two workers for as long as the phone
takes (gunicorn's own advice: sync workers only behind a buffering proxy). Threads also give the
weekly rush's group commit (kariya/coupons/group_commit.py) many acquisitions in flight a
process to write together. 32 threads a worker is what the rush is measured with (README, "The
weekly rush": on its 2 shared cores sync workers did as well, fewer threads no better). The
connection pool (`sqlalchemy.pool_size`) stays the admission control: threads beyond it wait
for a connection; the committer has its own.
"""

worker_class = "gthread"
threads = 32
