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

A listening socket a worker (`reuse_port`, SO_REUSEPORT): the kernel spreads new connections
evenly over the workers' sockets. With one socket shared, the workers race to accept, the one
busier with its requests loses, and a connection stays with the worker that took it for as long
as it is kept alive: under the weekly rush one worker held 214 of the 256 connections and the
other 42, so one queued while the other idled (README, "The weekly rush": p99 346-402 ms with a
socket a worker against 417-482 ms shared, back to back). A worker that stops closes its socket;
connections still waiting in that socket's queue move to the other workers' where the kernel's
`net.ipv4.tcp_migrate_req` is 1 (Linux 5.14 and later; production sets it, README "Production")
and are reset where it is 0. What a socket a worker gives up: the kernel deals connections by
their addresses, not by load, so a worker busy with a slow request still gets its share of new
ones (with one socket the other worker would take them).
"""

worker_class = "gthread"
threads = 32
reuse_port = True
