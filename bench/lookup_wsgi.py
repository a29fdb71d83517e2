# bench/lookup_wsgi.py - the short-link lookup as a WSGI application.
#
# Served by mod_wsgi in daemon mode (bench/run.sh): GET /wsgi/<slug> -> 302
# to the URL stored for <slug>, 404 if none.  The database is the benchmark's
# SQLite file, named by "SetEnv BENCH_DB"; each daemon process opens one
# connection on its first request and keeps it.  A lock shares it between
# the process's threads (a sqlite3 connection is not safe to use from two
# at once; the GIL serialises them anyway).
import sqlite3
import threading

_lock = threading.Lock()
_db = None


def application(environ, start_response):
    global _db
    slug = environ.get("PATH_INFO", "").lstrip("/")
    with _lock:
        if _db is None:
            _db = sqlite3.connect(environ["BENCH_DB"], check_same_thread=False)
        row = _db.execute("SELECT url FROM links WHERE slug = ?",
                          (slug,)).fetchone()
    if row is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"No such short link.\n"]
    start_response("302 Found", [("Location", row[0]),
                                 ("Content-Type", "text/plain")])
    return [b""]
